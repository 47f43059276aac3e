"""The HTML front: the overview, the form, its messages and escaping."""

import html
import re

import pytest
from helpers import pages_from, problem_page

from stockapp.stock.listings import SEARCH_PAGES

_ROW = re.compile(
    r'<th scope="row" class="name"><a href="([^"]+)">(.*?)</a></th>\s*'
    r'<td class="quantity">([\d,]+)</td>\s*<td class="quantity">([\d,]+)</td>\s*'
    r'<td class="quantity">(.*?)</td>',
    re.S,
)
_HIDDEN = re.compile(r'<span class="visually-hidden">.*?</span>')


def overview_rows(page: str) -> list[tuple[str, str, str, str]]:
    """(collection, members, total, low) of each row of the collections table,
    as a sighted reader sees them."""
    return [
        (
            html.unescape(name),
            count,
            total,
            html.unescape(re.sub(r"<[^>]+>", "", _HIDDEN.sub("", low))),
        )
        for _, name, count, total, low in _ROW.findall(page)
    ]


def collection_rows(page: str) -> list[tuple[str, str, str]]:
    """(collection, members, total) of each row of the collections table."""
    return [row[:3] for row in overview_rows(page)]


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
        ("veg", "2", "9,223,372,036,854,775,808"),
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
    # It names the collection and links to it.
    created = (
        '<p class="flash success" role="status">'
        'Collection <a href="/collections/fruit">fruit</a> created</p>'
    )
    assert created in page
    # The message is shown once.
    assert "created" not in client.get("/add-collection").get_data(as_text=True)


def test_form_for_an_existing_collection_says_so_and_changes_nothing(
    client, seed, stored, submit
):
    seed(fruit={"apple": 30})
    form = {"collection": "fruit", "member": "kiwi", "qty": "1"}
    response = submit("/add-collection", data=form, follow_redirects=True)
    assert response.status_code == 200
    exists = (
        '<p class="flash error" role="status">'
        'Collection <a href="/collections/fruit">fruit</a> already exists</p>'
    )
    assert exists in response.get_data(as_text=True)
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize("exists", [False, True])
def test_the_flash_escapes_the_collection_it_names(
    client, seed, stored, submit, exists
):
    name = '<b onclick="x">&'
    if exists:
        seed(**{name: {"pear": 1}})
    form = {"collection": name, "member": "apple", "qty": "1"}
    response = submit("/add-collection", data=form, follow_redirects=True)
    assert response.status_code == 200
    what = "already exists" if exists else "created"
    flash = (
        'Collection <a href="/collections/%3Cb%20onclick=%22x%22%3E&amp;">'
        f"&lt;b onclick=&#34;x&#34;&gt;&amp;</a> {what}</p>"
    )
    page = response.get_data(as_text=True)
    assert flash in page
    assert "<b onclick" not in page
    assert stored() == {name: {"pear" if exists else "apple": 1}}


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


# --- The overview's sorts and its low-stock counts -----------------------------------


# A link of the sorts: (href, its aria-current if any, its text).
SORT_LINK = r'<a href="([^"]+)"( aria-current="true")?>([^<]+)</a>'


def overview_names(client, url: str) -> list[str]:
    """The collections of every page of the overview from ``url`` on, in order."""
    return [
        name
        for page in pages_from(client, url, "More collections")
        for name, *_ in overview_rows(page)
    ]


def seed_sizes(seed):
    """Collections made in this order, of these many members (two of size 2)."""
    sizes = {"kiwi": 2, "apple": 0, "fig": 5, "date": 2, "banana": 1, "cherry": 3}
    seed(**{name: {f"m{i}": i for i in range(size)} for name, size in sizes.items()})


@pytest.mark.parametrize("limit", [1, 2, 4, 50])
@pytest.mark.parametrize(
    ("query", "order"),
    [
        ("", ["kiwi", "apple", "fig", "date", "banana", "cherry"]),
        ("sort=created&", ["kiwi", "apple", "fig", "date", "banana", "cherry"]),
        ("sort=name&", ["apple", "banana", "cherry", "date", "fig", "kiwi"]),
        # Most members first; equal sizes oldest first.
        ("sort=members&", ["fig", "cherry", "kiwi", "date", "banana", "apple"]),
    ],
)
def test_the_overview_pages_through_each_sort_without_gap_or_repeat(
    client, seed, query, order, limit
):
    seed_sizes(seed)
    assert overview_names(client, f"/?{query}limit={limit}") == order


def test_a_sorts_next_page_keeps_the_sort_and_the_limit(client, seed):
    seed_sizes(seed)
    page = client.get("/?sort=members&limit=2").get_data(as_text=True)
    more = re.search(r'<a href="([^"]+)" rel="next">More collections</a>', page)
    assert more is not None
    assert html.unescape(more[1]).startswith("/?sort=members&limit=2&cursor=")
    # The default sort is not spelled out.
    page = client.get("/?limit=2").get_data(as_text=True)
    more = re.search(r'<a href="([^"]+)" rel="next">More collections</a>', page)
    assert more is not None
    assert html.unescape(more[1]).startswith("/?limit=2&cursor=")


