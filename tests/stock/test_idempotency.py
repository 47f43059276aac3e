"""Idempotency-Key on POST: applied at most once, replayed, refused when reused."""

from datetime import timedelta

import pytest
from sqlalchemy import bindparam, text

from stockapp import create_app
from stockapp.core.clock import utcnow
from stockapp.core.extensions import db
from stockapp.stock.idempotency import prune_expired_keys


def post(client, path, body, key="key-1"):
    return client.post(path, json=body, headers={"Idempotency-Key": key})


def test_retried_create_is_replayed_not_applied_again(client, stored):
    first = post(client, "/stock/fruit", {"apple": 30})
    assert first.status_code == 201
    client.put("/stock/fruit/apple", json=5)
    again = post(client, "/stock/fruit", {"apple": 30})
    assert again.status_code == 201
    assert again.get_json() == {"message": "Collection created"}
    assert again.headers["Location"] == "/stock/fruit"
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert stored() == {"fruit": {"apple": 5}}


def test_retried_adjustment_is_applied_once(client, seed, stored):
    seed(fruit={"apple": 30})
    path = "/stock/fruit/apple/adjustments"
    replies = [post(client, path, {"delta": -3, "reason": "sold"}) for _ in range(3)]
    assert [r.status_code for r in replies] == [200, 200, 200]
    assert [r.get_json() for r in replies] == [{"quantity": 27}] * 3
    assert stored() == {"fruit": {"apple": 27}}
    history = client.get("/stock/fruit/apple/history").get_json()["movements"]
    assert [m["kind"] for m in history] == ["adjust", "create"]


def test_different_keys_apply_separately(client, seed, stored):
    seed(fruit={"apple": 30})
    path = "/stock/fruit/apple/adjustments"
    post(client, path, {"delta": -1}, key="a")
    post(client, path, {"delta": -1}, key="b")
    assert stored() == {"fruit": {"apple": 28}}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/stock/fruit/apple/adjustments", {"delta": -4}),
        ("/stock/fruit/pear/adjustments", {"delta": -3}),
        ("/stock/other", {"apple": 1}),
    ],
)
def test_same_key_for_a_different_request_is_422(client, seed, stored, path, body):
    seed(fruit={"apple": 30, "pear": 30})
    post(client, "/stock/fruit/apple/adjustments", {"delta": -3})
    response = post(client, path, body)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Unprocessable Entity",
        "status": 422,
        "detail": 'Idempotency-Key "key-1" was used for a different request;'
        " nothing was changed.",
        "error": "Idempotency key reused",
    }
    assert stored() == {"fruit": {"apple": 27, "pear": 30}}


def test_a_failed_request_keeps_no_key_and_may_be_retried(client, seed, stored):
    seed(fruit={"apple": 2})
    path = "/stock/fruit/apple/adjustments"
    assert post(client, path, {"delta": -3}).status_code == 409
    client.put("/stock/fruit/apple", json=10)
    retry = post(client, path, {"delta": -3})
    assert retry.status_code == 200
    assert "Idempotent-Replayed" not in retry.headers
    assert stored() == {"fruit": {"apple": 7}}


def test_existing_collection_with_a_new_key_is_still_400(client, seed, stored):
    seed(fruit={"apple": 1})
    response = post(client, "/stock/fruit", {"apple": 2})
    assert response.status_code == 400
    assert response.get_json()["error"] == "Collection already exists"
    assert stored() == {"fruit": {"apple": 1}}


@pytest.mark.parametrize("key", ["", "x" * 256, "clé", "has space", "tab\there"])
def test_malformed_key_is_400(client, seed, stored, key):
    seed(fruit={"apple": 30})
    response = post(client, "/stock/fruit/apple/adjustments", {"delta": -1}, key=key)
    assert response.status_code == 400
    assert response.get_json()["errors"] == {
        "Idempotency-Key": "must be 1 to 255 visible ASCII characters"
    }
    assert stored() == {"fruit": {"apple": 30}}


def test_key_of_255_characters_is_accepted(client, seed):
    seed(fruit={"apple": 30})
    response = post(client, "/stock/fruit/apple/adjustments", {"delta": -1}, "k" * 255)
    assert response.status_code == 200


def test_keys_expire_after_24_hours_and_are_purged(app, client, seed, stored):
    seed(fruit={"apple": 30})
    path = "/stock/fruit/apple/adjustments"
    post(client, path, {"delta": -1}, key="old")
    post(client, path, {"delta": -1}, key="recent")
    with app.app_context():
        db.session.execute(
            text("UPDATE idempotency_keys SET created_at = :at WHERE key = 'old'"),
            {"at": utcnow() - timedelta(hours=24, seconds=1)},
        )
        db.session.commit()
    assert "Idempotent-Replayed" not in post(client, path, {"delta": -1}, "old").headers
    assert post(client, path, {"delta": -1}, "recent").headers["Idempotent-Replayed"]
    assert stored() == {"fruit": {"apple": 27}}
    with app.app_context():
        keys = db.session.execute(text("SELECT key FROM idempotency_keys")).scalars()
        assert sorted(keys) == ["old", "recent"]


def test_keys_survive_a_restart(client, seed, database_url):
    seed(fruit={"apple": 30})
    post(client, "/stock/fruit/apple/adjustments", {"delta": -1})
    restarted = create_app({"SQLALCHEMY_DATABASE_URI": database_url}).test_client()
    reply = post(restarted, "/stock/fruit/apple/adjustments", {"delta": -1})
    assert reply.headers["Idempotent-Replayed"] == "true"
    assert restarted.get("/stock/fruit/apple").get_json() == 29


def test_without_a_key_every_post_applies(client, seed, stored):
    seed(fruit={"apple": 30})
    for _ in range(2):
        client.post("/stock/fruit/apple/adjustments", json={"delta": -1})
    assert stored() == {"fruit": {"apple": 28}}


def test_a_keyed_request_deletes_no_other_expired_key(app, client, seed):
    seed(fruit={"apple": 30})
    path = "/stock/fruit/apple/adjustments"
    for key in ("a", "b"):
        post(client, path, {"delta": -1}, key=key)
    age(app, "a", "b")
    post(client, path, {"delta": -1}, key="c")
    assert stored_keys(app) == ["a", "b", "c"]


def test_expired_keys_are_pruned_in_batches(app, client, seed):
    seed(fruit={"apple": 30})
    path = "/stock/fruit/apple/adjustments"
    for key in ("a", "b", "c", "d", "e", "fresh"):
        post(client, path, {"delta": -1}, key=key)
    age(app, "a", "b", "c", "d", "e")
    with app.app_context():
        assert prune_expired_keys(batch_size=2) == 5
        assert prune_expired_keys(batch_size=2) == 0
    assert stored_keys(app) == ["fresh"]
    # The expired keys are new keys again.
    assert "Idempotent-Replayed" not in post(client, path, {"delta": -1}, "a").headers


def age(app, *keys: str) -> None:
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE idempotency_keys SET created_at = :at WHERE key IN :keys"
            ).bindparams(bindparam("keys", expanding=True)),
            {"at": utcnow() - timedelta(hours=24, seconds=1), "keys": list(keys)},
        )
        db.session.commit()


def stored_keys(app) -> list[str]:
    with app.app_context():
        return sorted(
            db.session.execute(text("SELECT key FROM idempotency_keys")).scalars()
        )
