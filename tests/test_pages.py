"""The HTML front: the overview, the form, its messages and escaping."""

import html
import re

import pytest


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
    seen = []
    url = "/?limit=3"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += [name for name, _, _ in collection_rows(page)]
        more = re.search(r'<a href="([^"]+)" rel="next">More collections</a>', page)
        url = html.unescape(more.group(1)) if more else None
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
