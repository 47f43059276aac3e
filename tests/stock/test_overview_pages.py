"""The HTML front: the overview, the form, its messages and escaping."""

import html
import re

import pytest
from helpers import pages_from


def collection_rows(page: str) -> list[tuple[str, str, str]]:
    """(collection, members, total) of each row of the collections table."""
    rows = re.findall(
        r'<th scope="row" class="name"><a href="([^"]+)">(.*?)</a></th>\s*'
        r'<td class="quantity">(\d+)</td>\s*<td class="quantity">(\d+)</td>',
        page,
    )
    return [(html.unescape(name), count, total) for _, name, count, total in rows]


def test_index_lists_every_collection_with_its_totals(client, seed):
    seed(fruit={"apple": 30, "pear": 0}, empty={}, veg={"leek": 2**62, "kale": 2**62})
    response = client.get("/")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    # The total of two huge quantities passes 64 bits and is still exact.
    assert collection_rows(page) == [
        ("fruit", "2", "30"),
        ("empty", "0", "0"),
        ("veg", "2", str(2**63)),
    ]
    assert '<a href="/collections/fruit">fruit</a>' in page
    assert 'href="/add-collection"' in page


def test_index_lists_collections_a_page_at_a_time(client, seed):
    seed(**{f"c{number:02}": {"m": number} for number in range(7)})
    seen = [
        name
        for page in pages_from(client, "/?limit=3", "More collections")
        for name, _, _ in collection_rows(page)
    ]
    assert seen == [f"c{number:02}" for number in range(7)]


def test_index_with_no_stock_says_so(client):
    assert "No stock yet." in client.get("/").get_data(as_text=True)


def test_names_are_html_escaped(client, seed):
    seed(**{"<script>x": {'"&<b>': 1}})
    for path in ("/", "/collections/%3Cscript%3Ex"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>" not in page
        assert "&lt;script&gt;x" in page
    assert "&#34;&amp;&lt;b&gt;" in page


def test_form_page_shows_the_form_and_the_collections(client, seed):
    seed(fruit={"apple": 30})
    response = client.get("/add-collection")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for field in ("collection", "member", "qty"):
        assert f'name="{field}"' in page
    assert collection_rows(page) == [("fruit", "1", "30")]


def test_form_creates_a_collection_and_redirects(client, stored, submit):
    form = {"collection": "fruit", "member": "apple", "qty": "30"}
    response = submit("/add-collection", data=form)
    assert response.status_code == 303
    assert response.headers["Location"] == "/add-collection"
    assert stored() == {"fruit": {"apple": 30}}
    page = client.get("/add-collection").get_data(as_text=True)
    assert "Collection created" in page
    # The message is shown once.
    assert "Collection created" not in client.get("/add-collection").get_data(
        as_text=True
    )


def test_form_for_an_existing_collection_says_so_and_changes_nothing(
    client, seed, stored, submit
):
    seed(fruit={"apple": 30})
    form = {"collection": "fruit", "member": "kiwi", "qty": "1"}
    response = submit("/add-collection", data=form, follow_redirects=True)
    assert response.status_code == 200
    assert "Collection already exists" in response.get_data(as_text=True)
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"member": "a", "qty": "1"}, "collection", "Collection is required"),
        ({"collection": "", "member": "a", "qty": "1"}, "collection", "is required"),
        ({"collection": "f", "qty": "1"}, "member", "Member is required"),
        ({"collection": " ", "member": "a", "qty": "1"}, "collection", "whitespace"),
        ({"collection": "a/b", "member": "a", "qty": "1"}, "collection", "&#39;/&#39;"),
        ({"collection": "x" * 101, "member": "a", "qty": "1"}, "collection", "100"),
        ({"collection": "f", "member": "a\x01", "qty": "1"}, "member", "control"),
        ({"collection": "f", "member": "a"}, "qty", "Quantity must be a whole number"),
        ({"collection": "f", "member": "a", "qty": "-1"}, "qty", "whole number"),
        ({"collection": "f", "member": "a", "qty": "1.5"}, "qty", "whole number"),
        ({"collection": "f", "member": "a", "qty": "abc"}, "qty", "whole number"),
        ({"collection": "f", "member": "a", "qty": "١٢"}, "qty", "whole number"),
        (
            {"collection": "f", "member": "a", "qty": "9223372036854775808"},
            "qty",
            "whole number",
        ),
        ({"collection": "f", "member": "a", "qty": "9" * 5000}, "qty", "whole number"),
    ],
)
def test_invalid_form_field_is_shown_beside_it_and_stores_nothing(
    client, stored, form, field, message, submit
):
    response = submit("/add-collection", data=form)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    start = page.index(f'<p class="error" id="{field}-error">')
    assert message in page[start : page.index("</p>", start)]
    assert stored() == {}


