"""The outbox: every committed movement becomes the events the subscriptions
want, written in the write's own transaction; nothing a rolled-back write did
is announced."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import ANY_SUBSCRIPTION, bearer

from stockapp.core.database import write_transaction
from stockapp.stock import units

HOOK = "http://127.0.0.1:9/hook"
EVERY_EVENT = [
    "movement.created",
    "member.low",
    "member.restocked",
    "collection.deleted",
]


@pytest.fixture
def hook(client, admin):
    """Subscribe a receiver that is never called: ``hook(events=[...])``."""

    def make(**fields: Any) -> int:
        body = {"url": HOOK, "events": EVERY_EVENT, **fields}
        response = client.post("/webhooks", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    return make


@pytest.fixture
def outbox(rows):
    """The deliveries written, in order: (subscription, type, data), and each
    body checked against its row."""

    def read(subscription: int | None = None) -> list[tuple[int, str, dict]]:
        found = []
        for row in rows(
            "SELECT subscription_id, event_id, type, payload, state FROM"
            " webhook_deliveries ORDER BY id"
        ):
            if subscription is not None and row["subscription_id"] != subscription:
                continue
            event = json.loads(row["payload"])
            assert event["id"] == row["event_id"]
            assert event["type"] == row["type"]
            assert row["state"] == "pending"
            found.append((row["subscription_id"], row["type"], event["data"]))
        return found

    return read


def moved(collection, member, kind, before, after, reason=None, **extra):
    """A movement's data, its version and id left out."""
    return {
        "collection": collection,
        "member": member,
        "kind": kind,
        "before": before,
        "after": after,
        "reason": reason,
        **extra,
    }


def shapes(found):
    """(type, data without version and movement_id) of each delivery."""
    return [
        (kind, {k: v for k, v in data.items() if k not in ("version", "movement_id")})
        for _, kind, data in found
    ]


def test_every_kind_of_write_announces_each_movement(hook, client, outbox, rows):
    hook(events=["movement.created", "collection.deleted"])
    client.post("/stock/fruit", json={"apple": 30, "pear": 2})
    client.put("/stock/fruit/apple", json=28)
    client.patch("/stock/fruit", json={"pear": None, "fig": 1})
    client.post("/stock/fruit/fig/adjustments", json={"delta": 4, "reason": "found"})
    client.put("/stock/fruit", json={"kiwi": 5})
    client.post("/imports", json={"fruit": {"kiwi": 6}})
    client.delete("/stock/fruit/kiwi")
    client.post("/stock/veg", json={"leek": 1})
    client.delete("/stock/veg")
    assert shapes(outbox()) == [
        ("movement.created", moved("fruit", "apple", "create", None, 30)),
        ("movement.created", moved("fruit", "pear", "create", None, 2)),
        ("movement.created", moved("fruit", "apple", "replace", 30, 28)),
        ("movement.created", moved("fruit", "pear", "update", 2, None)),
        ("movement.created", moved("fruit", "fig", "update", None, 1)),
        ("movement.created", moved("fruit", "fig", "adjust", 1, 5, "found")),
        # A replace logs the members it removes first, then the body's.
        ("movement.created", moved("fruit", "apple", "replace", 28, None)),
        ("movement.created", moved("fruit", "fig", "replace", 5, None)),
        ("movement.created", moved("fruit", "kiwi", "replace", None, 5)),
        ("movement.created", moved("fruit", "kiwi", "import", 5, 6)),
        ("movement.created", moved("fruit", "kiwi", "delete", 6, None)),
        ("movement.created", moved("veg", "leek", "create", None, 1)),
        ("movement.created", moved("veg", "leek", "delete", 1, None)),
        ("collection.deleted", {"collection": "veg"}),
    ]
    # Each names its movement in the log, and the member's version after it.
    log = rows("SELECT id, member, kind FROM movements ORDER BY id")
    found = [data for _, kind, data in outbox() if kind == "movement.created"]
    assert [(d["movement_id"], d["member"], d["kind"]) for d in found] == [
        (m["id"], m["member"], m["kind"]) for m in log
    ]
    assert found[0]["version"] is not None
    assert found[3]["version"] is None  # pear is gone


def test_the_event_carries_who_and_when(hook, client, make_user, make_token, rows):
    hook(events=["movement.created"])
    make_user("ann", "clerk")
    client.post(
        "/stock/fruit", json={"apple": 1}, headers=bearer(make_token("ann", "write"))
    )
    (row,) = rows("SELECT payload FROM webhook_deliveries")
    (movement,) = rows("SELECT id, at FROM movements")
    event = json.loads(row["payload"])
    assert event["by"] == "ann"
    assert event["id"].startswith("evt_")
    assert (
        event["timestamp"]
        == client.get("/stock/fruit/apple/history").get_json()["movements"][0]["at"]
    )
    assert event["data"]["movement_id"] == movement["id"]
    assert list(event) == ["id", "type", "timestamp", "by", "data"]


