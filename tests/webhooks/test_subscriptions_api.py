"""/webhooks: subscriptions made, read, changed, rotated and deleted by an
admin, and refused to everyone else and to every bad body."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import TIMESTAMP, bearer, invalid_detail, problem_body

from stockapp.core.extensions import db
from stockapp.core.rules import name_problem
from stockapp.webhooks.models import Subscription
from stockapp.webhooks.signing import UnreadableSecret, unseal

URL = "https://hooks.example/stock"


def invalid(errors: dict[str, str]) -> dict[str, Any]:
    return problem_body(400, "Invalid input", invalid_detail(errors), errors=errors)


def without_times(subscription: dict[str, Any]) -> dict[str, Any]:
    assert TIMESTAMP.fullmatch(subscription["created_at"])
    return {key: value for key, value in subscription.items() if key != "created_at"}


def expected(**fields: Any) -> dict[str, Any]:
    return {
        "id": 1,
        "url": URL,
        "description": None,
        "events": ["movement.created"],
        "collections": None,
        "ordered": True,
        "enabled": True,
        "disabled_reason": None,
        "failing_since": None,
        "previous_secret_until": None,
        **fields,
    }


@pytest.fixture
def hooks(app):
    """The production rules: https only, no private addresses."""
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = False
    return app


def test_an_admin_subscribes_and_sees_the_secret_once(hooks, client, admin, rows):
    body = {
        "url": URL,
        "events": ["member.low", "movement.created"],
        "collections": ["fruit", "veg"],
        "description": "the shop's robot",
    }
    response = client.post("/webhooks", json=body, headers=admin)
    assert response.status_code == 201
    assert response.headers["Location"] == "/webhooks/1"
    made = response.get_json()
    secret = made.pop("secret")
    assert secret.startswith("whsec_") and len(secret) == 50
    # The events in their canonical order, the collections sorted.
    assert without_times(made) == expected(
        events=["movement.created", "member.low"],
        collections=["fruit", "veg"],
        description="the shop's robot",
    )
    read = client.get("/webhooks/1", headers=admin)
    assert read.status_code == 200
    assert read.get_json() == made
    assert "secret" not in read.get_json()
    assert client.get("/webhooks", headers=admin).get_json() == {"webhooks": [made]}
    # Stored encrypted, never as it was shown.
    (stored,) = rows("SELECT secret FROM webhook_subscriptions")
    assert secret not in stored["secret"]
    with hooks.app_context():
        assert unseal(stored["secret"]) == secret


def test_a_change_of_secret_key_makes_the_secret_unreadable(hooks, client, admin):
    made = client.post(
        "/webhooks", json={"url": URL, "events": ["member.low"]}, headers=admin
    ).get_json()
    assert made["id"] == 1
    with hooks.app_context():
        sealed = db.session.get(Subscription, 1).secret
        hooks.config["SECRET_KEY"] = "another key"
        with pytest.raises(UnreadableSecret):
            unseal(sealed)


def test_patch_changes_only_what_it_names(hooks, client, admin):
    client.post("/webhooks", json={"url": URL, "events": ["member.low"]}, headers=admin)
    response = client.patch(
        "/webhooks/1",
        json={
            "events": ["member.restocked"],
            "collections": ["fruit"],
            "ordered": False,
        },
        headers=admin,
    )
    assert response.status_code == 200
    changed = expected(
        events=["member.restocked"], collections=["fruit"], ordered=False
    )
    assert without_times(response.get_json()) == changed
    # null: every collection again; description set, then cleared.
    client.patch(
        "/webhooks/1", json={"collections": None, "description": "x"}, headers=admin
    )
    cleared = client.patch("/webhooks/1", json={"description": None}, headers=admin)
    assert without_times(cleared.get_json()) == {**changed, "collections": None}


def test_disabling_says_why_and_enabling_clears_it(hooks, client, admin):
    client.post("/webhooks", json={"url": URL, "events": ["member.low"]}, headers=admin)
    off = client.patch("/webhooks/1", json={"enabled": False}, headers=admin).get_json()
    assert (off["enabled"], off["disabled_reason"]) == (False, "Disabled by an admin.")
    on = client.patch("/webhooks/1", json={"enabled": True}, headers=admin).get_json()
    assert (on["enabled"], on["disabled_reason"]) == (True, None)


def test_delete_removes_it_and_its_deliveries(hooks, client, admin, rows):
    client.post("/webhooks", json={"url": URL, "events": ["member.low"]}, headers=admin)
    assert client.post("/webhooks/1/ping", headers=admin).status_code == 202
    assert client.delete("/webhooks/1", headers=admin).status_code == 204
    assert client.get("/webhooks/1", headers=admin).status_code == 404
    assert rows("SELECT count(*) AS n FROM webhook_deliveries") == [{"n": 0}]
    assert rows("SELECT count(*) AS n FROM webhook_subscription_collections") == [
        {"n": 0}
    ]


def test_rotation_keeps_the_old_secret_for_a_day(hooks, client, admin):
    first = client.post(
        "/webhooks", json={"url": URL, "events": ["member.low"]}, headers=admin
    ).get_json()
    rotated = client.post("/webhooks/1/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    body = rotated.get_json()
    assert body["secret"] != first["secret"]
    assert TIMESTAMP.fullmatch(body["previous_secret_until"])
    assert body["previous_secret_until"] > first["created_at"]


def test_ping_queues_a_signed_ping_for_that_subscription(hooks, client, admin):
    client.post("/webhooks", json={"url": URL, "events": ["member.low"]}, headers=admin)
    response = client.post("/webhooks/1/ping", headers=admin)
    assert response.status_code == 202
    delivery = response.get_json()
    assert delivery["type"] == "ping"
    assert delivery["state"] == "pending"
    assert delivery["attempts"] == 0
    assert delivery["last_attempt"] is None
    assert delivery["event_id"].startswith("evt_")
    listed = client.get("/webhooks/1/deliveries", headers=admin).get_json()
    assert listed == {"deliveries": [delivery]}
    again = client.post(
        f"/webhooks/1/deliveries/{delivery['id']}/redeliver", headers=admin
    ).get_json()
    assert again["event_id"] == delivery["event_id"]
    assert again["id"] == delivery["id"] + 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/webhooks/9"),
        ("PATCH", "/webhooks/9"),
        ("DELETE", "/webhooks/9"),
        ("POST", "/webhooks/9/rotate-secret"),
        ("POST", "/webhooks/9/ping"),
        ("GET", "/webhooks/9/deliveries"),
    ],
)
def test_a_missing_subscription_is_404(hooks, client, admin, method, path):
    kwargs = {"json": {"enabled": False}} if method == "PATCH" else {}
    response = client.open(path, method=method, headers=admin, **kwargs)
    assert response.status_code == 404
    assert response.get_json() == problem_body(
        404, "Subscription not found", "There is no webhook subscription 9."
    )


def test_a_missing_delivery_is_404(hooks, client, admin):
    client.post("/webhooks", json={"url": URL, "events": ["member.low"]}, headers=admin)
    response = client.post("/webhooks/1/deliveries/5/redeliver", headers=admin)
    assert response.status_code == 404
    assert response.get_json() == problem_body(
        404, "Delivery not found", "Subscription 1 has no delivery 5."
    )


def test_an_id_beyond_64_bits_routes_nowhere(hooks, client, admin):
    assert client.get(f"/webhooks/{2**63}", headers=admin).status_code == 404


SLASH_RULE = name_problem("a/b")
HTTPS_ONLY = (
    "must be https (plain http only with WEBHOOKS_ALLOW_PRIVATE=1, for a receiver"
    " on the LAN)"
)
EVENTS_RULE = (
    "must be a list of one or more of movement.created, member.low,"
    " member.restocked, collection.deleted"
)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ([], {"body": "must be a JSON object with a url and events"}),
        ({}, {"url": "is required", "events": "is required"}),
        (
            {"url": "http://hooks.example/x", "events": ["member.low"]},
            {"url": HTTPS_ONLY},
        ),
        (
            {"url": "ftp://hooks.example/x", "events": ["member.low"]},
            {"url": "must be an absolute https URL with a host name"},
        ),
        (
            {"url": "https:///x", "events": ["member.low"]},
            {"url": "must be an absolute https URL with a host name"},
        ),
        (
            {"url": "https://a:b@hooks.example/", "events": ["member.low"]},
            {"url": "must not carry a user name or password"},
        ),
        (
            {"url": "https://hooks.example/#x", "events": ["member.low"]},
            {"url": "must not have a #fragment"},
        ),
        (
            {"url": "https://hooks.example:99999/", "events": ["member.low"]},
            {"url": "must be an absolute http(s) URL"},
        ),
        (
            {"url": "https://hooks.example/a b", "events": ["member.low"]},
            {"url": "must not contain spaces or control characters"},
        ),
        (
            {"url": "https://" + "a" * 2048, "events": ["member.low"]},
            {"url": "must be 1 to 2048 characters"},
        ),
        ({"url": 5, "events": ["member.low"]}, {"url": "must be a string"}),
        (
            {"url": "https://127.0.0.1/", "events": ["member.low"]},
            {"url": "names a loopback address (127.0.0.1)"},
        ),
        (
            {"url": "https://10.1.2.3/", "events": ["member.low"]},
            {"url": "names a private address (10.1.2.3)"},
        ),
        (
            {"url": "https://169.254.169.254/latest", "events": ["member.low"]},
            {"url": "names a link-local address (169.254.169.254)"},
        ),
        (
            {"url": "https://[::1]/", "events": ["member.low"]},
            {"url": "names a loopback address (::1)"},
        ),
        (
            {"url": "https://[::ffff:192.168.0.1]/", "events": ["member.low"]},
            {"url": "names a private address (192.168.0.1)"},
        ),
        (
            {"url": "https://224.0.0.1/", "events": ["member.low"]},
            {"url": "names a multicast address (224.0.0.1)"},
        ),
        (
            {"url": "https://0.0.0.0/", "events": ["member.low"]},
            {"url": "names a private address (0.0.0.0)"},
        ),
        ({"url": URL, "events": []}, {"events": EVENTS_RULE}),
        ({"url": URL, "events": ["member.gone"]}, {"events": EVENTS_RULE}),
        ({"url": URL, "events": "member.low"}, {"events": EVENTS_RULE}),
        (
            {"url": URL, "events": ["member.low", "member.low"]},
            {"events": "names an event more than once"},
        ),
        (
            {"url": URL, "events": ["member.low"], "collections": []},
            {
                "collections": "must be a list of 1 to 100 collection names,"
                " or null for every collection"
            },
        ),
        (
            {"url": URL, "events": ["member.low"], "collections": ["a/b"]},
            {"collections": "holds 'a/b', which " + SLASH_RULE},
        ),
        (
            {"url": URL, "events": ["member.low"], "description": "x" * 201},
            {"description": "must be a string of at most 200 characters, or null"},
        ),
        (
            {"url": URL, "events": ["member.low"], "description": "a\nb"},
            {"description": "must be valid Unicode without control characters"},
        ),
        (
            {"url": URL, "events": ["member.low"], "ordered": 1},
            {"ordered": "must be true or false"},
        ),
        (
            {"url": URL, "events": ["member.low"], "enabled": True},
            {
                "enabled": "is not a field of a subscription (url, events, collections,"
                " description, ordered)"
            },
        ),
    ],
)
def test_a_bad_subscription_is_refused_and_nothing_stored(
    hooks, client, admin, rows, body, errors
):
    response = client.post("/webhooks", json=body, headers=admin)
    assert response.status_code == 400
    assert response.get_json() == invalid(errors)
    assert rows("SELECT count(*) AS n FROM webhook_subscriptions") == [{"n": 0}]


def test_a_bad_change_is_refused_and_nothing_changes(hooks, client, admin):
    made = client.post(
        "/webhooks", json={"url": URL, "events": ["member.low"]}, headers=admin
    ).get_json()
    del made["secret"]
    for body, errors in (
        ([], {"body": "must be a JSON object of the fields to change"}),
        ({"enabled": "no"}, {"enabled": "must be true or false"}),
        ({"url": "https://[::1]/"}, {"url": "names a loopback address (::1)"}),
        (
            {"secret": "whsec_x"},
            {
                "secret": "is not a field of a subscription (url,"
                " events, collections, description, ordered, enabled)"
            },
        ),
    ):
        response = client.patch("/webhooks/1", json=body, headers=admin)
        assert response.status_code == 400
        assert response.get_json() == invalid(errors)
    assert client.get("/webhooks/1", headers=admin).get_json() == made


def test_plain_http_and_the_lan_with_webhooks_allow_private(app, client, admin):
    body = {"url": "http://192.168.1.20:8080/hook", "events": ["member.low"]}
    response = client.post("/webhooks", json=body, headers=admin)
    assert response.status_code == 201
    assert response.get_json()["url"] == body["url"]


def test_an_admin_token_limited_to_collections_is_refused(
    hooks, client, make_user, make_token, rows
):
    make_user("root", "admin")
    limited = bearer(make_token("root", "admin", collections=["fruit"]))
    body = {"url": URL, "events": ["member.low"], "collections": ["fruit"]}
    for method, path in (("GET", "/webhooks"), ("POST", "/webhooks")):
        response = client.open(path, method=method, json=body, headers=limited)
        assert response.status_code == 403
        assert response.get_json() == problem_body(
            403,
            "Forbidden",
            "Webhooks need an admin token that is not limited to some collections.",
        )
    assert rows("SELECT count(*) AS n FROM webhook_subscriptions") == [{"n": 0}]


def test_a_clerk_is_refused(hooks, client, make_user, make_token):
    make_user("clerk", "clerk")
    clerk = bearer(make_token("clerk", "write"))
    response = client.post(
        "/webhooks", json={"url": URL, "events": ["member.low"]}, headers=clerk
    )
    assert response.status_code == 403


def test_at_most_100_subscriptions(hooks, client, admin, rows):
    body = {"url": URL, "events": ["member.low"]}
    for _ in range(100):
        assert client.post("/webhooks", json=body, headers=admin).status_code == 201
    refused = client.post("/webhooks", json=body, headers=admin)
    assert refused.status_code == 409
    assert refused.get_json() == problem_body(
        409,
        "Too many subscriptions",
        "There are 100 webhook subscriptions already, the most there may be: every"
        " write is matched against each of them. Delete one first.",
    )
    assert rows("SELECT count(*) AS n FROM webhook_subscriptions") == [{"n": 100}]
    assert client.delete("/webhooks/7", headers=admin).status_code == 204
    assert client.post("/webhooks", json=body, headers=admin).status_code == 201
