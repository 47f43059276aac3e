"""One label drawn as SVG: the member's name, its collection, its code as a
barcode and a QR code of its page.

The bars come from python-barcode's SVGWriter and the QR code from segno, each
nested as an ``<svg>`` of its own in the label, scaled into its box: nothing is
drawn by hand. A GTIN (EAN-13, UPC-A, EAN-8) is drawn as one, so a till reads
it as the product's own number; any other code as Code 128. A member without a
code gets no bars: the QR code and the names only.

The label is built as an ElementTree, so every name is escaped when it is
written out. python-barcode styles its rectangles with ``style`` attributes,
which the Content-Security-Policy blocks once the label sits in a page: they
are turned into presentation attributes, which it allows.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import cast

import barcode
import segno
from barcode.writer import SVGWriter

from ..stock.codes import GTINS

SVG_NS = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG_NS)
# python-barcode's name for each GTIN codes.py knows; any other code: Code 128.
_SYMBOLOGIES = {"EAN-13": "ean13", "UPC-A": "upca", "EAN-8": "ean8"}
_CODE_128 = "code128"
# The attributes python-barcode gives in millimetres.
_LENGTHS = frozenset({"x", "y", "width", "height"})
# Bars without text (the code is written under them by the label), and a
# quiet zone of 11 modules either side, as an EAN wants.
_BAR_OPTIONS = {
    "write_text": False,
    "module_width": 0.2,
    "module_height": 10.0,
    "quiet_zone": 2.2,
}
# A QR code's quiet zone, in modules (the label's margin adds to it).
_QR_BORDER = 2
# A name longer than its line is cut, and "…" says so; <title> keeps it whole.
_ELLIPSIS = "…"
# How wide a character of the sans-serif face is, against its size, about.
_CHARACTER_WIDTH = 0.56


@dataclass(frozen=True)
class LabelSize:
    """A label's size in millimetres."""

    width: float
    height: float


def symbology(code: str) -> str:
    """python-barcode's name of the barcode ``code`` is drawn as."""
    kind = GTINS.get(len(code), "") if code.isdigit() else ""
    return _SYMBOLOGIES.get(kind, _CODE_128)


def _svg(tag: str, **attributes: object) -> ET.Element:
    return ET.Element(
        f"{{{SVG_NS}}}{tag}",
        {key.replace("_", "-"): str(value) for key, value in attributes.items()},
    )


def mm(value: float) -> str:
    """A length in millimetres as an SVG number: to 0.1 µm, no
    trailing zeros."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _bars(code: str) -> ET.Element:
    """The code's barcode, as python-barcode draws it, sized in CSS pixels."""
    drawn = io.BytesIO()
    barcode.get(symbology(code), code, writer=SVGWriter()).write(
        drawn, options=_BAR_OPTIONS
    )
    root = ET.fromstring(drawn.getvalue())
    for element in root.iter():
        style = element.attrib.pop("style", "")
        for declaration in filter(None, style.split(";")):
            name, _, value = declaration.partition(":")
            element.set(name.strip(), value.strip())
        # Millimetres as plain user units: a renderer's idea of a millimetre
        # (resvg's follows its dpi) cannot then move the bars.
        for name, value in element.attrib.items():
            if name in _LENGTHS and value.endswith("mm"):
                element.set(name, value.removesuffix("mm"))
    width, height = root.attrib.pop("width"), root.attrib.pop("height")
    root.set("viewBox", f"0 0 {width} {height}")
    return root


def _qr(url: str) -> ET.Element:
    """A QR code of ``url``, as segno draws it (its size in modules)."""
    drawn = io.BytesIO()
    segno.make(url, error="m").save(
        drawn, kind="svg", xmldecl=False, omitsize=True, border=_QR_BORDER
    )
    return ET.fromstring(drawn.getvalue())


def _placed(element: ET.Element, x: float, y: float, w: float, h: float) -> None:
    element.attrib.update(x=mm(x), y=mm(y), width=mm(w), height=mm(h))


def _line(text: str, width: float, size: float) -> str:
    """``text`` cut to what fits ``width`` mm at ``size``, "…" where cut."""
    fits = max(1, int(width / (size * _CHARACTER_WIDTH)))
    return text if len(text) <= fits else text[: fits - 1] + _ELLIPSIS


def _text(
    parent: ET.Element, text: str, x: float, y: float, size: float, **more: object
) -> None:
    element = _svg("text", x=mm(x), y=mm(y), font_size=mm(size), **more)
    element.text = text
    parent.append(element)


def label(
    name: str, collection: str, code: str | None, url: str, size: LabelSize
) -> ET.Element:
    """The label of member ``name`` of ``collection`` as an ``<svg>`` element,
    its user units millimetres: the QR code of ``url`` on the left; the name,
    the collection and the code's barcode on the right."""
    w, h = size.width, size.height
    root = _svg(
        "svg",
        width=f"{mm(w)}mm",
        height=f"{mm(h)}mm",
        viewBox=f"0 0 {mm(w)} {mm(h)}",
        font_family="sans-serif",
    )
    root.set("class", "label")
    title = _svg("title")
    title.text = f"{name} ({collection})" + (f", code {code}" if code else "")
    root.append(title)
    root.append(_svg("rect", width="100%", height="100%", fill="white"))
    margin = min(2.0, h * 0.06)
    side = h - 2 * margin
    qr = _qr(url)
    _placed(qr, margin, margin, side, side)
    root.append(qr)
    left = 2 * margin + side
    room = w - left - margin
    name_size = h * 0.1
    collection_size = name_size * 0.72
    name_line = margin + name_size * 0.85
    collection_line = name_line + collection_size * 1.35
    name_text = _line(name, room, name_size)
    _text(root, name_text, left, name_line, name_size, font_weight="bold")
    collection_text = _line(collection, room, collection_size)
    _text(root, collection_text, left, collection_line, collection_size, fill="#333")
    if code:
        code_size = collection_size * 0.9
        top = collection_line + collection_size * 0.6
        bottom = h - margin - code_size * 1.15
        bars = _bars(code)
        _placed(bars, left, top, room, bottom - top)
        bars.set("preserveAspectRatio", "none")
        root.append(bars)
        code_text = _line(code, room, code_size)
        middle = left + room / 2
        _text(root, code_text, middle, h - margin, code_size, text_anchor="middle")
    return root


def label_document(element: ET.Element) -> str:
    """A label as a standalone SVG file."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + markup(element)


def markup(element: ET.Element) -> str:
    """An SVG element as text, to stand alone or inside a page."""
    return cast(str, ET.tostring(element, encoding="unicode"))