def test_a_version_in_the_event_is_the_members_etag(hook, client, outbox):
    hook(events=["movement.created"])
    client.post("/stock/fruit", json={"apple": 1})
    adjusted = client.post("/stock/fruit/apple/adjustments", json={"delta": 1})
    (*_, (_, _, data)) = outbox()
    assert adjusted.headers["ETag"] == f'"{data["version"]}"'


def test_a_low_stock_crossing_is_announced_once_each_way(hook, client, outbox):
    hook(events=["member.low", "member.restocked"])
    client.post("/stock/fruit", json={"apple": 30})
    client.put("/stock/fruit/apple/reorder-level", json=10)
    for delta in (-15, -5, -3, -2, +1, +20, -40):
        assert client.post(
            "/stock/fruit/apple/adjustments", json={"delta": delta}
        ).status_code in (200, 409)
    # 30 -> 15 -> 10 (low) -> 7 -> 5 -> 6 -> 26 (restocked) -> refused (below 0)
    client.put("/stock/fruit/apple", json=3)  # low again, by a replace
    client.patch("/stock/fruit", json={"apple": 4})  # still low: nothing
    client.put("/stock/fruit", json={"apple": 11})  # restocked by a collection PUT
    assert shapes(outbox()) == [
        ("member.low", moved("fruit", "apple", "adjust", 15, 10, reorder_level=10)),
        (
            "member.restocked",
            moved("fruit", "apple", "adjust", 6, 26, reorder_level=10),
        ),
        ("member.low", moved("fruit", "apple", "replace", 26, 3, reorder_level=10)),
        (
            "member.restocked",
            moved("fruit", "apple", "replace", 4, 11, reorder_level=10),
        ),
    ]


def test_a_member_without_a_level_is_never_low(hook, client, outbox):
    hook(events=["member.low", "member.restocked"])
    client.post("/stock/fruit", json={"apple": 0})
    client.post("/stock/fruit/apple/adjustments", json={"delta": 5})
    client.post("/stock/fruit/apple/adjustments", json={"delta": -5})
    assert outbox() == []


def test_each_subscription_gets_only_its_events_and_collections(
    hook, client, admin, outbox
):
    every = hook()
    fruit_low = hook(events=["member.low"], collections=["fruit"])
    veg = hook(events=["movement.created"], collections=["veg"])
    off = hook()
    disabled = client.patch(f"/webhooks/{off}", json={"enabled": False}, headers=admin)
    assert disabled.status_code == 200
    client.post("/stock/fruit", json={"apple": 3})
    client.put("/stock/fruit/apple/reorder-level", json=2)
    client.post("/stock/fruit/apple/adjustments", json={"delta": -1})
    client.post("/stock/veg", json={"leek": 1})
    assert [(kind, d["kind"]) for _, kind, d in outbox(every)] == [
        ("movement.created", "create"),
        ("movement.created", "level"),  # 3 is above the new level 2: not low
        ("movement.created", "adjust"),
        ("member.low", "adjust"),
        ("movement.created", "create"),
    ]
    assert [(kind, d["member"]) for _, kind, d in outbox(fruit_low)] == [
        ("member.low", "apple")
    ]
    assert [(kind, d["member"]) for _, kind, d in outbox(veg)] == [
        ("movement.created", "leek")
    ]
    assert outbox(off) == []


def test_one_event_has_one_id_for_every_subscription(hook, client, rows):
    hook(events=["movement.created"])
    hook(events=["movement.created"])
    client.post("/stock/fruit", json={"apple": 3})
    found = rows("SELECT subscription_id, event_id, payload FROM webhook_deliveries")
    assert [row["subscription_id"] for row in found] == [1, 2]
    assert found[0]["event_id"] == found[1]["event_id"]
    assert found[0]["payload"] == found[1]["payload"]


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(
            lambda c: c.post("/stock/fruit/apple/adjustments", json={"delta": -99}),
            id="an adjustment below 0",
        ),
        pytest.param(
            lambda c: c.put("/stock/fruit/apple", json=5, headers={"If-Match": '"1"'}),
            id="a PUT whose If-Match fails",
        ),
        pytest.param(
            lambda c: c.post(
                "/imports",
                data="collection,member,quantity\r\nfruit,apple,1\r\nfruit,pear,x\r\n",
                content_type="text/csv",
            ),
            id="an import with one bad row",
        ),
        pytest.param(
            lambda c: c.patch("/stock/fruit", json={"apple": -1}),
            id="a PATCH with a bad quantity",
        ),
    ],
)
def test_a_refused_write_announces_nothing(hook, client, rows, write):
    client.post("/stock/fruit", json={"apple": 3})
    hook()
    response = write(client)
    assert 400 <= response.status_code < 500
    assert rows("SELECT count(*) AS n FROM webhook_deliveries") == [{"n": 0}]
    assert client.get("/stock/fruit").get_json() == {"apple": 3}


