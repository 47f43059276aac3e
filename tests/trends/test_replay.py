"""The series equals a replay of the movement log: random adjustments, sets,
deletes and level changes through the API, then each boundary compared."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from series_clock import stamp

from stockapp.core.clock import as_utc

MEMBERS = ("apple", "pear")
STEP = timedelta(minutes=1)
_collections = itertools.count()

operations = st.one_of(
    st.tuples(st.just("adjust"), st.sampled_from(MEMBERS), st.integers(-5, 5)),
    st.tuples(st.just("set"), st.sampled_from(MEMBERS), st.integers(0, 9)),
    st.tuples(
        st.just("level"), st.sampled_from(MEMBERS), st.none() | st.integers(0, 9)
    ),
    st.tuples(st.just("delete"), st.sampled_from(MEMBERS), st.none()),
)


def apply(client, collection: str, operation: tuple) -> None:
    """Make one operation through the API; a refused one (below zero, a
    member not there) logs nothing, which the replay must agree with too."""
    kind, member, value = operation
    path = f"/stock/{collection}/{member}"
    if kind == "adjust" and value != 0:
        client.post(f"{path}/adjustments", json={"delta": value})
    elif kind == "set":
        client.put(path, json=value)
    elif kind == "level":
        client.put(f"{path}/reorder-level", json=value)
    elif kind == "delete":
        client.delete(path)


def replayed(log: list[dict], member: str, at: datetime) -> tuple[int, int | None]:
    """The member's quantity and level at ``at``, replaying its log in Python."""
    mine = [row for row in log if row["member"] == member]
    done = [row for row in mine if row["at"] <= at]
    if done:
        quantity = done[-1]["after"] or 0
    else:
        quantity = (mine[0]["before"] or 0) if mine else 0
    levels = [row for row in mine if row["kind"] == "level"]
    levels_done = [row for row in levels if row["at"] <= at]
    if levels_done:
        level = levels_done[-1]["level_after"]
    else:
        level = levels[0]["level_before"] if levels else None
    return quantity, level


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(st.tuples(operations, st.integers(0, 3)), max_size=25),
)
def test_the_series_equals_a_replay_of_the_log(client, clock, rows, steps):
    collection = f"c{next(_collections)}"
    start = clock.advance(hours=1)
    client.post(f"/stock/{collection}", json={"apple": 1})
    for operation, minutes in steps:
        clock.advance(minutes=minutes)
        apply(client, collection, operation)
    # Both members there at the end, so that each has a series.
    clock.advance(minutes=1)
    for member in MEMBERS:
        if client.get(f"/stock/{collection}/{member}").status_code == 404:
            client.put(f"/stock/{collection}/{member}", json=0)
    log = rows(
        "SELECT member, kind, before, after, level_before, level_after, at"
        " FROM movements WHERE collection = :c ORDER BY at, id",
        c=collection,
    )
    for row in log:
        # SQLite hands raw SQL's times back as text.
        at = row["at"]
        row["at"] = as_utc(datetime.fromisoformat(at) if isinstance(at, str) else at)
    window = {
        "from": stamp(start - STEP),
        "to": stamp(clock.advance(minutes=1)),
        "step": str(int(STEP.total_seconds())),
    }
    totals = client.get(f"/stock/{collection}/series", query_string=window)
    assert totals.status_code == 200
    expected_totals = [0] * len(totals.get_json()["points"])
    for member in MEMBERS:
        response = client.get(
            f"/stock/{collection}/{member}/series", query_string=window
        )
        assert response.status_code == 200
        points = response.get_json()["points"]
        assert len(points) == len(expected_totals)
        for index, point in enumerate(points):
            at = start - STEP + index * STEP
            assert point["at"] == stamp(at)
            quantity, level = replayed(log, member, at)
            assert (point["quantity"], point["reorder_level"]) == (quantity, level)
            expected_totals[index] += quantity
        # The last point is the member as it stands.
        now = client.get(f"/stock/{collection}/{member}").get_json()
        assert points[-1]["quantity"] == now
    assert [p["quantity"] for p in totals.get_json()["points"]] == expected_totals
