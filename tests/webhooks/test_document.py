"""The OpenAPI document's top-level ``webhooks``: one entry per event, and each
body the worker really sends is valid against the schema it names."""

from __future__ import annotations

from jsonschema import Draft202012Validator

EVENT_SCHEMAS = {
    "movement.created": "MovementEvent",
    "member.low": "LowStockEvent",
    "member.restocked": "RestockedEvent",
    "collection.deleted": "CollectionDeletedEvent",
}


def validator(document: dict, schema: str) -> Draft202012Validator:
    return Draft202012Validator({**document, "$ref": f"#/components/schemas/{schema}"})


def test_the_document_names_each_event(client):
    document = client.get("/openapi.json").get_json()
    assert list(document["webhooks"]) == list(EVENT_SCHEMAS)
    for event, schema in EVENT_SCHEMAS.items():
        operation = document["webhooks"][event]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{schema}"}
        assert "webhook-signature" in operation["description"]


def test_every_event_sent_matches_its_schema(client, subscribe, receiver, deliver):
    subscribe(events=list(EVENT_SCHEMAS))
    client.post("/stock/fruit", json={"apple": 30})
    client.put("/stock/fruit/apple/reorder-level", json=10)
    client.post("/stock/fruit/apple/adjustments", json={"delta": -25, "reason": "sold"})
    client.post("/stock/fruit/apple/adjustments", json={"delta": 20})
    client.put("/stock/fruit/apple/reorder-level", json=30)  # low by its level
    client.put("/stock/fruit/apple/code", json="4006381333931")
    client.delete("/stock/fruit")
    deliver()
    document = client.get("/openapi.json").get_json()
    sent = receiver.events()
    assert [(event["type"], event["data"].get("kind")) for event in sent] == [
        ("movement.created", "create"),
        ("movement.created", "level"),
        ("movement.created", "adjust"),
        ("member.low", "adjust"),
        ("movement.created", "adjust"),
        ("member.restocked", "adjust"),
        ("movement.created", "level"),
        ("member.low", "level"),
        ("movement.created", "code"),
        ("movement.created", "delete"),
        ("collection.deleted", None),
    ]
    for event in sent:
        errors = list(
            validator(document, EVENT_SCHEMAS[event["type"]]).iter_errors(event)
        )
        assert errors == [], event
    # ... and the schemas are strict: a body with a stray key is not valid.
    stray = {**sent[0], "extra": 1}
    assert not validator(document, "MovementEvent").is_valid(stray)