def test_a_write_rolled_back_after_its_movements_announces_nothing(app, hook, rows):
    hook()
    with app.app_context():
        units.create_collection("fruit", {"apple": 3})
        with pytest.raises(RuntimeError), write_transaction():
            # The movements and their events are written, then the whole
            # transaction fails before it commits.
            units.put_member("fruit", "apple", 9)
            units.create_collection("veg", {"leek": 1})
            raise RuntimeError("the request failed after its writes")
    found = rows("SELECT type, payload FROM webhook_deliveries")
    assert [json.loads(row["payload"])["data"]["after"] for row in found] == [3]
    assert rows("SELECT count(*) AS n FROM movements") == [{"n": 1}]
    # ... and the next transaction of the same context starts clean.
    with app.app_context():
        units.put_member("fruit", "apple", 4)
    assert rows("SELECT count(*) AS n FROM webhook_deliveries") == [{"n": 2}]


def asking(statements: list[str]) -> list[str]:
    """The statements that ask whether anyone listens (any enabled
    subscription), alone or riding in another."""
    return [
        s
        for s in statements
        if "FROM webhook_subscriptions" in s
        and not s.startswith("INSERT INTO webhook_deliveries")
    ]


def test_a_write_asks_about_subscriptions_once_and_inserts_once(
    hook, client, seed, count_statements, rows, backend
):
    seed(fruit={"apple": 30})
    with count_statements() as before:
        client.post("/stock/fruit/apple/adjustments", json={"delta": -1})
    for _ in range(3):
        hook()
    with count_statements() as after:
        client.put("/stock/fruit", json={"apple": 1, "pear": 2, "fig": 3})
    with count_statements() as adjusted:
        client.post("/stock/fruit/apple/adjustments", json={"delta": -1})
    outbox = [s for s in after if s.startswith("INSERT INTO webhook_deliveries")]
    assert len(outbox) == 1  # one statement for all of a write's events
    # Without subscriptions the outbox is only asked about (on SQLite in the
    # statement that locks the collection, as a column of its own; on
    # PostgreSQL alone, in the round trip of the write's first statements);
    # with them, one more statement inserts.
    (question,) = asking(before)
    if backend == "sqlite":
        assert question.startswith("SELECT collections.id")
    else:
        assert question.startswith(ANY_SUBSCRIPTION)
    assert not [s for s in before if s.startswith("INSERT INTO webhook_deliveries")]
    assert adjusted[:-1] == before
    assert len(asking(after)) == 1
    assert adjusted[-1].startswith("INSERT INTO webhook_deliveries")
    # 3 subscriptions x (the PUT's 3 movements + the adjustment's 1).
    assert rows("SELECT count(*) AS n FROM webhook_deliveries") == [{"n": 12}]


def test_a_transfer_announces_both_movements_with_its_id(hook, client, outbox):
    hook(events=["movement.created"])
    client.post("/stock/north", json={"apple": 5})
    client.post("/stock/south", json={})
    answer = client.post(
        "/transfers",
        json={
            "from": {"collection": "north", "member": "apple"},
            "to": {"collection": "south", "member": "apple"},
            "quantity": 2,
            "reason": "rebalance",
        },
    )
    assert answer.status_code == 200
    transfer = answer.get_json()["transfer"]
    assert shapes(outbox())[1:] == [
        (
            "movement.created",
            moved("north", "apple", "transfer", 5, 3, "rebalance", transfer=transfer),
        ),
        (
            "movement.created",
            moved(
                "south", "apple", "transfer", None, 2, "rebalance", transfer=transfer
            ),
        ),
    ]


def test_a_level_change_is_a_movement_and_may_cross_the_level(hook, client, outbox):
    hook(events=["movement.created", "member.low", "member.restocked"])
    client.post("/stock/fruit", json={"apple": 5})
    for level in ("3", "6", "4", "null", "9"):
        response = client.put(
            "/stock/fruit/apple/reorder-level",
            data=level,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.get_json()

    def level(before, after, **extra):
        return moved(
            "fruit",
            "apple",
            "level",
            5,
            5,
            level_before=before,
            level_after=after,
            **extra,
        )

    # none -> 3: not low; 3 -> 6: low; 6 -> 4: restocked; 4 -> none: nothing
    # crosses (no level now); none -> 9: low.
    assert shapes(outbox()) == [
        ("movement.created", moved("fruit", "apple", "create", None, 5)),
        ("movement.created", level(None, 3)),
        ("movement.created", level(3, 6)),
        ("member.low", level(3, 6, reorder_level=6)),
        ("movement.created", level(6, 4)),
        ("member.restocked", level(6, 4, reorder_level=4)),
        ("movement.created", level(4, None)),
        ("movement.created", level(None, 9)),
        ("member.low", level(None, 9, reorder_level=9)),
    ]
