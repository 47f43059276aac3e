"""GET /stock/<c>/<m>/series and GET /stock/<c>/series: the stock at each
boundary, from the movement log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import bearer
from series_clock import EPOCH, stamp

from stockapp.trends.boundaries import MAX_POINTS, STEP_RULE, TIME_RULE

HOUR = timedelta(hours=1)


def series(client, path: str, **args: str):
    response = client.get(path, query_string=args)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_member_series_is_its_quantity_and_level_at_each_boundary(client, clock):
    clock.advance(hours=1)
    client.post("/stock/fruit", json={"apple": 5})
    clock.advance(hours=1)
    client.post("/stock/fruit/apple/adjustments", json={"delta": 3})
    clock.advance(hours=1)
    client.put("/stock/fruit/apple/reorder-level", json=4)
    clock.advance(hours=1)
    client.put("/stock/fruit/apple", json=2)
    body = series(
        client,
        "/stock/fruit/apple/series",
        **{"from": stamp(EPOCH), "to": stamp(EPOCH + 5 * HOUR), "step": "hour"},
    )
    assert body == {
        "collection": "fruit",
        "member": "apple",
        "from": "2026-01-01T00:00:00.000000Z",
        "to": "2026-01-01T05:00:00.000000Z",
        "step": "hour",
        "points": [
            {"at": stamp(EPOCH + n * HOUR), "quantity": q, "reorder_level": level}
            for n, q, level in [
                (0, 0, None),
                (1, 5, None),
                (2, 8, None),
                (3, 8, 4),
                (4, 2, 4),
                (5, 2, 4),
            ]
        ],
    }


def test_a_collection_series_sums_its_members_deleted_ones_until_gone(client, clock):
    clock.advance(hours=1)
    client.post("/stock/fruit", json={"apple": 5, "pear": 2})
    clock.advance(hours=1)
    client.delete("/stock/fruit/pear")
    clock.advance(hours=1)
    client.put("/stock/fruit/fig", json=10)
    body = series(
        client,
        "/stock/fruit/series",
        **{"from": stamp(EPOCH), "to": stamp(EPOCH + 3 * HOUR), "step": "3600"},
    )
    assert body == {
        "collection": "fruit",
        "from": stamp(EPOCH),
        "to": stamp(EPOCH + 3 * HOUR),
        "step": 3600,
        "points": [
            {"at": stamp(EPOCH + n * HOUR), "quantity": q}
            for n, q in [(0, 0), (1, 7), (2, 5), (3, 15)]
        ],
    }


def test_a_point_at_a_movement_counts_it_and_one_just_before_does_not(client, clock):
    clock.advance(hours=1)
    client.post("/stock/fruit", json={"apple": 5})
    moved = clock.advance(hours=1)
    client.post("/stock/fruit/apple/adjustments", json={"delta": -2})
    just_before = moved - timedelta(microseconds=1)
    body = series(
        client,
        "/stock/fruit/apple/series",
        **{"from": stamp(just_before), "to": stamp(moved), "step": "1"},
    )
    assert [point["quantity"] for point in body["points"]] == [5]
    body = series(
        client,
        "/stock/fruit/apple/series",
        **{"from": stamp(moved), "to": stamp(moved)},
    )
    assert body["points"] == [
        {"at": stamp(moved), "quantity": 3, "reorder_level": None}
    ]


def test_an_empty_collection_and_a_member_without_movements_are_flat(
    client, clock, rows
):
    client.post("/stock/fruit", json={})
    body = series(client, "/stock/fruit/series", step="week")
    assert len(body["points"]) == 5
    assert {point["quantity"] for point in body["points"]} == {0}
    client.put("/stock/fruit/apple", json=4)
    rows("DELETE FROM movements")
    body = series(client, "/stock/fruit/apple/series")
    assert {(p["quantity"], p["reorder_level"]) for p in body["points"]} == {(0, None)}


def test_by_default_a_series_is_the_last_30_days_a_point_a_day(client, clock):
    client.post("/stock/fruit", json={"apple": 1})
    body = series(client, "/stock/fruit/apple/series")
    assert body["step"] == "day"
    assert len(body["points"]) == 31
    assert body["points"][-1]["at"] == body["to"]


def test_a_monthly_series_keeps_the_day_or_the_months_last(client, clock):
    client.post("/stock/fruit", json={"apple": 1})
    body = series(
        client,
        "/stock/fruit/apple/series",
        **{"from": "2026-01-31", "to": "2026-05-01", "step": "month"},
    )
    assert [point["at"][:10] for point in body["points"]] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
    ]


def test_times_with_an_offset_are_read_as_utc(client, clock):
    client.post("/stock/fruit", json={"apple": 1})
    body = series(
        client,
        "/stock/fruit/apple/series",
        **{"from": "2026-01-01T08:00:00+02:00", "to": "2026-01-01T06:00:00Z"},
    )
    assert body["from"] == "2026-01-01T06:00:00.000000Z"
    assert len(body["points"]) == 1


TOO_MANY = (
    f"makes more than {MAX_POINTS} points from from to to: choose a longer step"
    " or a shorter range"
)


@pytest.mark.parametrize(
    ("args", "errors"),
    [
        ({"from": "yesterday"}, {"from": TIME_RULE}),
        ({"to": "2026-13-01"}, {"to": TIME_RULE}),
        ({"from": "2026-01-01T25:00"}, {"from": TIME_RULE}),
        ({"from": "x" * 10_000}, {"from": TIME_RULE}),
        ({"from": "２０２６-01-01"}, {"from": TIME_RULE}),
        ({"from": "0001-01-01T00:00:00+01:00"}, {"from": TIME_RULE}),
        ({"from": ""}, {"from": TIME_RULE}),
        ({"from": "2026-01-01 08:00"}, {"from": TIME_RULE}),
        ({"from": "20260101"}, {"from": TIME_RULE}),
        ({"to": "2026-02-30"}, {"to": TIME_RULE}),
        ({"to": "2026-01-01T24:00"}, {"to": TIME_RULE}),
        ({"step": "-3600"}, {"step": STEP_RULE}),
        ({"step": "0"}, {"step": STEP_RULE}),
        ({"step": "1.5"}, {"step": STEP_RULE}),
        ({"step": "fortnight"}, {"step": STEP_RULE}),
        ({"step": "99999999999"}, {"step": STEP_RULE}),
        ({"step": ""}, {"step": STEP_RULE}),
        ({"from": "nope", "step": "nope"}, {"from": TIME_RULE, "step": STEP_RULE}),
        ({"from": "2026-02-01", "to": "2026-01-01"}, {"from": "must not be after to"}),
        ({"from": "0001-01-01", "to": "9999-12-31", "step": "day"}, {"step": TOO_MANY}),
        (
            {"from": "0001-01-01", "to": "9999-12-31", "step": "month"},
            {"step": TOO_MANY},
        ),
        (
            {"from": "2026-01-01", "to": "2026-01-01T00:16:40Z", "step": "1"},
            {"step": TOO_MANY},
        ),
        ({"from": "2026-01-01", "to": "2028-09-28", "step": "day"}, {"step": TOO_MANY}),
    ],
)
@pytest.mark.parametrize("path", ["/stock/fruit/apple/series", "/stock/fruit/series"])
def test_bad_parameters_are_refused_saying_which(client, args, errors, path):
    client.post("/stock/fruit", json={"apple": 1})
    response = client.get(path, query_string=args)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["error"] == "Invalid input"
    assert body["errors"] == errors


@pytest.mark.parametrize(
    ("args", "count"),
    [
        ({"from": "2026-01-01", "to": "2026-01-01T00:16:39Z", "step": "1"}, MAX_POINTS),
        ({"from": "2026-01-01", "to": "2028-09-26", "step": "day"}, MAX_POINTS),
        ({"from": "0001-01-01", "to": "9999-12-31", "step": "3153600000"}, 101),
        ({"from": "9999-12-31T23:59:59Z"}, 1),
        ({"to": "0001-01-02"}, 2),
    ],
)
def test_ranges_up_to_the_limit_and_at_the_ends_of_time_are_answered(
    client, args, count
):
    client.post("/stock/fruit", json={"apple": 1})
    body = series(client, "/stock/fruit/apple/series", **args)
    assert len(body["points"]) == count


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/stock/fruit/fig/series", 'There is no member "fig" in collection "fruit".'),
        ("/stock/veg/apple/series", 'There is no member "apple" in collection "veg".'),
        ("/stock/veg/series", 'There is no collection "veg".'),
    ],
)
def test_a_series_of_what_is_not_there_is_404(client, path, detail):
    client.post("/stock/fruit", json={"apple": 1})
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["detail"] == detail


def test_a_deleted_member_has_no_series_but_still_counts_in_its_collection(client):
    client.post("/stock/fruit", json={"apple": 1, "pear": 2})
    client.delete("/stock/fruit/pear")
    assert client.get("/stock/fruit/pear/series").status_code == 404
    body = series(client, "/stock/fruit/series")
    assert body["points"][-1]["quantity"] == 1


def test_a_token_limited_to_other_collections_sees_no_series(
    client, make_user, make_token
):
    client.post("/stock/fruit", json={"apple": 1})
    client.post("/stock/veg", json={"leek": 1})
    make_user("ada")
    token = make_token("ada", "read", collections=["veg"])
    for path in ("/stock/fruit/apple/series", "/stock/fruit/series"):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 404
        assert response.get_json()["detail"] == 'There is no collection "fruit".'
    for path in ("/stock/veg/leek/series", "/stock/veg/series"):
        assert client.get(path, headers=bearer(token)).status_code == 200


def test_a_member_named_series_is_still_written_at_the_series_url(client):
    client.post("/stock/fruit", json={})
    assert client.put("/stock/fruit/series", json=3).status_code == 201
    assert (
        client.get("/stock/fruit/series/series").get_json()["points"][-1]["quantity"]
        == 3
    )
    assert client.get("/stock/fruit/series").get_json()["points"][-1]["quantity"] == 3
    assert client.delete("/stock/fruit/series").status_code == 204
