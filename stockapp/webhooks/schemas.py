"""The webhooks' part of the API document: the subscriptions' schemas, and the
events themselves in OpenAPI 3.1's top-level ``webhooks``."""

from __future__ import annotations

from typing import Any

from flask import Flask

from ..access.schemas import collection_names
from ..core.api_doc import TIMESTAMP, Schema, media, ref
from ..core.cursors import MAX_ID
from ..core.rules import MAX_REASON_LENGTH
from ..history.models import GROUP_ID_LENGTH, MOVEMENT_KINDS
from ..history.schemas import DETAIL_CHANGES
from .models import (
    DELIVERY_STATES,
    EVENT_TYPES,
    MAX_ANSWER_KEPT,
    MAX_DESCRIPTION_LENGTH,
    MAX_URL_LENGTH,
)
from .signing import SECRET_PREFIX
from .worker import OUTCOMES

TAGS = [
    {
        "name": "webhooks",
        "description": "Signed events for other systems: subscriptions, their"
        " deliveries, and the events (see the document's `webhooks`).",
    }
]
_NULLABLE_TIME = {"oneOf": [TIMESTAMP, {"type": "null"}]}


def _grouped(properties: dict[str, Schema]) -> Schema:
    """A movement's data: ``properties``, what it went with when anything (a
    batch, a transfer or a stocktake, as the history names them), and what a
    level or code movement changed."""
    schema = _object(properties)
    schema["properties"] = {
        **properties,
        "batch": {"type": "string", "maxLength": GROUP_ID_LENGTH},
        "transfer": {"type": "string", "maxLength": GROUP_ID_LENGTH},
        "stocktake": {"type": "integer", "minimum": 1},
        **DETAIL_CHANGES,
    }
    return schema


def _object(properties: dict[str, Schema], **extra: Any) -> Schema:
    return {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }


def webhook_parameters() -> dict[str, Schema]:
    """The path parameters of the subscriptions' routes."""
    return {
        name: {
            "name": parameter,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
        }
        for name, parameter in (
            ("SubscriptionId", "subscription_id"),
            ("DeliveryId", "delivery_id"),
        )
    }


