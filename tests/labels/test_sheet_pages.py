"""GET /collections/<c>/labels: labels laid out on a sheet, for a whole
collection or the members named, within MAX_LABELS; and the stylesheet that
prints each sheet's pages at their size."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from helpers import problem_page

from stockapp.labels.sheets import MAX_LABELS, SHEETS

SVG = "{http://www.w3.org/2000/svg}"
_PAGE = re.compile(r'<figure class="sheet-page">\s*(<svg .*?)\s*<figcaption>', re.S)


def printed_pages(html: str) -> list[ET.Element]:
    """The sheet's pages as drawn in the page, each an <svg>."""
    return [ET.fromstring(svg) for svg in _PAGE.findall(html)]


def labels_on(page: ET.Element) -> list[tuple[str, str, str]]:
    """(name, x, y) of each label on a page, as its <title> names it."""
    return [
        (label.find(f"{SVG}title").text.split(" (")[0], label.get("x"), label.get("y"))
        for label in page.findall(f"{SVG}svg")
    ]


def sheet_of(client, url: str) -> list[list[tuple[str, str, str]]]:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [labels_on(page) for page in printed_pages(response.get_data(as_text=True))]


@pytest.fixture
def thirty(seed):
    """fruit with 30 members, item-01 to item-30."""
    seed(fruit={f"item-{n:02}": n for n in range(30, 0, -1)})
    return [f"item-{n:02}" for n in range(1, 31)]


def test_a_whole_collection_fills_a4_sheets_in_name_order(client, thirty):
    pages = sheet_of(client, "/collections/fruit/labels?sheet=a4-3x8")
    assert [len(page) for page in pages] == [24, 6]
    assert [name for page in pages for name, _, _ in page] == thirty
    # Three across of 70 mm, eight down of 37 mm, from 0.5 mm below the top.
    assert pages[0][:4] == [
        ("item-01", "0", "0.5"),
        ("item-02", "70", "0.5"),
        ("item-03", "140", "0.5"),
        ("item-04", "0", "37.5"),
    ]
    assert pages[0][-1] == ("item-24", "140", "259.5")


def test_the_a4_sheet_is_the_default(client, thirty):
    default = client.get("/collections/fruit/labels").get_data(as_text=True)
    page = printed_pages(default)[0]
    assert (page.get("width"), page.get("height")) == ("210mm", "297mm")
    assert 'href="/labels/sheets/a4-3x8.css"' in default


def test_a_letter_sheet_holds_thirty_avery_5160_labels(client, thirty):
    response = client.get("/collections/fruit/labels?sheet=letter-3x10")
    (page,) = printed_pages(response.get_data(as_text=True))
    assert (page.get("width"), page.get("height")) == ("215.9mm", "279.4mm")
    placed = labels_on(page)
    assert len(placed) == 30
    # 3/16 in from the left, 1/2 in from the top, 2.75 in apart, 1 in down.
    assert [(x, y) for _, x, y in placed[:4]] == [
        ("4.7625", "12.7"),
        ("74.6125", "12.7"),
        ("144.4625", "12.7"),
        ("4.7625", "38.1"),
    ]
    label = page.find(f"{SVG}svg")
    assert (label.get("width"), label.get("height")) == ("66.675", "25.4")


def test_a_roll_prints_one_label_a_page(client, thirty):
    pages = sheet_of(client, "/collections/fruit/labels?sheet=roll-62x29")
    assert pages == [[(name, "0", "0")] for name in thirty]


def test_a_selection_prints_those_named_in_their_order_twice_if_named_twice(
    client, thirty
):
    url = "/collections/fruit/labels?member=item-07&member=item-02&member=item-07"
    (page,) = sheet_of(client, url)
    assert [name for name, _, _ in page] == ["item-07", "item-02", "item-07"]
    shown = client.get(url).get_data(as_text=True)
    # Choosing another sheet keeps the selection.
    assert shown.count('<input type="hidden" name="member" value="item-07">') == 2


def test_each_label_carries_its_code_and_its_page(client, thirty):
    client.put("/stock/fruit/item-02/code", json="4006381333931")
    html = client.get("/collections/fruit/labels?member=item-02&member=item-03")
    (page,) = printed_pages(html.get_data(as_text=True))
    first, second = page.findall(f"{SVG}svg")
    assert first.find(f"{SVG}title").text == "item-02 (fruit), code 4006381333931"
    assert second.find(f"{SVG}title").text == "item-03 (fruit)"


