"""The JSON API of webhook subscriptions: admin scope, never a limited token."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for

from ..access.identity import current_identity
from ..access.permissions import requires_user
from ..core.api_doc import (
    documented,
    media,
    ok_response,
    operation_responses,
    problem_response,
    ref,
)
from ..core.api_document import api_blueprint
from ..core.cursors import MAX_ID
from ..core.guards import json_body
from . import subscriptions
from .guards import unlimited_admin
from .validation import subscription_body

bp = api_blueprint("webhooks_api", __name__)
_ONE = f"/webhooks/<int(max={MAX_ID}):subscription_id>"
_ONE_DELIVERY = f"{_ONE}/deliveries/<int(max={MAX_ID}):delivery_id>"
_METHOD_NOT_ALLOWED = {"405": ref("responses", "MethodNotAllowed")}
_NOT_FOUND = problem_response(
    "There is no such subscription (`Subscription not found`); an id that is"
    f" not a whole number up to {MAX_ID} routes nowhere (`Not found`).",
    subscriptions.SUBSCRIPTION_NOT_FOUND,
    "Not found",
)
_DELIVERY_NOT_FOUND = problem_response(
    "There is no such subscription, or it has no such delivery.",
    subscriptions.SUBSCRIPTION_NOT_FOUND,
    subscriptions.DELIVERY_NOT_FOUND,
    "Not found",
)


def _responses(
    success: dict[str, Any],
    *,
    body: bool = False,
    one: bool = True,
    extra: dict[str, Any] | None = None,
) -> Any:
    answers = {**_METHOD_NOT_ALLOWED, **(extra or {})}
    if one:
        answers["404"] = _NOT_FOUND
    return operation_responses(success, names=False, body=body, extra=answers)


def _allow_private() -> bool:
    return bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE"])


@bp.get("/webhooks")
@documented(
    "listWebhooks",
    tag="webhooks",
    responses=_responses(
        {
            "200": ok_response(
                "The subscriptions, oldest first; never a secret.",
                ref("schemas", "WebhookList"),
            )
        },
        one=False,
    ),
)
@requires_user("admin")
def list_webhooks() -> Any:
    """Every webhook subscription."""
    unlimited_admin()
    return {"webhooks": subscriptions.list_subscriptions()}


@bp.post("/webhooks")
@documented(
    "createWebhook",
    tag="webhooks",
    body={
        "required": True,
        "content": media(
            ref("schemas", "WebhookRequest"),
            example={
                "url": "https://shop.example/hooks/stock",
                "events": ["member.low", "member.restocked"],
                "collections": ["fruit"],
                "description": "the shop's reorder robot",
            },
        ),
    },
    responses=_responses(
        {
            "201": ok_response(
                "The new subscription with its signing secret, `secret`, shown"
                " this once; `Location` is its URL.",
                ref("schemas", "NewWebhook"),
                "Location",
            )
        },
        body=True,
        one=False,
        extra={
            "409": problem_response(
                f"There are {subscriptions.MAX_SUBSCRIPTIONS} subscriptions already.",
                subscriptions.TOO_MANY_SUBSCRIPTIONS,
            )
        },
    ),
)
@requires_user("admin")
def create_webhook() -> Any:
    """Subscribe a receiver's URL to events.

    Each event the receiver wants is sent to it signed as Standard Webhooks
    says (`webhook-id`, `webhook-timestamp`, `webhook-signature`), in the order
    it was written. The URL must be https and reach a public address, unless
    the server sets `WEBHOOKS_ALLOW_PRIVATE=1`.
    """
    unlimited_admin()
    fields = subscription_body(json_body(), allow_private=_allow_private(), new=True)
    new = subscriptions.create_subscription(fields)
    location = url_for(".get_webhook", subscription_id=new.subscription["id"])
    return {**new.subscription, "secret": new.secret}, 201, {"Location": location}


@bp.get(_ONE)
@documented(
    "getWebhook",
    tag="webhooks",
    responses=_responses(
        {"200": ok_response("The subscription.", ref("schemas", "Webhook"))}
    ),
)
@requires_user("admin")
def get_webhook(subscription_id: int) -> Any:
    """One webhook subscription."""
    unlimited_admin()
    return subscriptions.get_subscription(subscription_id)


@bp.patch(_ONE)
@documented(
    "updateWebhook",
    tag="webhooks",
    body={
        "required": True,
        "content": media(ref("schemas", "WebhookChange"), example={"enabled": False}),
    },
    responses=_responses(
        {"200": ok_response("The subscription, changed.", ref("schemas", "Webhook"))},
        body=True,
    ),
)
@requires_user("admin")
def update_webhook(subscription_id: int) -> Any:
    """Change a subscription's URL, events, collections, description, order,
    or turn it off and on.

    Turning it on again clears why it was turned off, and its waiting
    deliveries are sent at once.
    """
    unlimited_admin()
    fields = subscription_body(json_body(), allow_private=_allow_private(), new=False)
    return subscriptions.update_subscription(subscription_id, fields)


@bp.delete(_ONE)
@documented(
    "deleteWebhook",
    tag="webhooks",
    responses=_responses({"204": {"description": "Deleted; no body."}}),
)
@requires_user("admin")
def delete_webhook(subscription_id: int) -> Any:
    """Delete a subscription with its undelivered events and its log."""
    unlimited_admin()
    subscriptions.delete_subscription(subscription_id)
    return "", 204


@bp.post(f"{_ONE}/rotate-secret")
@documented(
    "rotateWebhookSecret",
    tag="webhooks",
    responses=_responses(
        {
            "200": ok_response(
                "The subscription with its new secret, `secret`, shown this once.",
                ref("schemas", "NewWebhook"),
            )
        }
    ),
)
@requires_user("admin")
def rotate_webhook_secret(subscription_id: int) -> Any:
    """Give a subscription a new signing secret.

    For 24 hours the old secret signs beside the new one (two `v1,`
    signatures in `webhook-signature`), so the receiver can switch without
    losing an event.
    """
    unlimited_admin()
    new = subscriptions.rotate_secret(subscription_id)
    return {**new.subscription, "secret": new.secret}


@bp.post(f"{_ONE}/ping")
@documented(
    "pingWebhook",
    tag="webhooks",
    responses=_responses(
        {
            "202": ok_response(
                "The ping is queued; the worker sends it.",
                ref("schemas", "WebhookDelivery"),
            )
        }
    ),
)
@requires_user("admin")
def ping_webhook(subscription_id: int) -> Any:
    """Send the receiver a signed `ping` event, to test it."""
    unlimited_admin()
    return subscriptions.ping(subscription_id, current_identity().name), 202


@bp.get(f"{_ONE}/deliveries")
@documented(
    "listWebhookDeliveries",
    tag="webhooks",
    responses=_responses(
        {
            "200": ok_response(
                f"The newest {subscriptions.RECENT_DELIVERIES} deliveries, newest"
                " first, each with its last attempt.",
                ref("schemas", "WebhookDeliveryList"),
            )
        }
    ),
)
@requires_user("admin")
def list_webhook_deliveries(subscription_id: int) -> Any:
    """A subscription's recent deliveries: state, status and latency."""
    unlimited_admin()
    return {"deliveries": subscriptions.recent_deliveries(subscription_id)}


@bp.post(f"{_ONE_DELIVERY}/redeliver")
@documented(
    "redeliverWebhook",
    tag="webhooks",
    responses=operation_responses(
        {
            "202": ok_response(
                "The event is queued again, with its id and body.",
                ref("schemas", "WebhookDelivery"),
            )
        },
        names=False,
        extra={**_METHOD_NOT_ALLOWED, "404": _DELIVERY_NOT_FOUND},
    ),
)
@requires_user("admin")
def redeliver_webhook(subscription_id: int, delivery_id: int) -> Any:
    """Send an earlier delivery's event again."""
    unlimited_admin()
    return subscriptions.redeliver(subscription_id, delivery_id), 202
