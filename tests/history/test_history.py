"""The movement log: one row per quantity change, by every route, paginated."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, text

from stockapp.core.extensions import db


def movements(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.get_json()
    return [
        (m["member"], m["kind"], m["before"], m["after"], m["reason"])
        for m in response.get_json()["movements"]
    ]


def test_every_route_logs_its_changes_newest_first(client):
    client.post("/stock/fruit", json={"apple": 30, "pear": 5})
    client.put("/stock/fruit", json={"apple": 30, "kiwi": 2})
    client.patch("/stock/fruit", json={"kiwi": None, "fig": 1, "apple": 31})
    client.put("/stock/fruit/fig", json=4)
    client.put("/stock/fruit/lime", json=9)
    client.post("/stock/fruit/lime/adjustments", json={"delta": -2, "reason": "sold"})
    client.delete("/stock/fruit/fig")
    client.delete("/stock/fruit")
    assert movements(client, "/stock/fruit/history") == [
        ("lime", "delete", 7, None, None),
        ("apple", "delete", 31, None, None),
        ("fig", "delete", 4, None, None),
        ("lime", "adjust", 9, 7, "sold"),
        ("lime", "replace", None, 9, None),
        ("fig", "replace", 1, 4, None),
        ("apple", "update", 30, 31, None),
        ("fig", "update", None, 1, None),
        ("kiwi", "update", 2, None, None),
        ("kiwi", "replace", None, 2, None),
        ("pear", "replace", 5, None, None),
        ("pear", "create", None, 5, None),
        ("apple", "create", None, 30, None),
    ]


def test_the_form_logs_a_create(client, submit):
    submit("/add-collection", data={"collection": "veg", "member": "leek", "qty": "3"})
    assert movements(client, "/stock/veg/history") == [
        ("leek", "create", None, 3, None)
    ]


def test_member_history_holds_only_that_member(client):
    client.post("/stock/fruit", json={"apple": 30, "pear": 5})
    client.put("/stock/fruit/apple", json=29)
    client.post("/stock/veg", json={"apple": 1})
    assert movements(client, "/stock/fruit/apple/history") == [
        ("apple", "replace", 30, 29, None),
        ("apple", "create", None, 30, None),
    ]


def test_writes_that_change_nothing_log_nothing(client):
    client.post("/stock/fruit", json={"apple": 30})
    client.put("/stock/fruit", json={"apple": 30})
    client.put("/stock/fruit/apple", json=30)
    client.patch("/stock/fruit", json={"absent": None})
    client.post("/stock/empty", json={})
    assert movements(client, "/stock/fruit/history") == [
        ("apple", "create", None, 30, None)
    ]
    assert movements(client, "/stock/empty/history") == []


def test_rejected_writes_log_nothing(client):
    client.post("/stock/fruit", json={"apple": 30})
    client.patch("/stock/fruit", json={"apple": 1, "pear": -1})
    client.post("/stock/fruit", json={"apple": 2})
    client.post("/stock/fruit/apple/adjustments", json={"delta": -31})
    assert len(movements(client, "/stock/fruit/history")) == 1


def test_history_outlives_the_member_and_the_collection(client):
    client.post("/stock/fruit", json={"apple": 30})
    client.delete("/stock/fruit")
    assert client.get("/stock/fruit").status_code == 404
    assert movements(client, "/stock/fruit/apple/history") == [
        ("apple", "delete", 30, None, None),
        ("apple", "create", None, 30, None),
    ]


def test_history_of_something_that_never_was_is_empty(client):
    assert client.get("/stock/none/history").get_json() == {"movements": []}
    assert client.get("/stock/none/thing/history").get_json() == {"movements": []}


def test_movement_shape_and_utc_timestamp(client):
    before = datetime.now(UTC).replace(tzinfo=None)
    client.post("/stock/fruit", json={"apple": 30})
    after = datetime.now(UTC).replace(tzinfo=None)
    [movement] = client.get("/stock/fruit/apple/history").get_json()["movements"]
    assert set(movement) == {
        "id",
        "collection",
        "member",
        "kind",
        "before",
        "after",
        "reason",
        "by",
        "at",
    }
    assert isinstance(movement["id"], int)
    assert movement["collection"] == "fruit"
    assert movement["at"].endswith("Z")
    at = datetime.fromisoformat(movement["at"].removesuffix("Z"))
    assert before <= at <= after


def test_pages_follow_the_link_header_to_the_end(client):
    client.post("/stock/fruit", json={"apple": 0})
    for quantity in range(1, 7):
        client.put("/stock/fruit/apple", json=quantity)
    seen, url, pages = [], "/stock/fruit/apple/history?limit=3", 0
    while url:
        response = client.get(url)
        pages += 1
        seen.extend(m["after"] for m in response.get_json()["movements"])
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        if link:
            assert link.endswith('>; rel="next"')
            assert "limit=3" in link
    assert seen == [6, 5, 4, 3, 2, 1, 0]
    assert pages == 3


def test_last_full_page_has_no_next_link(client):
    client.post("/stock/fruit", json={"a": 1, "b": 2})
    response = client.get("/stock/fruit/history?limit=2")
    assert len(response.get_json()["movements"]) == 2
    assert "Link" not in response.headers


def test_collection_history_pages_too(client):
    client.post("/stock/fruit", json={f"m{i}": i for i in range(5)})
    first = client.get("/stock/fruit/history?limit=2")
    link = first.headers["Link"]
    second = client.get(link[1 : link.index(">")])
    names = [m["member"] for m in first.get_json()["movements"]]
    names += [m["member"] for m in second.get_json()["movements"]]
    assert names == ["m4", "m3", "m2", "m1"]


def test_default_limit_is_50_and_500_is_the_most(client):
    client.post("/stock/fruit", json={f"m{i}": i for i in range(501)})
    assert len(client.get("/stock/fruit/history").get_json()["movements"]) == 50
    response = client.get("/stock/fruit/history?limit=500")
    assert len(response.get_json()["movements"]) == 500
    assert "Link" in response.headers


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("limit=0", {"limit": "must be a whole number from 1 to 500"}),
        ("limit=501", {"limit": "must be a whole number from 1 to 500"}),
        ("limit=-1", {"limit": "must be a whole number from 1 to 500"}),
        ("limit=ten", {"limit": "must be a whole number from 1 to 500"}),
        ("limit=", {"limit": "must be a whole number from 1 to 500"}),
        ("limit=05", {"limit": "must be a whole number from 1 to 500"}),
        ("limit=" + "9" * 5000, {"limit": "must be a whole number from 1 to 500"}),
        ("cursor=", {"cursor": "is not a cursor this API gave out"}),
        ("cursor=abc", {"cursor": "is not a cursor this API gave out"}),
        ("cursor=%FF%FE", {"cursor": "is not a cursor this API gave out"}),
        ("cursor=MTIz", {"cursor": "is not a cursor this API gave out"}),
    ],
)
@pytest.mark.parametrize("path", ["/stock/fruit/history", "/stock/fruit/apple/history"])
def test_bad_page_parameters_are_rejected(client, path, query, errors):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.get_json()["errors"] == errors


# Two page queries the indexes must answer without a sort, and the index each uses.
SEEKS = [
    (
        "SELECT * FROM movements WHERE collection = 'fruit' AND id < 9"
        " ORDER BY id DESC LIMIT 6",
        "ix_movements_collection_id",
    ),
    (
        "SELECT * FROM movements WHERE collection = 'fruit'"
        " AND member = 'm3' AND id < 9 ORDER BY id DESC LIMIT 6",
        "ix_movements_collection_member_id",
    ),
]


def first_two_pages_sent(app, client):
    """The (SQL, parameters) of the queries for the first two pages of history."""
    client.post("/stock/fruit", json={f"m{i}": i for i in range(20)})
    sent = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM movements" in statement:
            sent.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        first = client.get("/stock/fruit/history?limit=5")
        link = first.headers["Link"]
        client.get(link[1 : link.index(">")])
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


@pytest.mark.sqlite_only
def test_history_pages_seek_by_id_through_an_index(app, client):
    (_, first_params), (second_sql, second_params) = first_two_pages_sent(app, client)
    # The next page seeks below the last id seen; SQLite's compiler always
    # writes an OFFSET, and it stays 0 however deep the page is.
    assert "movements.id < ?" in second_sql
    assert first_params[-1] == second_params[-1] == 0
    with app.app_context():
        for query, index in SEEKS:
            plan = " ".join(
                row[-1]
                for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {query}"))
            )
            assert f"INDEX {index}" in plan, plan
            assert "TEMP B-TREE" not in plan, plan


@pytest.mark.postgresql_only
def test_history_pages_seek_by_id_through_an_index_on_postgresql(app, client):
    (first_sql, _), (second_sql, _) = first_two_pages_sent(app, client)
    # The next page seeks below the last id seen, with no OFFSET at all.
    assert re.search(r"movements\.id < %\(\w+\)s", second_sql), second_sql
    assert "OFFSET" not in first_sql + second_sql
    with app.app_context():
        # A table this small is cheaper to scan; ask whether the index would do,
        # with the statistics autovacuum would have gathered by then.
        db.session.execute(text("ANALYZE movements"))
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        for query, index in SEEKS:
            plan = " ".join(
                row[0] for row in db.session.execute(text(f"EXPLAIN {query}"))
            )
            assert f"Index Scan Backward using {index}" in plan, plan
            assert "Sort" not in plan, plan