@pytest.mark.parametrize(
    ("qty", "stored_qty"),
    [("0", 0), (" 7 ", 7), ("007", 7), ("9223372036854775807", 2**63 - 1)],
)
def test_form_accepts_decimal_quantities(client, stored, qty, stored_qty, submit):
    form = {"collection": "fruit", "member": "apple", "qty": qty}
    assert submit("/add-collection", data=form).status_code == 303
    assert stored() == {"fruit": {"apple": stored_qty}}


def test_invalid_form_keeps_what_was_typed_escaped(client, submit):
    form = {"collection": '"><b>x', "member": "", "qty": "1"}
    page = submit("/add-collection", data=form).get_data(as_text=True)
    assert 'value="&#34;&gt;&lt;b&gt;x"' in page


# --- The search ----------------------------------------------------------------------

_MATCH = re.compile(
    r'<tr>\s*<td><a href="[^"]+">(.*?)</a></td>\s*<td><a href="([^"]+)">(.*?)</a></td>'
    r'\s*<td class="quantity">(\d+)</td>',
    re.S,
)


def matches(page: str) -> list[tuple[str, str, int]]:
    """(collection, member, quantity) of each member the search found."""
    return [
        (html.unescape(collection), html.unescape(member), int(quantity))
        for collection, _, member, quantity in _MATCH.findall(page)
    ]


def matching_collections(page: str) -> list[str]:
    found = re.search(r'<ul class="matches">(.*?)</ul>', page, re.S)
    if found is None:
        return []
    return [html.unescape(name) for name in re.findall(r">([^<]+)</a>", found[1])]


def test_search_finds_members_and_collections_by_part_of_their_name(client, seed):
    seed(
        fruit={"Apple": 30, "pear": 2, "pineapple": 1},
        apparel={"hat": 4},
        veg={"leek": 9},
    )
    response = client.get("/?q=app")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert matching_collections(page) == ["apparel"]
    # Ignoring case; in creation order; a matching collection brings its members.
    assert matches(page) == [
        ("fruit", "Apple", 30),
        ("fruit", "pineapple", 1),
        ("apparel", "hat", 4),
    ]
    # A found member links to its collection's page, filtered to it.
    assert '<a href="/collections/fruit/members/Apple">Apple</a>' in page


@pytest.mark.parametrize(
    ("query", "found"),
    [("%", ["50%"]), ("_", ["a_b"]), ("\\", ["back\\slash"]), ("zzz", [])],
)
def test_search_takes_wildcards_as_themselves(client, seed, query, found):
    seed(shelf={"50%": 1, "a_b": 2, "axb": 3, "back\\slash": 4})
    page = client.get("/", query_string={"q": query}).get_data(as_text=True)
    assert [member for _, member, _ in matches(page)] == found
    if not found:
        assert "No member matches." in page


def test_search_results_come_a_page_at_a_time_keeping_the_query(client, seed):
    seed(bin={f"bolt{number:02}": number for number in range(7)}, other={"nut": 1})
    seen = [
        member
        for page in pages_from(client, "/?q=BOLT&limit=3", "More matches")
        for _, member, _ in matches(page)
    ]
    assert seen == [f"bolt{number:02}" for number in range(7)]


def test_the_search_text_is_escaped_and_kept_in_the_box(client, seed):
    seed(fruit={"apple": 1})
    page = client.get("/", query_string={"q": '<b>"x'}).get_data(as_text=True)
    assert "<b>" not in page
    assert 'value="&lt;b&gt;&#34;x"' in page


def test_a_search_text_too_long_is_refused_with_a_page(client):
    response = client.get("/?q=" + "x" * 101)
    assert response.status_code == 400
    assert "q: must be at most 100 characters" in response.get_data(as_text=True)


def test_a_blank_search_shows_the_overview(client, seed):
    seed(fruit={"apple": 1})
    page = client.get("/?q=%20%20").get_data(as_text=True)
    assert collection_rows(page) == [("fruit", "1", "1")]


def test_a_limited_token_searches_its_own_collections_only(
    make_app, make_user, make_token, seed
):
    seed(fruit={"apple": 1}, apparel={"apple watch": 2})
    make_user("alice", "clerk")
    token = make_token("alice", "read", collections=["fruit"])
    browser = make_app(ANONYMOUS_ACCESS="none").test_client()
    headers = {"Authorization": f"Bearer {token}"}
    page = browser.get("/?q=app", headers=headers).get_data(as_text=True)
    assert matches(page) == [("fruit", "apple", 1)]
    assert matching_collections(page) == []
    overview = browser.get("/", headers=headers).get_data(as_text=True)
    assert collection_rows(overview) == [("fruit", "1", "1")]


def test_the_overview_and_a_search_cost_the_same_statements_at_any_size(
    client, seed, count_statements
):
    counts = {}
    for size in (3, 300):
        seed(**{f"c{size}-{number}": {"m": number} for number in range(size)})
        with count_statements() as overview:
            assert client.get("/").status_code == 200
        with count_statements() as search:
            assert client.get("/?q=m").status_code == 200
        counts[size] = (len(overview), len(search))
    assert counts[3] == counts[300]
