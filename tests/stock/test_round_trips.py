"""On PostgreSQL a read is one round trip to the server: no BEGIN, no ROLLBACK,
no pre-ping, counted in libpq's own trace of what the client sent."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import bearer
from sqlalchemy import event

from stockapp.core.extensions import db

pytestmark = pytest.mark.postgresql_only

# A message the client sends that the server answers before the client goes on:
# a simple query, or the Sync that ends an extended-protocol query.
_WAITS_FOR_THE_SERVER = re.compile(r"\tF\t\d+\t(Query|Sync)\b")


@contextmanager
def traced(app, path: Path) -> Iterator[list[str]]:
    """The messages each pooled connection sends while the block runs."""
    sent: list[str] = []
    with app.app_context():
        engine = db.engine
    handle = path.open("w")

    def trace(dbapi_connection, record, proxy) -> None:
        dbapi_connection.pgconn.trace(handle.fileno())

    def untrace(dbapi_connection, record) -> None:
        dbapi_connection.pgconn.untrace()

    event.listen(engine, "checkout", trace)
    event.listen(engine, "checkin", untrace)
    try:
        yield sent
    finally:
        event.remove(engine, "checkout", trace)
        event.remove(engine, "checkin", untrace)
        handle.close()
        sent += [line for line in path.read_text().splitlines() if "\tF\t" in line]


def round_trips(sent: list[str]) -> list[str]:
    return [line for line in sent if _WAITS_FOR_THE_SERVER.search(line)]


@pytest.mark.parametrize(
    "path", ["/stock/fruit/apple", "/stock/fruit/apple/reorder-level"]
)
def test_a_read_is_one_round_trip(make_app, tmp_path, path):
    app = make_app(ANONYMOUS_ACCESS="read")
    writer = make_app(ANONYMOUS_ACCESS="write").test_client()
    assert writer.post("/stock/fruit", json={"apple": 30}).status_code == 201
    client = app.test_client()
    # A first read connects (and the driver asks the server about itself).
    assert client.get(path).status_code == 200
    with traced(app, tmp_path / "trace") as sent:
        assert client.get(path).status_code == 200
    assert len(round_trips(sent)) == 1, sent
    assert not [line for line in sent if "BEGIN" in line or "ROLLBACK" in line]


def test_a_read_with_a_token_is_one_round_trip(
    make_app, make_user, make_token, tmp_path
):
    # The token's row and the member in one statement (member_shortcut.py).
    make_user("alice", "viewer")
    headers = bearer(make_token("alice", "read"))
    writer = make_app(ANONYMOUS_ACCESS="write").test_client()
    assert writer.post("/stock/fruit", json={"apple": 30}).status_code == 201
    client = make_app(ANONYMOUS_ACCESS="none").test_client()
    # A first read connects, and records the token's use (a write).
    assert client.get("/stock/fruit/apple", headers=headers).status_code == 200
    with traced(client.application, tmp_path / "trace") as sent:
        response = client.get("/stock/fruit/apple", headers=headers)
    assert (response.status_code, response.get_data()) == (200, b"30\n")
    assert len(round_trips(sent)) == 1, sent


def test_a_write_is_its_statements_and_the_commit(make_app, tmp_path):
    app = make_app(ANONYMOUS_ACCESS="write")
    client = app.test_client()
    assert client.post("/stock/fruit", json={"apple": 30}).status_code == 201
    with traced(app, tmp_path / "trace") as sent:
        response = client.post("/stock/fruit/apple/adjustments", json={"delta": 1})
    assert response.status_code == 200
    commands = [
        line.split("\t")[-1].strip()
        for line in sent
        if re.search(r"BEGIN|COMMIT|ROLLBACK|\tQuery\t", line)
    ]
    # One BEGIN (sent with the first statements) and one COMMIT around the
    # statements, nothing else (no pre-ping, no ROLLBACK on the way back to
    # the pool).
    assert commands == ['"" "BEGIN ISOLATION LEVEL READ COMMITTED" 0', '"COMMIT"']


def one_member_write(make_app, tmp_path, method, path, body, **config):
    """The messages of a one-member write of fruit's apple from 30 to 31,
    checked stored and logged."""
    app = make_app(ANONYMOUS_ACCESS="write", **config)
    client = app.test_client()
    assert client.post("/stock/fruit", json={"apple": 30, "pear": 1}).status_code == 201
    with traced(app, tmp_path / "trace") as sent:
        response = client.open(path, method=method, json=body)
    assert response.status_code == 200
    assert client.get("/stock/fruit/apple").get_json() == 31
    movements = client.get("/stock/fruit/apple/history").get_json()["movements"]
    assert [(m["before"], m["after"]) for m in movements][:1] == [(30, 31)]
    return sent


# Each write, the round trips it takes, and the statements of its first.
WRITES = [
    # BEGIN, lock the collection, set the member if it has another quantity
    # (its update, the collection's next version and the movement, in one
    # statement) and ask whether any webhook subscription is enabled, sent
    # together; COMMIT.
    ("PATCH", "/stock/fruit", {"apple": 31}, 2, "WITH stored AS"),
    ("PUT", "/stock/fruit/apple", 31, 2, "WITH stored AS"),
    # BEGIN, lock, read the member, the question, sent together; the
    # adjustment (update, next version, movement) in one statement; COMMIT.
    ("POST", "/stock/fruit/apple/adjustments", {"delta": 1}, 3, "SELECT members.name"),
]


@pytest.mark.parametrize(("method", "path", "body", "trips", "second"), WRITES)
def test_a_one_member_write_is_its_statements_sent_together_and_the_commit(
    make_app, tmp_path, method, path, body, trips, second
):
    sent = one_member_write(make_app, tmp_path, method, path, body)
    assert len(round_trips(sent)) == trips, sent
    first_trip = sent[: sent.index(round_trips(sent)[0]) + 1]
    # (The trace gives each statement's first line.)
    parsed = [line for line in first_trip if "\tParse\t" in line]
    assert [
        "BEGIN" in parsed[0],
        "SELECT collections.id, collections.version" in parsed[1],
        second in parsed[2],
        "SELECT webhook_subscriptions.id" in parsed[3],
    ] == [True] * 4, parsed
    assert len(parsed) == 4, parsed
    assert sent.index(round_trips(sent)[-1]) == len(sent) - 1
    assert "COMMIT" in round_trips(sent)[-1]
    # Every write of the member, its collection and its movement in one
    # statement, whichever the write.
    written = [
        line
        for line in sent
        if "\tParse\t" in line and re.search(r"WITH (stored|updated) AS", line)
    ]
    assert len(written) == 1, sent
    assert not [line for line in sent if "webhook_deliveries" in line]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("PATCH", "/stock/fruit", {"apple": 31}), ("PUT", "/stock/fruit/apple", 31)],
)
def test_a_write_with_a_precondition_reads_before_it_writes(
    make_app, tmp_path, method, path, body
):
    # Checked before anything is written: a caller that catches the 412 inside
    # a larger transaction must not keep a write.
    app = make_app(ANONYMOUS_ACCESS="write")
    client = app.test_client()
    assert client.post("/stock/fruit", json={"apple": 30}).status_code == 201
    current = client.get(path).headers["ETag"]
    with traced(app, tmp_path / "trace") as sent:
        response = client.open(
            path, method=method, json=body, headers={"If-Match": current}
        )
    assert response.status_code == 200
    parsed = [line for line in sent if "\tParse\t" in line]
    assert "SELECT members.name" in parsed[2], parsed
    assert not [line for line in parsed if "WITH stored AS" in line], parsed
    assert len(round_trips(sent)) == 3, sent


@pytest.mark.parametrize(("method", "path", "body", "trips", "second"), WRITES)
def test_with_a_subscription_the_outbox_insert_is_one_round_trip_more(
    make_app, make_user, make_token, rows, tmp_path, method, path, body, trips, second
):
    make_user("root", "admin")
    admin = make_app(WEBHOOKS_ALLOW_PRIVATE=True).test_client()
    subscribed = admin.post(
        "/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["movement.created"]},
        headers=bearer(make_token("root", "admin")),
    )
    assert subscribed.status_code == 201, subscribed.get_json()
    sent = one_member_write(make_app, tmp_path, method, path, body)
    # The write's, and the outbox's INSERT before the COMMIT.
    assert len(round_trips(sent)) == trips + 1, sent
    found = rows("SELECT payload FROM webhook_deliveries ORDER BY id")
    events = [json.loads(row["payload"])["data"] for row in found]
    # apple and pear created, then apple's write.
    assert [(e["member"], e["before"], e["after"]) for e in events] == [
        ("apple", None, 30),
        ("pear", None, 1),
        ("apple", 30, 31),
    ]
