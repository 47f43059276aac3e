"""GET /stock/<c>/<m>/label.svg: the label's barcode and QR code read back as
the member's code and page, its text escaped, and the same 404s as the
member's other routes."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
import resvg_py
import zxingcpp
from helpers import problem_body
from PIL import Image

from stockapp.labels.drawing import label, label_document
from stockapp.labels.sheets import SHEETS

LABEL = "/stock/fruit/apple/label.svg"
PAGE_URL = "http://localhost/collections/fruit/members/apple"
SVG = "{http://www.w3.org/2000/svg}"
# A laser printer's resolution, to render the label's millimetres to pixels at.
DPI = 600.0


def decoded(svg: str, dpi: float = DPI, **options) -> list[tuple[str, str]]:
    """What a scanner reads on ``svg``: (format, text) of each code, rendered
    to pixels as a printer would."""
    png = resvg_py.svg_to_bytes(svg_string=svg, dpi=dpi, background="white")
    image = Image.open(io.BytesIO(bytes(png)))
    return sorted(
        (str(found.format), found.text)
        for found in zxingcpp.read_barcodes(image, **options)
    )


@pytest.fixture
def labelled(client, seed):
    """Give apple of fruit ``code`` and fetch its label."""

    def label(code: str | None):
        seed(fruit={"apple": 3})
        if code is not None:
            assert client.put("/stock/fruit/apple/code", json=code).status_code == 200
        response = client.get(LABEL)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.content_type == "image/svg+xml; charset=utf-8"
        return response.get_data(as_text=True)

    return label


@pytest.mark.parametrize(
    ("code", "drawn_as"),
    [
        ("4006381333931", "EAN-13"),
        ("96385074", "EAN-8"),
        ("SHELF-A7", "Code 128"),
        # Every kind of character a code may have that markup or a URL minds.
        ("A&<b>\"'%{~}#?", "Code 128"),
        # A long text code, its bars narrow on 31 mm.
        ("x" * 24, "Code 128"),
    ],
)
def test_the_barcode_reads_back_as_the_code_and_the_qr_as_the_page(
    labelled, code, drawn_as
):
    svg = labelled(code)
    assert decoded(svg) == sorted([(drawn_as, code), ("QR Code", PAGE_URL)])


def test_a_upc_a_is_drawn_as_one(labelled):
    # A UPC-A is an EAN-13 whose first digit is 0: scanners report the 13.
    svg = labelled("036000291452")
    found = decoded(svg, formats=zxingcpp.BarcodeFormat.UPCA)
    assert found == [("UPC-A", "0036000291452")]


def test_a_member_without_a_code_has_the_qr_code_and_its_name_only(labelled):
    svg = labelled(None)
    assert decoded(svg) == [("QR Code", PAGE_URL)]
    texts = [text.text for text in ET.fromstring(svg).iter(f"{SVG}text")]
    assert texts == ["apple", "fruit"]


def test_the_label_has_a_size_a_renderer_can_print(labelled):
    root = ET.fromstring(labelled("SHELF-A7"))
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
        "70mm",
        "37mm",
        "0 0 70 37",
    )
    # Nothing the page's Content-Security-Policy would block once inlined.
    assert not [element for element in root.iter() if "style" in element.attrib]


def test_names_with_markup_are_written_as_text(client, seed):
    name = "<b>&\"'"
    seed(**{"a<&>": {name: 1}})
    response = client.get(f"/stock/a<&>/{name}/label.svg")
    assert response.status_code == 200
    svg = response.get_data(as_text=True)
    assert "<b>" not in svg
    root = ET.fromstring(svg)
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert texts == [name, "a<&>"]
    assert root.find(f"{SVG}title").text == f"{name} (a<&>)"


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        (
            "/stock/fruit/pear/label.svg",
            'There is no member "pear" in collection "fruit".',
        ),
        (
            "/stock/veg/apple/label.svg",
            'There is no member "apple" in collection "veg".',
        ),
    ],
)
def test_a_missing_member_or_collection_is_404_as_on_its_other_routes(
    client, seed, path, detail
):
    seed(fruit={"apple": 3})
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json() == problem_body(404, "Not found", detail)
    same_route = client.get(path.replace("label.svg", "code"))
    assert same_route.get_json() == response.get_json()


@pytest.mark.parametrize("sheet", sorted(SHEETS))
@pytest.mark.parametrize(
    ("code", "read_as"),
    [
        ("4006381333931", "4006381333931"),
        ("036000291452", "0036000291452"),
        ("96385074", "96385074"),
        ("SHELF-A7", "SHELF-A7"),
    ],
)
def test_each_sheets_label_reads_back_from_a_300_dpi_print(sheet, code, read_as):
    size = SHEETS[sheet].label
    svg = label_document(label("apple", "fruit", code, PAGE_URL, size))
    assert {text for _, text in decoded(svg, dpi=300.0)} == {read_as, PAGE_URL}
