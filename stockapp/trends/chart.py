"""A series drawn as an SVG line chart, on the server: no script, no library.

Pure geometry: the template (templates/trends/_chart.html) writes the SVG from
a Chart. The viewBox is narrow (a phone's width) and the SVG scales to its
box, so that its 12-unit text stays readable on a 360 px screen; colours come
from the stylesheet's custom properties (classes, never inline style), so the
chart follows light and dark mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from .series import Series

WIDTH, HEIGHT = 360, 200
# Room for the y labels on the left and the x labels below.
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 10, 26
# About how many lines the y axis is divided by.
Y_TICKS = 4


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Chart:
    series: Series
    width: int
    height: int
    # The plot's box: left, top, right, bottom.
    box: tuple[float, float, float, float]
    quantity_line: str
    quantity_area: str
    # One polyline a run of points that have a level (none set: a gap).
    level_lines: tuple[str, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]

    @property
    def lowest(self) -> int:
        return min(point.quantity for point in self.series.points)

    @property
    def highest(self) -> int:
        return max(point.quantity for point in self.series.points)


def chart(series: Series) -> Chart:
    """``series`` laid out in the chart's viewBox."""
    left, top, right, bottom = LEFT, TOP, WIDTH - RIGHT, HEIGHT - BOTTOM
    points = series.points
    levels = [point.level for point in points if point.level is not None]
    step, top_value = _scale(max([point.quantity for point in points] + levels))
    first, last = points[0].at, points[-1].at
    span = (last - first).total_seconds()

    def x(at: datetime) -> float:
        share = (at - first).total_seconds() / span if span else 0.5
        return round(left + share * (right - left), 1)

    def y(value: int) -> float:
        return round(bottom - value / top_value * (bottom - top), 1)

    line = " ".join(f"{x(point.at)},{y(point.quantity)}" for point in points)
    area = f"{x(first)},{bottom} {line} {x(last)},{bottom}"
    runs: list[list[str]] = []
    in_run = False
    for point in points:
        if point.level is not None:
            if not in_run:
                runs.append([])
            runs[-1].append(f"{x(point.at)},{y(point.level)}")
        in_run = point.level is not None
    y_ticks = tuple(
        Tick(y(value), f"{value:,}") for value in range(0, top_value + 1, step)
    )
    return Chart(
        series=series,
        width=WIDTH,
        height=HEIGHT,
        box=(left, top, right, bottom),
        quantity_line=line,
        quantity_area=area,
        level_lines=tuple(" ".join(run) for run in runs),
        y_ticks=y_ticks,
        x_ticks=_x_ticks(series, x),
    )


def _scale(highest: int) -> tuple[int, int]:
    """A round step for the y axis's lines, and the axis's top (a multiple
    of it, at least ``highest``)."""
    if highest <= 0:
        return 1, 1
    raw = highest / Y_TICKS
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(
        int(magnitude * factor) for factor in (1, 2, 5, 10) if magnitude * factor >= raw
    )
    step = max(step, 1)
    return step, step * math.ceil(highest / step)


def _x_ticks(series: Series, x) -> tuple[Tick, ...]:
    points = series.points
    span = points[-1].at - points[0].at
    if span > timedelta(days=300):
        shape = "%b %Y"
    elif span >= timedelta(days=2):
        shape = "%d %b"
    else:
        shape = "%H:%M"
    count = len(points)
    picks = sorted({0, count // 3, (2 * count) // 3, count - 1})
    return tuple(
        Tick(x(points[index].at), points[index].at.strftime(shape).lstrip("0"))
        for index in picks
    )


def anchor(tick: Tick, chart: Chart) -> str:
    """Where a label of the x axis hangs from its tick: inward at the ends."""
    left, _, right, _ = chart.box
    if tick.at <= left + 20:
        return "start"
    if tick.at >= right - 20:
        return "end"
    return "middle"