def test_the_overview_links_each_sort_and_marks_the_current_one(client, seed):
    seed(fruit={"apple": 1})
    page = client.get("/?sort=name").get_data(as_text=True)
    assert "<summary>Name A–Z</summary>" in page
    sorts = re.search(r'<nav class="sorts"[^>]*>(.*?)</nav>', page, re.S)
    assert sorts is not None
    links = re.findall(
        r'<a href="([^"]+)"( aria-current="true")?>([^<]+)</a>', sorts[1]
    )
    assert links == [
        ("/", "", "Oldest first"),
        ("/?sort=name", ' aria-current="true"', "Name A–Z"),
        ("/?sort=members", "", "Most members first"),
    ]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("sort=size", "sort: must be one of created, name, members"),
        ("sort=", "sort: must be one of created, name, members"),
        ("cursor=nope", "cursor: is not a cursor this page gave out"),
        ("cursor=", "cursor: is not a cursor this page gave out"),
        ("limit=0", "limit: must be a whole number from 1 to 500"),
    ],
)
def test_a_bad_sort_or_cursor_is_refused_with_a_page(client, seed, query, detail):
    seed(fruit={"apple": 1})
    response = client.get(f"/?{query}")
    assert problem_page(response) == {
        "status": 400,
        "error": "Invalid input",
        "detail": detail,
    }


def test_a_cursor_of_another_sort_is_refused(client, seed):
    seed_sizes(seed)
    page = client.get("/?sort=name&limit=2").get_data(as_text=True)
    more = re.search(r'<a href="([^"]+)" rel="next">More collections</a>', page)
    assert more is not None
    cursor = html.unescape(more[1]).rpartition("cursor=")[2]
    for sort in ("created", "members"):
        response = client.get(f"/?sort={sort}&cursor={cursor}")
        assert response.status_code == 400
        assert problem_page(response)["detail"] == (
            "cursor: is not a cursor this page gave out"
        )
    # The search's cursors are not the overview's either.
    response = client.get("/?cursor=" + SEARCH_PAGES.encode(1))
    assert response.status_code == 400


def test_the_overview_counts_each_collections_low_members_and_links_them(client, seed):
    seed(fruit={"apple": 1, "pear": 9, "fig": 0}, veg={"leek": 5}, empty={})
    for path, level in [("fruit/apple", 2), ("fruit/fig", 0), ("veg/leek", 4)]:
        response = client.put(f"/stock/{path}/reorder-level", json=level)
        assert response.status_code == 200
    page = client.get("/").get_data(as_text=True)
    assert overview_rows(page) == [
        ("fruit", "3", "10", "2"),
        ("veg", "1", "5", "—"),
        ("empty", "0", "0", "—"),
    ]
    assert (
        '<td class="quantity"><a href="/low-stock?collection=fruit">2'
        '<span class="visually-hidden"> low in fruit</span></a></td>'
    ) in page
    assert "/low-stock?collection=veg" not in page
    # What is stored agrees.
    low = client.get("/low-stock").get_json()["low_stock"]
    assert sorted(m["member"] for m in low) == ["apple", "fig"]


def test_the_overview_writes_thousands_with_separators(client, seed):
    seed(big={f"m{i}": 1_000_000 for i in range(1234)})
    client.put("/stock/big/m0/reorder-level", json=1_000_000)
    page = client.get("/").get_data(as_text=True)
    assert overview_rows(page) == [("big", "1,234", "1,234,000,000", "1")]


def test_a_limited_token_sees_only_its_collections_rows_and_counts(
    make_app, make_user, make_token, seed, client
):
    seed(fruit={"apple": 0}, veg={"leek": 0, "kale": 0}, herbs={"dill": 0})
    for path in ("fruit/apple", "veg/leek", "veg/kale", "herbs/dill"):
        client.put(f"/stock/{path}/reorder-level", json=1)
    make_user("alice", "clerk")
    token = make_token("alice", "read", collections=["veg", "herbs"])
    browser = make_app(ANONYMOUS_ACCESS="none").test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for query, names in [
        ("", ["veg", "herbs"]),
        ("?sort=name", ["herbs", "veg"]),
        ("?sort=members", ["veg", "herbs"]),
    ]:
        page = browser.get(f"/{query}", headers=headers).get_data(as_text=True)
        rows = {name: low for name, _, _, low in overview_rows(page)}
        assert list(rows) == names
        assert rows == {"veg": "2", "herbs": "1"}
        assert "Low stock: 3</a>" in page


@pytest.mark.parametrize("sort", ["created", "name", "members"])
def test_each_sort_costs_the_same_statements_at_any_size(
    client, seed, count_statements, sort
):
    counts = {}
    for size in (3, 300):
        seed(**{f"c{size}-{number}": {"m": number} for number in range(size)})
        with count_statements() as overview:
            assert client.get(f"/?sort={sort}&limit=2").status_code == 200
        counts[size] = len(overview)
    assert counts[3] == counts[300]
