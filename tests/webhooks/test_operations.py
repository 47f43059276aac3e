"""Operating webhooks: the gauges /metrics shows, the log pruned after its
retention, the worker's command, and the settings it refuses."""

from __future__ import annotations

import pytest
from helpers import bearer

from stockapp import create_app


def gauges(client, token: str) -> dict[str, float]:
    text = client.get("/metrics", headers=bearer(token)).get_data(as_text=True)
    found = {}
    for line in text.splitlines():
        if line.startswith("stockapp_webhook"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_metrics_show_outcomes_depth_and_the_oldest_wait(
    client, admin, subscribe, receiver, deliver, make_token, rows
):
    receiver.answer = lambda received: 500
    subscribe()
    client.post("/stock/fruit", json={"apple": 1, "pear": 2})
    token = make_token("root", "metrics")
    before = gauges(client, token)
    assert before["stockapp_webhook_outbox_depth"] == 2
    assert before["stockapp_webhook_outbox_oldest_seconds"] >= 0
    assert before['stockapp_webhook_attempts{outcome="retrying"}'] == 0
    deliver()  # the first fails: the second waits behind it (ordered)
    after = gauges(client, token)
    assert after['stockapp_webhook_attempts{outcome="retrying"}'] == 1
    assert after['stockapp_webhook_attempts{outcome="delivered"}'] == 0
    assert after["stockapp_webhook_outbox_depth"] == 2
    rows("UPDATE webhook_deliveries SET created_at = '2000-01-01 00:00:00'")
    assert gauges(client, token)["stockapp_webhook_outbox_oldest_seconds"] > 8e8
    # A disabled subscription's deliveries are owed to nobody until it is on.
    client.patch("/webhooks/1", json={"enabled": False}, headers=admin)
    off = gauges(client, token)
    assert off["stockapp_webhook_outbox_depth"] == 0
    assert off["stockapp_webhook_outbox_oldest_seconds"] == 0


def test_prune_removes_old_attempts_and_finished_deliveries_only(
    app, client, subscribe, receiver, deliver, rows
):
    subscribe()
    client.post("/stock/fruit", json={"apple": 1})
    deliver()
    receiver.answer = lambda received: 500
    client.post("/stock/veg", json={"leek": 1})
    deliver()
    old = "2000-01-01 00:00:00"
    rows("UPDATE webhook_deliveries SET created_at = :old", old=old)
    rows("UPDATE webhook_attempts SET at = :old", old=old)
    result = app.test_cli_runner().invoke(args=["db", "prune"])
    assert result.exit_code == 0, result.output
    assert (
        "Removed 2 webhook attempts and 1 finished deliveries older than 30 days.\n"
        in result.output
    )
    # The pending one is still owed, however old.
    left = rows("SELECT state FROM webhook_deliveries")
    assert left == [{"state": "pending"}]


def test_deliver_once_drains_and_exits(app, client, subscribe, receiver):
    subscribe()
    client.post("/stock/fruit", json={"apple": 1})
    result = app.test_cli_runner().invoke(args=["webhooks", "deliver", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output == "Made 1 delivery attempts.\n"
    assert [received.verified for received in receiver.received] == [True]


def test_timeouts_longer_than_the_lease_are_refused(database_url):
    with pytest.raises(RuntimeError) as refused:
        create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "WEBHOOKS_ANSWER_TIMEOUT": 60,
            }
        )
    assert "WEBHOOKS_LEASE_SECONDS" in str(refused.value)
