"""The charts: a member's on its page, a collection's on a page of its own."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from series_clock import EPOCH

from stockapp.trends.chart import _scale


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def table_rows(html: str) -> list[list[str]]:
    """The chart's table, row by row, cells as text."""
    body = html.split('<details class="trend-figures">')[1].split("</tbody>")[0]
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in body.split("<tr>")[2:]]


def test_a_member_page_draws_its_last_30_days_with_a_table_of_them(client, clock):
    clock.now = EPOCH
    client.post("/stock/fruit", json={"apple": 5})
    client.put("/stock/fruit/apple/reorder-level", json=3)
    html = page(client, "/collections/fruit/members/apple")
    assert '<svg class="trend-chart" viewBox="0 0 360 200" role="img"' in html
    assert '<title id="trend-title">Quantity of apple in fruit over the last 30' in html
    assert html.count('class="quantity-line"') == 1
    assert html.count('class="level-line"') == 1
    rows = table_rows(html)
    assert len(rows) == 31
    # The movements are older than the range: flat at 5, level 3.
    assert {tuple(row[1:]) for row in rows} == {("5", "3")}
    assert 'aria-current="true">30 days</a>' in html


@pytest.mark.parametrize(
    ("key", "points"), [("7d", 8), ("30d", 31), ("1y", 53), ("nonsense", 31)]
)
def test_each_range_has_its_points_and_a_bad_one_is_the_default(client, key, points):
    client.post("/stock/fruit", json={"apple": 5})
    html = page(client, f"/collections/fruit/members/apple?range={key}")
    assert len(table_rows(html)) == points
    for other in ("7d", "30d", "1y"):
        assert f'href="/collections/fruit/members/apple?range={other}#trend"' in html


def test_a_member_without_a_level_has_no_level_line(client):
    client.post("/stock/fruit", json={"apple": 5})
    html = page(client, "/collections/fruit/members/apple")
    assert 'class="level-line"' not in html
    assert {row[2] for row in table_rows(html)} == {"none"}


def test_the_collection_page_links_to_its_chart_page(client, clock):
    clock.now = EPOCH
    client.post("/stock/fruit", json={"apple": 5, "pear": 1000})
    html = page(client, "/collections/fruit")
    assert 'href="/collections/fruit/trend">Stock over time of fruit</a>' in html
    html = page(client, "/collections/fruit/trend?range=7d")
    assert "Quantity of fruit over the last 7 days" in html
    assert 'class="level-line"' not in html
    rows = table_rows(html)
    assert len(rows) == 8
    assert {tuple(row[1:]) for row in rows} == {("1,005",)}


def test_the_chart_page_of_a_collection_not_there_is_404(client):
    assert client.get("/collections/veg/trend").status_code == 404


def test_the_chart_page_asks_a_browser_to_log_in(make_app):
    app = make_app(ANONYMOUS_ACCESS="none")
    client = app.test_client()
    response = client.get("/collections/fruit/trend")
    assert response.status_code == 303
    assert "/log-in" in response.headers["Location"]


@pytest.mark.parametrize(
    ("highest", "scale"),
    [
        (0, (1, 1)),
        (1, (1, 1)),
        (3, (1, 3)),
        (7, (2, 8)),
        (10, (5, 10)),
        (99, (50, 100)),
        (1234, (500, 1500)),
        (10**18, (5 * 10**17, 10**18)),
    ],
)
def test_the_y_axis_has_round_steps_up_to_the_highest_value(highest, scale):
    assert _scale(highest) == scale


def test_movements_inside_the_range_show_in_the_chart(client, clock):
    clock.now = EPOCH
    client.post("/stock/fruit", json={"apple": 5})
    from stockapp.core import clock as real

    clock.now = real.utcnow() - timedelta(days=2)
    client.post("/stock/fruit/apple/adjustments", json={"delta": 4})
    rows = table_rows(page(client, "/collections/fruit/members/apple?range=7d"))
    assert [row[1] for row in rows] == ["5"] * 5 + ["9"] * 3


def test_a_level_cleared_midway_breaks_its_line_and_one_point_is_centred():
    from stockapp.trends.boundaries import Window
    from stockapp.trends.chart import LEFT, RIGHT, WIDTH, chart
    from stockapp.trends.series import Point, Series

    times = tuple(EPOCH + timedelta(days=n) for n in range(5))
    levels = (3, 3, None, 4, 4)
    points = tuple(
        Point(at, 10, level) for at, level in zip(times, levels, strict=True)
    )
    drawn = chart(
        Series("fruit", "apple", Window(times[0], times[-1], "day", times), points)
    )
    assert len(drawn.level_lines) == 2
    assert [len(line.split()) for line in drawn.level_lines] == [2, 2]
    assert drawn.quantity_line.split()[0] == f"{LEFT:.1f},{drawn.y_ticks[-1].at}"
    assert drawn.quantity_line.split()[-1].startswith(f"{WIDTH - RIGHT:.1f},")
    one = (EPOCH,)
    alone = chart(
        Series("fruit", None, Window(EPOCH, EPOCH, "day", one), (Point(EPOCH, 0),))
    )
    assert alone.quantity_line == f"{(LEFT + WIDTH - RIGHT) / 2},{alone.box[3]:.1f}"
    assert [tick.label for tick in alone.y_ticks] == ["0", "1"]
