"""A unit of work the database aborts (serialization failure, deadlock) runs again."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import insert, text
from sqlalchemy.exc import OperationalError

from stockapp.core.database import (
    WRITE_ATTEMPTS,
    retry_serialization_failures,
    write_connection,
    write_transaction,
)
from stockapp.stock import units
from stockapp.stock.models import Collection

SERIALIZATION_FAILURE, DEADLOCK = "40001", "40P01"


class DriverError(Exception):
    """What a driver raises: an error carrying its SQLSTATE, like psycopg's."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def abort_transaction(backend: str, sqlstate: str) -> None:
    """Have the database abort the current transaction with ``sqlstate``.

    PostgreSQL raises it for real; SQLite, which has no such errors, gets the
    exception a driver would raise.
    """
    if backend == "postgresql":
        raise_it = f"RAISE EXCEPTION 'test' USING ERRCODE = '{sqlstate}'"
        write_connection().execute(text(f"DO $$ BEGIN {raise_it}; END $$"))
    raise OperationalError("(test)", None, DriverError(sqlstate))


@pytest.mark.parametrize("sqlstate", [SERIALIZATION_FAILURE, DEADLOCK])
def test_an_aborted_unit_of_work_runs_again_from_scratch(
    app, stored, backend, sqlstate
):
    runs = []

    @retry_serialization_failures
    def add_fruit() -> str:
        with write_transaction():
            runs.append(sqlstate)
            # A second run could not insert it again had the first one's stayed.
            write_connection().execute(insert(Collection).values(name="fruit"))
            if len(runs) == 1:
                abort_transaction(backend, sqlstate)
        return "done"

    retried = REGISTRY.get_sample_value("stockapp_transaction_retries_total")
    with app.app_context():
        assert add_fruit() == "done"
    assert len(runs) == 2
    assert stored() == {"fruit": {}}
    # /metrics counts the second run.
    assert REGISTRY.get_sample_value("stockapp_transaction_retries_total") == (
        retried + 1
    )


def test_other_database_errors_are_not_retried(app, stored, backend):
    runs = []

    @retry_serialization_failures
    def fail() -> None:
        with write_transaction():
            runs.append(1)
            write_connection().execute(insert(Collection).values(name="fruit"))
            abort_transaction(backend, "57014")  # query_canceled

    with app.app_context(), pytest.raises(OperationalError):
        fail()
    assert len(runs) == 1
    assert stored() == {}


def test_a_write_that_keeps_failing_answers_503_and_stores_nothing(
    client, seed, stored, backend, monkeypatch
):
    seed(fruit={"apple": 30})
    runs = []
    lock_and_read = units.lock_or_create_collection_setting_one

    def conflicting(*args, **kwargs):
        runs.append(1)
        lock_and_read(*args, **kwargs)
        abort_transaction(backend, SERIALIZATION_FAILURE)

    monkeypatch.setattr(units, "lock_or_create_collection_setting_one", conflicting)
    response = client.patch("/stock/fruit", json={"apple": 1, "kiwi": 2})
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "Concurrent writes kept conflicting; nothing was stored. Try again.",
        "error": "Database busy",
        "request_id": response.headers["X-Request-ID"],
    }
    assert len(runs) == WRITE_ATTEMPTS
    assert stored() == {"fruit": {"apple": 30}}


def test_an_idempotent_post_aborted_inside_runs_again_as_a_whole(
    client, stored, backend, monkeypatch
):
    runs = []
    apply_changes = units.apply_changes

    def aborted_once(*args, **kwargs):
        runs.append(1)
        written = apply_changes(*args, **kwargs)
        if len(runs) == 1:
            abort_transaction(backend, SERIALIZATION_FAILURE)
        return written

    monkeypatch.setattr(units, "apply_changes", aborted_once)
    headers = {"Idempotency-Key": "order-1"}
    # The key's claim and the create are one transaction, so both run again:
    # retrying only the create would run it inside the aborted transaction.
    response = client.post("/stock/fruit", json={"apple": 1}, headers=headers)
    assert (response.status_code, response.get_json()) == (
        201,
        {"message": "Collection created"},
    )
    assert len(runs) == 2
    assert stored() == {"fruit": {"apple": 1}}
    replayed = client.post("/stock/fruit", json={"apple": 1}, headers=headers)
    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert len(runs) == 2


@pytest.mark.postgresql_only
def test_the_loser_of_a_real_deadlock_runs_again(app, seed, stored):
    """Two units of work lock two collections in opposite orders."""
    seed(a={}, b={})
    both_hold_one = threading.Barrier(2)
    runs: list[str] = []

    @retry_serialization_failures
    def lock_both(first: str, second: str) -> None:
        with write_transaction():
            runs.append(first)
            units.lock_collection(first)
            if runs.count(first) == 1:
                both_hold_one.wait()
            units.lock_collection(second)
            write_connection().execute(insert(Collection).values(name=f"{first}-won"))

    def run(first: str, second: str) -> None:
        with app.app_context():
            lock_both(first, second)

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(run, "a", "b"), pool.submit(run, "b", "a")]:
            done.result(timeout=30)
    # PostgreSQL aborted one of them (after deadlock_timeout); it ran again.
    assert sorted(runs) in (["a", "a", "b"], ["a", "b", "b"])
    assert stored() == {"a": {}, "b": {}, "a-won": {}, "b-won": {}}


def ended_connection() -> OperationalError:
    """What SQLAlchemy raises for a statement on a connection the server ended."""
    return OperationalError(
        "SELECT 1", {}, DriverError("08006"), connection_invalidated=True
    )


def test_a_write_that_met_an_ended_connection_before_its_commit_runs_once_more(app):
    runs = []

    @retry_serialization_failures
    def unit_of_work() -> str:
        runs.append(1)
        if len(runs) == 1:
            raise ended_connection()
        return "done"

    with app.test_request_context():
        assert unit_of_work() == "done"
    assert len(runs) == 2


def test_a_write_whose_commit_met_an_ended_connection_is_not_run_again(
    app, monkeypatch
):
    runs = []

    @retry_serialization_failures
    def unit_of_work() -> None:
        runs.append(1)
        with write_transaction():
            write_connection().execute(text("SELECT 1"))

    def commit_lost(self) -> None:
        raise ended_connection()

    monkeypatch.setattr("sqlalchemy.engine.base.RootTransaction.commit", commit_lost)
    with app.test_request_context(), pytest.raises(OperationalError) as raised:
        unit_of_work()
    # It may have committed: running it again could apply it twice.
    assert len(runs) == 1
    assert raised.value.connection_invalidated


def test_an_ended_connection_twice_is_the_callers(app):
    runs = []

    @retry_serialization_failures
    def unit_of_work() -> None:
        runs.append(1)
        raise ended_connection()

    with app.test_request_context(), pytest.raises(OperationalError):
        unit_of_work()
    assert len(runs) == 2