def test_names_with_markup_are_escaped_on_the_sheet(client, seed):
    seed(**{"a<&>": {"<b>&\"'": 1}})
    response = client.get("/collections/a<&>/labels")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<b>" not in html
    (page,) = printed_pages(html)
    assert labels_on(page) == [("<b>&\"'", "0", "0.5")]


def test_an_empty_collection_has_no_label_to_print(client, seed):
    seed(fruit={})
    response = client.get("/collections/fruit/labels")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "fruit has no members: there is no label to print." in html
    assert printed_pages(html) == []
    assert 'id="print-labels"' not in html


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("/collections/veg/labels", 'There is no collection "veg".'),
        ("/collections/veg/labels?member=leek", 'There is no collection "veg".'),
        (
            "/collections/fruit/labels?member=item-01&member=pear&member=fig",
            'There is no member "pear" in collection "fruit".',
        ),
    ],
)
def test_what_is_not_there_is_404_naming_it(client, thirty, url, detail):
    response = client.get(url)
    assert problem_page(response) == {
        "status": 404,
        "error": "Not found",
        "detail": detail,
    }


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("sheet=a5", "sheet: must be one of a4-3x8, letter-3x10, roll-62x29"),
        ("sheet=", "sheet: must be one of a4-3x8, letter-3x10, roll-62x29"),
        ("member=", "member '': must be 1 to 100 characters long"),
        (
            "member=..",
            "member '..': must not be . or .. (clients drop such segments from a URL)",
        ),
    ],
)
def test_a_bad_sheet_or_member_name_is_400(client, thirty, query, detail):
    response = client.get(f"/collections/fruit/labels?{query}")
    assert problem_page(response) == {
        "status": 400,
        "error": "Invalid input",
        "detail": detail,
    }


def test_more_labels_than_the_limit_named_are_refused(client, thirty):
    query = "&".join(["member=item-01"] * (MAX_LABELS + 1))
    response = client.get(f"/collections/fruit/labels?{query}")
    assert problem_page(response) == {
        "status": 400,
        "error": "Too many labels",
        "detail": "A sheet lays out at most 1,000 labels, and 1,001 are named:"
        " choose the members to print (member=…), a few hundred at a time.",
    }


def test_the_limit_of_labels_is_allowed(client, thirty):
    query = "&".join(["member=item-01"] * MAX_LABELS + ["sheet=roll-62x29"])
    response = client.get(f"/collections/fruit/labels?{query}")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count('<figure class="sheet-page">') == (
        MAX_LABELS
    )


def test_a_collection_larger_than_the_limit_is_refused_whole(client, seed):
    seed(big={f"m{n}": 1 for n in range(MAX_LABELS + 1)})
    response = client.get("/collections/big/labels")
    assert problem_page(response) == {
        "status": 400,
        "error": "Too many labels",
        "detail": "A sheet lays out at most 1,000 labels, and big has more:"
        " choose the members to print (member=…), a few hundred at a time.",
    }
    # Named, a part of it prints.
    assert client.get("/collections/big/labels?member=m1000").status_code == 200


@pytest.mark.parametrize(
    ("sheet", "size"),
    [
        ("a4-3x8", "210mm 297mm"),
        ("letter-3x10", "215.9mm 279.4mm"),
        ("roll-62x29", "62mm 29mm"),
    ],
)
def test_each_sheet_prints_at_its_page_size_without_margins(client, sheet, size):
    assert sheet in SHEETS
    response = client.get(f"/labels/sheets/{sheet}.css")
    assert response.status_code == 200
    assert response.content_type == "text/css; charset=utf-8"
    assert response.get_data(as_text=True) == f"@page {{ size: {size}; margin: 0; }}\n"


def test_an_unknown_sheet_has_no_stylesheet(client):
    response = client.get("/labels/sheets/a5.css")
    assert response.status_code == 404
    assert response.get_json()["detail"] == 'There is no sheet "a5".'


def test_the_collection_and_member_pages_link_to_their_labels(client, thirty):
    collection = client.get("/collections/fruit").get_data(as_text=True)
    assert (
        '<a href="/collections/fruit/labels">Print labels of fruit…</a>' in collection
    )
    member = client.get("/collections/fruit/members/item-01").get_data(as_text=True)
    assert (
        '<a href="/collections/fruit/labels?member=item-01">Print its label…</a>'
        in member
    )
