"""Stock over time on the clerk's pages: a chart of a member's quantity on its
own page, and a page of a collection's.

The member's chart is drawn into the member's page (stock/templates includes
trends/_chart.html, which asks ``member_chart`` for it): a few dozen index
seeks. A collection's costs a seek per member per point, which on a collection
of 100,000 members would slow its page down for everyone, so it has a page of
its own, linked from the collection's.

Three ranges, chosen by a plain GET link (``?range=7d``), no script: each ends
now, so its last point is the stock as it stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Blueprint, render_template, request, url_for

from ..access.permissions import requires
from ..core.clock import utc_text, utcnow
from ..core.rules import check_names
from . import chart as charts
from .series import collection_series, member_series

bp = Blueprint("trend_pages", __name__, template_folder="templates")


@dataclass(frozen=True)
class Range:
    # The link's text, and the chart's title's words for it.
    label: str
    words: str
    span: timedelta
    step: str


# The ranges a chart offers, by the key in its link, in the links' order.
RANGES = {
    "7d": Range("7 days", "the last 7 days", timedelta(days=7), "day"),
    "30d": Range("30 days", "the last 30 days", timedelta(days=30), "day"),
    # 52 weeks, so that the last point is now.
    "1y": Range("A year", "the last year", timedelta(weeks=52), "week"),
}
DEFAULT_RANGE = "30d"
# In a page's query: which range its chart shows.
RANGE_KEY = "range"


def chosen_range() -> str:
    """The range the page's query asks for; the default for anything else (a
    page never refuses for it)."""
    asked = request.args.get(RANGE_KEY, DEFAULT_RANGE)
    return asked if asked in RANGES else DEFAULT_RANGE


def _window(key: str) -> dict[str, str]:
    """The series' query for range ``key``, ending now."""
    chosen, now = RANGES[key], utcnow()
    return {
        "from": utc_text(now - chosen.span),
        "to": utc_text(now),
        "step": chosen.step,
    }


@dataclass(frozen=True)
class ChartView:
    """What trends/_chart.html draws: the chart, its range and the links to
    the others."""

    chart: charts.Chart
    range_key: str
    links: dict[str, str]

    @property
    def range(self) -> Range:
        return RANGES[self.range_key]

    @property
    def ranges(self) -> dict[str, Range]:
        return RANGES


def _view(series_of: Any) -> ChartView:
    key = chosen_range()
    drawn = charts.chart(series_of(_window(key)))
    here = {**(request.view_args or {})}
    links = {
        other: url_for(request.endpoint or "", **here, range=other, _anchor="trend")
        for other in RANGES
    }
    return ChartView(drawn, key, links)


def member_chart(collection: str, member: str) -> ChartView:
    """The member's chart for its page (a template global)."""
    return _view(lambda args: member_series(collection, member, args))


@bp.get("/collections/<collection>/trend")
@requires("read", page=True)
def collection_trend(collection: str) -> Any:
    """A collection's stock over time: the sum of its members'."""
    check_names(collection=collection)
    view = _view(lambda args: collection_series(collection, args))
    return render_template(
        "trends/collection_trend.html", collection=collection, trend=view
    )