def webhook_schemas() -> dict[str, Schema]:
    """The schemas of subscriptions, deliveries and events."""
    name = ref("schemas", "Name")
    quantity = ref("schemas", "Quantity")
    nullable_quantity = {"oneOf": [quantity, {"type": "null"}]}
    url = {
        "type": "string",
        "format": "uri",
        "minLength": 1,
        "maxLength": MAX_URL_LENGTH,
    }
    events = {
        "type": "array",
        "items": {"enum": list(EVENT_TYPES)},
        "minItems": 1,
        "uniqueItems": True,
    }
    collections = collection_names(
        "The collections whose events it wants; null: every one."
    )
    description = {
        "type": ["string", "null"],
        "maxLength": MAX_DESCRIPTION_LENGTH,
    }
    ordered = {
        "type": "boolean",
        "description": "Whether a later event waits while an earlier one is"
        " retried (the default); false sends each as soon as it can.",
    }
    subscription = {
        "id": {"type": "integer", "minimum": 1},
        "url": url,
        "description": description,
        "events": events,
        "collections": collections,
        "ordered": ordered,
        "enabled": {"type": "boolean"},
        "disabled_reason": {"type": ["string", "null"]},
        "failing_since": {
            **_NULLABLE_TIME,
            "description": "Since when every attempt has failed; a day of that"
            " disables the subscription.",
        },
        "previous_secret_until": {
            **_NULLABLE_TIME,
            "description": "Until when the secret before the last rotation still"
            " signs beside the current one.",
        },
        "created_at": TIMESTAMP,
    }
    secret = {
        "type": "string",
        "pattern": f"^{SECRET_PREFIX}[A-Za-z0-9+/]{{43}}=$",
        "description": "The signing secret, for the receiver's Standard Webhooks"
        " library; kept encrypted and never shown again.",
    }
    request_fields = {
        "url": url,
        "events": events,
        "collections": collections,
        "description": description,
        "ordered": ordered,
    }
    attempt = _object(
        {
            "at": TIMESTAMP,
            "outcome": {"enum": list(OUTCOMES)},
            "status": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "latency_ms": {"type": "integer", "minimum": 0},
            "answer": {
                "type": ["string", "null"],
                "description": f"The first {MAX_ANSWER_KEPT} bytes of the answer.",
            },
        }
    )
    delivery = _object(
        {
            "id": {"type": "integer", "minimum": 1},
            "event_id": {"type": "string"},
            "type": {"enum": [*EVENT_TYPES, "ping"]},
            "state": {"enum": list(DELIVERY_STATES)},
            "attempts": {"type": "integer", "minimum": 0},
            "created_at": TIMESTAMP,
            "next_attempt_at": _NULLABLE_TIME,
            "delivered_at": _NULLABLE_TIME,
            "last_attempt": {"oneOf": [attempt, {"type": "null"}]},
        }
    )
    movement_data = {
        "collection": name,
        "member": name,
        "kind": {"enum": list(MOVEMENT_KINDS)},
        "before": nullable_quantity,
        "after": nullable_quantity,
        "reason": {"type": ["string", "null"], "maxLength": MAX_REASON_LENGTH},
        "version": {
            "type": ["integer", "null"],
            "description": "The member's version (its ETag) after the change;"
            " null once it is gone.",
        },
        "movement_id": {"type": "integer", "minimum": 1},
    }
    return {
        "Webhook": _object(subscription),
        "NewWebhook": _object({**subscription, "secret": secret}),
        "WebhookList": _object(
            {"webhooks": {"type": "array", "items": ref("schemas", "Webhook")}}
        ),
        "WebhookRequest": {
            "type": "object",
            "required": ["url", "events"],
            "properties": request_fields,
            "additionalProperties": False,
        },
        "WebhookChange": {
            "type": "object",
            "properties": {**request_fields, "enabled": {"type": "boolean"}},
            "additionalProperties": False,
        },
        "WebhookDelivery": delivery,
        "WebhookDeliveryList": _object(
            {
                "deliveries": {
                    "type": "array",
                    "items": ref("schemas", "WebhookDelivery"),
                }
            }
        ),
        "MovementEvent": _event(
            "movement.created", "A movement was committed.", _grouped(movement_data)
        ),
        "LowStockEvent": _event(
            "member.low",
            "A movement took a member from above its reorder level to at or"
            " below it, or a new level put it there (once per crossing, not"
            " once per movement below).",
            _grouped({**movement_data, "reorder_level": quantity}),
        ),
        "RestockedEvent": _event(
            "member.restocked",
            "A movement took a member from at or below its reorder level to"
            " above it, or a new level did.",
            _grouped({**movement_data, "reorder_level": quantity}),
        ),
        "CollectionDeletedEvent": _event(
            "collection.deleted",
            "A collection was deleted (a movement.created for each of its"
            " members comes before).",
            _object({"collection": name}),
        ),
    }


def _event(kind: str, description: str, data: Schema) -> Schema:
    return _object(
        {
            "id": {
                "type": "string",
                "description": "The event's id, as in `webhook-id`; the same"
                " in every delivery of it (a redelivery too).",
            },
            "type": {"const": kind},
            "timestamp": TIMESTAMP,
            "by": {
                "oneOf": [ref("schemas", "Name"), {"type": "null"}],
                "description": "The user who made the change; null: anonymous.",
            },
            "data": data,
        },
        description=description,
    )


_EVENT_SCHEMAS = {
    "movement.created": "MovementEvent",
    "member.low": "LowStockEvent",
    "member.restocked": "RestockedEvent",
    "collection.deleted": "CollectionDeletedEvent",
}


def describe_events(document: dict[str, Any], _app: Flask) -> None:
    """Add the top-level ``webhooks``: each event as the request stockapp makes."""
    signed = (
        "Sent by POST, signed as Standard Webhooks says: `webhook-id` (the"
        " body's `id`), `webhook-timestamp` (Unix seconds) and"
        " `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of"
        " `id.timestamp.body` under the secret; two during a rotation). Any 2xx"
        " answer within 10 s delivers it; anything else is retried for about a"
        " day; 410 turns the subscription off."
    )
    document["webhooks"] = {
        kind: {
            "post": {
                "operationId": kind.replace(".", "_"),
                "summary": document["components"]["schemas"][schema]["description"],
                "description": signed,
                "tags": ["webhooks"],
                "requestBody": {
                    "required": True,
                    "content": media(ref("schemas", schema)),
                },
                "responses": {
                    "2XX": {"description": "Delivered."},
                    "410": {"description": "Gone: the subscription is turned off."},
                },
            }
        }
        for kind, schema in _EVENT_SCHEMAS.items()
    }
