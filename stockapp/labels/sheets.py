"""The label sheets stockapp lays labels out for, and how many it prints at once.

Each sheet is a page size and a grid of labels on it, in millimetres, measured
from the page's top left corner: the sheet page draws every printed page at
that size, and its stylesheet sets ``@page`` to it, so Chromium prints the
labels where the sheet has them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .drawing import SVG_NS, LabelSize, mm

# The most labels one sheet request lays out: a printer's afternoon, and a
# page a browser still renders.
MAX_LABELS = 1000
_INCH = 25.4


@dataclass(frozen=True)
class Sheet:
    """A sheet of labels: its page, and the grid of labels on it (mm)."""

    name: str
    title: str
    page_width: float
    page_height: float
    columns: int
    rows: int
    label: LabelSize
    # The top left label's corner, from the page's.
    left: float = 0.0
    top: float = 0.0
    # From one label's corner to the next one's, across and down.
    across: float = 0.0
    down: float = 0.0

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def corners(self) -> Iterator[tuple[float, float]]:
        """The top left corner of each label on a page, row by row."""
        across = self.across or self.label.width
        down = self.down or self.label.height
        for row in range(self.rows):
            for column in range(self.columns):
                yield self.left + column * across, self.top + row * down


SHEETS = {
    sheet.name: sheet
    for sheet in (
        Sheet(
            "a4-3x8",
            "A4, 24 labels of 70 × 37 mm (3 × 8, like Avery 3474)",
            210.0,
            297.0,
            3,
            8,
            LabelSize(70.0, 37.0),
            top=0.5,
        ),
        Sheet(
            "letter-3x10",
            "US Letter, 30 labels of 2⅝ × 1 in (3 × 10, like Avery 5160)",
            8.5 * _INCH,
            11 * _INCH,
            3,
            10,
            LabelSize(2.625 * _INCH, 1 * _INCH),
            left=0.1875 * _INCH,
            top=0.5 * _INCH,
            across=2.75 * _INCH,
        ),
        Sheet(
            "roll-62x29",
            "62 mm roll, one label of 62 × 29 mm a page (like Brother DK-11209)",
            62.0,
            29.0,
            1,
            1,
            LabelSize(62.0, 29.0),
        ),
    )
}
# The sheet a request that names none gets, and the size of a label alone.
DEFAULT_SHEET = SHEETS["a4-3x8"]


def printed_pages(sheet: Sheet, labels: Sequence[ET.Element]) -> list[ET.Element]:
    """``labels`` laid out on ``sheet``: an ``<svg>`` per printed page, the
    size of the page, each label in its place on the grid."""
    pages = []
    for first in range(0, len(labels), sheet.per_page):
        page = ET.Element(
            f"{{{SVG_NS}}}svg",
            {
                "width": f"{mm(sheet.page_width)}mm",
                "height": f"{mm(sheet.page_height)}mm",
                "viewBox": f"0 0 {mm(sheet.page_width)} {mm(sheet.page_height)}",
                "class": "sheet",
            },
        )
        on_page = labels[first : first + sheet.per_page]
        for drawn, (x, y) in zip(on_page, sheet.corners(), strict=False):
            drawn.attrib.update(
                x=mm(x),
                y=mm(y),
                width=mm(sheet.label.width),
                height=mm(sheet.label.height),
            )
            page.append(drawn)
        pages.append(page)
    return pages


def page_style(sheet: Sheet) -> str:
    """The stylesheet that prints ``sheet``'s pages at their size, margins 0."""
    return (
        f"@page {{ size: {mm(sheet.page_width)}mm {mm(sheet.page_height)}mm;"
        " margin: 0; }\n"
    )
