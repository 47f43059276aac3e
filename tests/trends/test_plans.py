"""The series seek through the movement log's indexes, never read it whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stockapp.core.extensions import db
from stockapp.trends import reads

POINTS = tuple(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=n) for n in range(3))


def sqlite_plan(statement) -> str:
    compiled = statement.compile(dialect=db.engine.dialect)
    parameters = compiled.construct_params()
    values = [parameters[name] for name in compiled.positiontup]
    processors = compiled._bind_processors
    values = [
        processors[name](value) if name in processors else value
        for name, value in zip(compiled.positiontup, values, strict=True)
    ]
    with db.engine.connect() as connection:
        return " | ".join(
            row[-1]
            for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(values)
            )
        )


@pytest.mark.sqlite_only
def test_a_member_series_seeks_each_boundary_through_the_indexes(app):
    with app.app_context():
        plan = sqlite_plan(reads.member_statement("fruit", "apple", POINTS))
    assert "ix_movements_collection_member_at_id" in plan, plan
    assert "ix_movements_level_collection_member_at_id" in plan, plan
    assert "SCAN moved" not in plan and "SCAN changed" not in plan, plan
    # Only the boundaries themselves are walked (and sorted: at most MAX_POINTS).
    assert "SCAN boundaries" in plan, plan


@pytest.mark.sqlite_only
def test_a_collection_series_skips_from_member_to_member(app):
    with app.app_context():
        statement = reads.collection_statement("fruit", POINTS)
        plan = sqlite_plan(statement)
    assert "SCAN logged" not in plan and "SCAN following" not in plan, plan
    assert "SCAN moved" not in plan, plan
