"""A series: a member's or a collection's stock at each boundary of a window.

The one place the API and the charts get their data from, so that a chart
shows exactly what GET .../series answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.clock import utc_text, utcnow
from ..core.errors import no_member, not_found
from ..stock import reads as stock_reads
from . import reads
from .boundaries import Window, window


@dataclass(frozen=True)
class Point:
    """The stock at one boundary; ``level`` only for a member (None: none set)."""

    at: datetime
    quantity: int
    level: int | None = None


@dataclass(frozen=True)
class Series:
    collection: str
    # None: the collection's series (the sum of its members).
    member: str | None
    window: Window
    points: tuple[Point, ...]

    def as_json(self) -> dict[str, Any]:
        """The body of GET .../series."""
        names = {"collection": self.collection}
        if self.member is not None:
            names["member"] = self.member
        return {
            **names,
            "from": utc_text(self.window.start),
            "to": utc_text(self.window.end),
            "step": self.window.step,
            "points": [self._point_json(point) for point in self.points],
        }

    def _point_json(self, point: Point) -> dict[str, Any]:
        row: dict[str, Any] = {"at": utc_text(point.at), "quantity": point.quantity}
        if self.member is not None:
            row["reorder_level"] = point.level
        return row


def member_series(collection: str, member: str, args: Mapping[str, str]) -> Series:
    """The member's series over the window ``args`` ask for; 404 if the
    member is not there now."""
    asked = window(args, utcnow())
    found = stock_reads.reorder_level(collection, member)
    if found is None:
        raise no_member(collection, member)
    rows = reads.member_series(collection, member, asked.points, level_now=found[0])
    points = tuple(
        Point(at, quantity, level)
        for at, (quantity, level) in zip(asked.points, rows, strict=True)
    )
    return Series(collection, member, asked, points)


def collection_series(collection: str, args: Mapping[str, str]) -> Series:
    """The collection's series (the sum of its members) over the window
    ``args`` ask for; 404 if the collection is not there now."""
    asked = window(args, utcnow())
    if not stock_reads.collection_exists(collection):
        raise not_found(f'collection "{collection}"')
    totals = reads.collection_series(collection, asked.points)
    points = tuple(
        Point(at, quantity) for at, quantity in zip(asked.points, totals, strict=True)
    )
    return Series(collection, None, asked, points)
