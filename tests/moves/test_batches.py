"""POST /batch: several writes as one, each answered as its own route would,
all of them stored or none."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import ANY_SUBSCRIPTION, bearer, invalid_detail, problem_body

MAX = 2**63 - 1
DELTA_RULE = f"must be a non-zero JSON integer from -{MAX} to {MAX}"
QUANTITY_RULE = f"must be a JSON integer from 0 to {MAX}"
EMPTY_IF_MATCH = (
    "is empty: send the ETag you read, or * (an unset shell variable is the usual"
    " cause)"
)
UNKNOWN_OP = (
    "must be one of adjust, put_member, delete_member, put, patch, delete,"
    " reorder_level"
)
NOT_A_FIELD = "is not a field of an operation (op, collection, member, body, if_match)"
# What the batch's movements are read back as.
LOGGED = 'SELECT collection, member, kind, "before", "after", reason, batch'


def post_batch(client, *operations: dict[str, Any], **kwargs: Any):
    return client.post("/batch", json={"operations": list(operations)}, **kwargs)


def adjust(collection: str, member: str, delta: int, **more: Any) -> dict[str, Any]:
    return {
        "op": "adjust",
        "collection": collection,
        "member": member,
        "body": {"delta": delta},
        **more,
    }


def invalid(errors: dict[str, str], **extra: Any) -> dict[str, Any]:
    return problem_body(
        400, "Invalid input", invalid_detail(errors), errors=errors, **extra
    )


@pytest.fixture
def movements(rows):
    """The movement log, oldest first: (collection, member, kind, before,
    after, reason, batch)."""

    def read() -> list[tuple]:
        return [
            tuple(row.values()) for row in rows(f"{LOGGED} FROM movements ORDER BY id")
        ]

    return read


# Each op alone answers as its route ------------------------------------------------

# (method, path, body, operation, the URL whose ETag the answer carries): "{c}"
# is the collection, "mine" for the batch and "twin" for the single route.
NO_BODY = object()
ALONE = {
    "adjust": (
        "POST",
        "/stock/{c}/apple/adjustments",
        {"delta": -3, "reason": "sold"},
        {"op": "adjust", "member": "apple"},
        "/stock/{c}/apple",
    ),
    "put_member replaces": (
        "PUT",
        "/stock/{c}/apple",
        7,
        {"op": "put_member", "member": "apple"},
        "/stock/{c}/apple",
    ),
    "put_member creates": (
        "PUT",
        "/stock/{c}/kiwi",
        4,
        {"op": "put_member", "member": "kiwi"},
        "/stock/{c}/kiwi",
    ),
    "put_member, the same quantity": (
        "PUT",
        "/stock/{c}/apple",
        30,
        {"op": "put_member", "member": "apple"},
        "/stock/{c}/apple",
    ),
    "delete_member": (
        "DELETE",
        "/stock/{c}/pear",
        NO_BODY,
        {"op": "delete_member", "member": "pear"},
        None,
    ),
    "put replaces": (
        "PUT",
        "/stock/{c}",
        {"apple": 1, "fig": 2},
        {"op": "put"},
        "/stock/{c}",
    ),
    "put creates": (
        "PUT",
        "/stock/{c}-new",
        {"fig": 2},
        {"op": "put", "collection": "{c}-new"},
        "/stock/{c}-new",
    ),
    "patch updates": (
        "PATCH",
        "/stock/{c}",
        {"pear": None, "fig": 2},
        {"op": "patch"},
        "/stock/{c}",
    ),
    "patch creates": (
        "PATCH",
        "/stock/{c}-new",
        {"fig": 2},
        {"op": "patch", "collection": "{c}-new"},
        "/stock/{c}-new",
    ),
    "delete": ("DELETE", "/stock/{c}", NO_BODY, {"op": "delete"}, None),
    "reorder_level sets": (
        "PUT",
        "/stock/{c}/apple/reorder-level",
        5,
        {"op": "reorder_level", "member": "apple"},
        "/stock/{c}/apple",
    ),
    "reorder_level clears": (
        "PUT",
        "/stock/{c}/apple/reorder-level",
        None,
        {"op": "reorder_level", "member": "apple"},
        "/stock/{c}/apple",
    ),
}


def renamed(stock: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {name.replace(old, new, 1): members for name, members in stock.items()}


@pytest.mark.parametrize("case", ALONE)
def test_each_op_alone_answers_as_its_route(client, seed, stored, movements, case):
    method, path, body, operation, tagged = ALONE[case]
    seed(mine={"apple": 30, "pear": 2}, twin={"apple": 30, "pear": 2})
    client.put("/stock/mine/pear/reorder-level", json=1)
    client.put("/stock/twin/pear/reorder-level", json=1)
    before = len(movements())
    sent = {}
    if body is not NO_BODY:
        sent = {"data": json.dumps(body), "content_type": "application/json"}
    single = client.open(path.format(c="twin"), method=method, **sent)
    fields = {"collection": "{c}", **operation}
    if body is not NO_BODY:
        fields["body"] = body
    fields = {
        key: value.format(c="mine") if isinstance(value, str) else value
        for key, value in fields.items()
    }
    response = post_batch(client, fields)

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert list(answer) == ["batch", "results"]
    [result] = answer["results"]
    assert result["status"] == single.status_code
    assert result["body"] == (None if single.status_code == 204 else single.get_json())
    assert ("etag" in result) == ("ETag" in single.headers)
    if tagged is not None:
        assert result["etag"] == client.get(tagged.format(c="mine")).headers["ETag"]
    assert sorted(result) == (
        ["body", "etag", "status"] if tagged else ["body", "status"]
    )
    # The same stock, and the same movements, each naming the batch.
    stock = stored()
    mine = {name: members for name, members in stock.items() if "mine" in name}
    twin = {name: members for name, members in stock.items() if "twin" in name}
    assert mine == renamed(twin, "twin", "mine")
    logged = movements()[before:]
    singles = [m for m in logged if "twin" in m[0]]
    batched = [m for m in logged if "mine" in m[0]]
    assert [(m[0].replace("mine", "twin", 1), *m[1:6]) for m in batched] == [
        m[:6] for m in singles
    ]
    assert {m[6] for m in batched} <= {answer["batch"]}
    assert {m[6] for m in singles} <= {None}


def test_a_later_operation_sees_what_an_earlier_one_made(client, seed, stored):
    seed(fruit={"apple": 3})
    response = post_batch(
        client,
        {"op": "put", "collection": "veg", "body": {"leek": 1}},
        {"op": "put_member", "collection": "veg", "member": "kale", "body": 10},
        adjust("veg", "kale", -4),
        adjust("veg", "kale", 1),
        {"op": "reorder_level", "collection": "veg", "member": "kale", "body": 7},
        {"op": "delete_member", "collection": "fruit", "member": "apple"},
    )
    assert response.status_code == 200, response.get_json()
    results = response.get_json()["results"]
    assert [(r["status"], r["body"]) for r in results] == [
        (201, {"message": "Collection created"}),
        (201, {"message": "Member created"}),
        (200, {"quantity": 6}),
        (200, {"quantity": 7}),
        (200, {"message": "Reorder level set"}),
        (204, None),
    ]
    # Each ETag is the one its resource had just then: the last is current.
    kale = client.get("/stock/veg/kale").headers["ETag"]
    assert results[4]["etag"] == kale
    assert len({r["etag"] for r in results[1:5]}) == 4
    assert stored() == {"fruit": {}, "veg": {"leek": 1, "kale": 7}}
    assert client.get("/stock/veg/kale/reorder-level").get_json() == 7


def test_if_match_takes_the_etag_of_what_the_operation_writes(client, seed, stored):
    seed(fruit={"apple": 3})
    apple = client.get("/stock/fruit/apple").headers["ETag"]
    fruit = client.get("/stock/fruit").headers["ETag"]
    operations = [
        {"op": "patch", "collection": "fruit", "body": {"fig": 1}, "if_match": fruit},
        adjust("fruit", "apple", 1, if_match=apple),
        adjust("fruit", "fig", 1, if_match="*"),
    ]
    # The last one names the apple's tag from before the second changed it.
    stale = adjust("fruit", "apple", 1, if_match=f'"0", {apple}, W/"1"')
    refused = post_batch(client, *operations, stale)
    assert stored() == {"fruit": {"apple": 3}}
    response = post_batch(client, *operations)
    assert response.status_code == 200, response.get_json()
    assert stored() == {"fruit": {"apple": 4, "fig": 2}}
    # The tag the refusal names is the one the second operation gave the apple.
    assert refused.status_code == 412
    assert refused.get_json() == problem_body(
        412,
        "Precondition failed",
        f"If-Match does not hold: the resource has ETag"
        f" {response.get_json()['results'][1]['etag']}; nothing was changed.",
        index=3,
    )


# A refused operation refuses the batch --------------------------------------------

REFUSED = {
    "no such collection": (
        adjust("veg", "leek", 1),
        problem_body(404, "Collection not found", 'There is no collection "veg".'),
    ),
    "no such member": (
        adjust("fruit", "fig", 1),
        problem_body(
            404, "Member not found", 'Collection "fruit" has no member "fig".'
        ),
    ),
    "insufficient stock": (
        adjust("fruit", "pear", -3),
        problem_body(
            409,
            "Insufficient stock",
            'Adjusting "pear" in "fruit" by -3 would take its quantity 2 below 0;'
            " nothing was changed.",
            quantity=2,
        ),
    ),
    "over the maximum": (
        adjust("fruit", "pear", MAX),
        problem_body(
            409,
            "Quantity limit exceeded",
            f'Adjusting "pear" in "fruit" by {MAX} would take its quantity 2 above'
            f" {MAX}; nothing was changed.",
            quantity=2,
        ),
    ),
    "if_match": (
        adjust("fruit", "pear", 1, if_match='"1"'),
        None,  # 412: the pear's tag is read in the test
    ),
    "delete of a missing collection": (
        {"op": "delete", "collection": "veg"},
        problem_body(404, "Collection not found", 'There is no collection "veg".'),
    ),
    "a bad body": (
        {**adjust("fruit", "pear", 1), "body": {"delta": 0}},
        problem_body(
            400,
            "Invalid input",
            f"delta: {DELTA_RULE}",
            errors={"delta": DELTA_RULE},
        ),
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_a_refused_operation_refuses_the_whole_batch(
    client, seed, stored, movements, case
):
    seed(fruit={"apple": 30, "pear": 2})
    operation, expected = REFUSED[case]
    if expected is None:
        pear = client.get("/stock/fruit/pear").headers["ETag"]
        expected = problem_body(
            412,
            "Precondition failed",
            f"If-Match does not hold: the resource has ETag {pear}; nothing was"
            " changed.",
        )
    before = movements()
    response = post_batch(
        client,
        # Before it: a change, a new member and a new collection.
        adjust("fruit", "apple", -5),
        {"op": "put_member", "collection": "fruit", "member": "kiwi", "body": 1},
        {"op": "put", "collection": "herbs", "body": {"basil": 1}},
        operation,
        adjust("fruit", "apple", -5),
    )
    assert response.status_code == expected["status"]
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {**expected, "index": 3}
    assert stored() == {"fruit": {"apple": 30, "pear": 2}}
    assert movements() == before


def test_a_refused_operation_is_named_before_anything_runs(client, seed, stored):
    seed(fruit={"apple": 30})
    # The first operation would be refused (404) when run, the second is refused
    # when read: the batch is read whole first.
    response = post_batch(
        client,
        adjust("veg", "leek", 1),
        {"op": "put_member", "collection": "fruit", "member": "kiwi", "body": -1},
    )
    assert response.status_code == 400
    assert response.get_json() == invalid({"body": QUANTITY_RULE}, index=1)
    assert stored() == {"fruit": {"apple": 30}}


# Bad input of every shape ------------------------------------------------------------

ENVELOPES = {
    "not an object": (
        [adjust("fruit", "apple", 1)],
        {"body": "must be a JSON object with operations"},
    ),
    "no operations": ({}, {"operations": "is required"}),
    "operations not a list": (
        {"operations": {"op": "adjust"}},
        {"operations": "must be a JSON array of operations"},
    ),
    "empty": (
        {"operations": []},
        {"operations": "must hold 1 to 1000 operations (it holds 0)"},
    ),
    "too many": (
        {"operations": [adjust("fruit", "apple", 1)] * 1001},
        {"operations": "must hold 1 to 1000 operations (it holds 1,001)"},
    ),
    "far too many": (
        {"operations": [adjust("fruit", "apple", 1)] * 10_001},
        {"operations": "must hold 1 to 1000 operations (it holds 10,001)"},
    ),
    "another key": (
        {"operations": [adjust("fruit", "apple", 1)], "atomic": False},
        {"atomic": "is not a field of a batch (operations)"},
    ),
}


@pytest.mark.parametrize("case", ENVELOPES)
def test_a_malformed_batch_is_refused(client, seed, stored, movements, case):
    seed(fruit={"apple": 30})
    before = movements()
    body, errors = ENVELOPES[case]
    response = client.post("/batch", json=body)
    assert response.status_code == 400
    assert response.get_json() == invalid(errors)
    assert stored() == {"fruit": {"apple": 30}}
    assert movements() == before


def test_a_body_that_is_not_json_is_refused(client):
    response = client.post("/batch", data="{", content_type="application/json")
    assert response.status_code == 400
    why = (
        "is not valid JSON: Expecting property name enclosed in double quotes:"
        " line 1 column 2 (char 1)"
    )
    assert response.get_json() == invalid({"body": why})
    response = client.post("/batch", data="{}", content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["error"] == "Unsupported media type"


def test_a_body_over_the_size_limit_is_refused_unread(client, stored):
    body = b'{"operations": [' + b" " * (1024 * 1024) + b"]}"
    response = client.post("/batch", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == problem_body(
        413, "Request entity too large", "The body may be at most 1048576 bytes."
    )
    assert stored() == {}


def test_a_thousand_operations_are_one_batch(client, seed, stored, movements):
    seed(fruit={"apple": 30})
    response = post_batch(client, *[adjust("fruit", "apple", 1)] * 1000)
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [r["body"] for r in results] == [{"quantity": 31 + n} for n in range(1000)]
    assert stored() == {"fruit": {"apple": 1030}}
    assert len(movements()) == 1 + 1000


# Each operation, and what is wrong with it.
OPERATIONS = {
    "not an object": (
        5,
        {"operations[1]": "must be a JSON object with op and collection"},
    ),
    "no op": (
        {"collection": "fruit", "member": "apple", "body": {"delta": 1}},
        {"operations[1].op": "is required"},
    ),
    "an unknown op": (
        {**adjust("fruit", "apple", 1), "op": "transfer"},
        {"operations[1].op": UNKNOWN_OP},
    ),
    "an op that is not a string": (
        {**adjust("fruit", "apple", 1), "op": ["adjust"]},
        {"operations[1].op": UNKNOWN_OP},
    ),
    "an unknown key": (
        {**adjust("fruit", "apple", 1), "reason": "sold"},
        {"operations[1].reason": NOT_A_FIELD},
    ),
    "no collection": (
        {"op": "delete"},
        {"operations[1].collection": "is required"},
    ),
    "a collection that is not a string": (
        {"op": "delete", "collection": 7},
        {"operations[1].collection": "must be a string"},
    ),
    "no member where one is needed": (
        {"op": "adjust", "collection": "fruit", "body": {"delta": 1}},
        {"operations[1].member": "is required by adjust"},
    ),
    "a member where none is taken": (
        {"op": "put", "collection": "fruit", "member": "apple", "body": {}},
        {"operations[1].member": "is not taken by put"},
    ),
    "a member that is not a string": (
        {**adjust("fruit", "apple", 1), "member": None},
        {"operations[1].member": "must be a string"},
    ),
    "no body where one is needed": (
        {"op": "put_member", "collection": "fruit", "member": "apple"},
        {"operations[1].body": "is required by put_member"},
    ),
    "a body where none is taken": (
        {"op": "delete_member", "collection": "fruit", "member": "apple", "body": 1},
        {"operations[1].body": "is not taken by delete_member"},
    ),
    "an if_match that is not a string": (
        {**adjust("fruit", "apple", 1), "if_match": 3},
        {"operations[1].if_match": "must be a string: the ETag you read, or *"},
    ),
    "everything at once": (
        {"op": "zap", "collection": 1, "if_match": None, "x": 1},
        {
            "operations[1].x": NOT_A_FIELD,
            "operations[1].op": UNKNOWN_OP,
            "operations[1].collection": "must be a string",
            "operations[1].if_match": "must be a string: the ETag you read, or *",
        },
    ),
    # What the single routes refuse, with their own keys and words.
    "an empty if_match": (
        {**adjust("fruit", "apple", 1), "if_match": " "},
        {"If-Match": EMPTY_IF_MATCH},
    ),
    "a bad collection name": (
        {**adjust("fruit", "apple", 1), "collection": "a/b"},
        {"collection": "must not contain '/'"},
    ),
    "a bad member name": (
        {**adjust("fruit", "apple", 1), "member": ""},
        {"member": "must be 1 to 100 characters long"},
    ),
    "a bad adjustment": (
        {**adjust("fruit", "apple", 1), "body": {"delta": 1.0, "why": "x"}},
        {
            "why": "is not a field of an adjustment (delta, reason)",
            "delta": DELTA_RULE,
        },
    ),
    "a bad quantity": (
        {"op": "put_member", "collection": "fruit", "member": "apple", "body": "3"},
        {"body": QUANTITY_RULE},
    ),
    "a bad collection body": (
        {"op": "put", "collection": "fruit", "body": {"apple": None}},
        {"apple": f"{QUANTITY_RULE} (null only in PATCH)"},
    ),
    "a bad reorder level": (
        {"op": "reorder_level", "collection": "fruit", "member": "apple", "body": -1},
        {"body": QUANTITY_RULE},
    ),
}


@pytest.mark.parametrize("case", OPERATIONS)
def test_a_malformed_operation_is_refused_with_its_index(
    client, seed, stored, movements, case
):
    seed(fruit={"apple": 30})
    before = movements()
    operation, errors = OPERATIONS[case]
    response = post_batch(client, adjust("fruit", "apple", 1), operation)
    assert response.status_code == 400
    assert response.get_json() == invalid(errors, index=1)
    assert stored() == {"fruit": {"apple": 30}}
    assert movements() == before


# The movement log and webhooks -------------------------------------------------


def test_every_movement_of_a_batch_carries_its_id(client, seed):
    seed(fruit={"apple": 30, "pear": 2})
    response = post_batch(
        client,
        adjust("fruit", "apple", -1),
        {"op": "put", "collection": "fruit", "body": {"apple": 5, "fig": 1}},
        {"op": "patch", "collection": "veg", "body": {"leek": 1}},
    )
    assert response.status_code == 200
    batch = response.get_json()["batch"]
    history = client.get("/stock/fruit/history").get_json()["movements"]
    assert [
        (m["member"], m["kind"], m["before"], m["after"], m.get("batch"))
        for m in history
    ] == [
        ("fig", "replace", None, 1, batch),
        ("apple", "replace", 29, 5, batch),
        ("pear", "replace", 2, None, batch),
        ("apple", "adjust", 30, 29, batch),
        ("pear", "create", None, 2, None),
        ("apple", "create", None, 30, None),
    ]
    [leek] = client.get("/stock/veg/history").get_json()["movements"]
    assert leek["batch"] == batch
    # Another batch has another id.
    again = post_batch(client, adjust("fruit", "apple", 1)).get_json()["batch"]
    assert again != batch
    latest = client.get("/stock/fruit/apple/history?limit=1").get_json()
    assert latest["movements"][0]["batch"] == again


def test_webhooks_see_one_movement_per_change_of_a_batch(
    make_app, make_user, make_token, rows
):
    app = make_app(WEBHOOKS_ALLOW_PRIVATE=True)
    client = app.test_client()
    make_user("root", "admin")
    admin = bearer(make_token("root", "admin"))
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["movement.created"]}
    assert client.post("/webhooks", json=hook, headers=admin).status_code == 201
    assert client.post("/stock/fruit", json={"apple": 3}).status_code == 201
    refused = post_batch(client, adjust("fruit", "apple", 1), adjust("fruit", "x", 1))
    assert refused.status_code == 404
    response = post_batch(
        client,
        {"op": "put_member", "collection": "fruit", "member": "kiwi", "body": 4},
        adjust("fruit", "apple", -1),
        {"op": "delete_member", "collection": "fruit", "member": "kiwi"},
    )
    assert response.status_code == 200
    batch = response.get_json()["batch"]
    events = [
        json.loads(row["payload"])["data"]
        for row in rows("SELECT payload FROM webhook_deliveries ORDER BY id")
    ]
    assert [
        (e["member"], e["kind"], e["before"], e["after"], e.get("batch"))
        for e in events
    ] == [
        ("apple", "create", None, 3, None),
        ("kiwi", "replace", None, 4, batch),
        ("apple", "adjust", 3, 2, batch),
        ("kiwi", "delete", 4, None, batch),
    ]


# Idempotency keys ---------------------------------------------------------------


def test_an_idempotency_key_applies_the_batch_once(client, seed, stored):
    seed(fruit={"apple": 30})
    operations = [
        adjust("fruit", "apple", -1),
        {"op": "put_member", "collection": "fruit", "member": "kiwi", "body": 2},
    ]
    key = {"Idempotency-Key": "batch-1"}
    first = post_batch(client, *operations, headers=key)
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    again = post_batch(client, *operations, headers=key)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert stored() == {"fruit": {"apple": 29, "kiwi": 2}}
    other = post_batch(client, adjust("fruit", "apple", -1), headers=key)
    assert other.status_code == 422
    assert other.get_json()["error"] == "Idempotency key reused"
    assert stored() == {"fruit": {"apple": 29, "kiwi": 2}}


def test_a_refused_batch_does_not_use_up_its_key(client, seed, stored):
    seed(fruit={"apple": 1})
    key = {"Idempotency-Key": "batch-2"}
    operations = [adjust("fruit", "apple", -1), adjust("fruit", "apple", -1)]
    assert post_batch(client, *operations, headers=key).status_code == 409
    client.post("/stock/fruit/apple/adjustments", json={"delta": 1})
    retried = post_batch(client, *operations, headers=key)
    assert retried.status_code == 200
    assert "Idempotent-Replayed" not in retried.headers
    assert stored() == {"fruit": {"apple": 0}}


# Who may send a batch --------------------------------------------------------------


@pytest.fixture
def closed(make_app, make_user, seed):
    """A client of a server closed to anonymous callers, and alice (a clerk)."""
    seed(fruit={"apple": 30}, veg={"leek": 5})
    make_user("alice", "clerk")
    return make_app(ANONYMOUS_ACCESS="none").test_client()


LIMITED = {
    "put of a collection outside its list": (
        {"op": "put", "collection": "herbs", "body": {}},
        403,
    ),
    "patch of a collection outside its list": (
        {"op": "patch", "collection": "veg", "body": {"leek": 1}},
        403,
    ),
    "adjust": (adjust("veg", "leek", 1), 404),
    "put_member": (
        {"op": "put_member", "collection": "veg", "member": "kale", "body": 1},
        404,
    ),
    "delete_member": (
        {"op": "delete_member", "collection": "veg", "member": "leek"},
        404,
    ),
    "delete": ({"op": "delete", "collection": "veg"}, 404),
    "reorder_level": (
        {"op": "reorder_level", "collection": "veg", "member": "leek", "body": 1},
        404,
    ),
    "a bad name outside its list": (adjust("a\x00b", "leek", 1), 404),
}


@pytest.mark.parametrize("case", LIMITED)
def test_a_limited_token_cannot_reach_outside_its_list_from_a_batch(
    closed, make_token, stored, movements, case
):
    token = bearer(make_token("alice", "write", collections=["fruit"]))
    operation, status = LIMITED[case]
    collection = operation["collection"]
    before = movements()
    response = post_batch(
        closed, adjust("fruit", "apple", -1), operation, headers=token
    )
    assert response.status_code == status
    if status == 403:
        assert response.headers["WWW-Authenticate"] == (
            'Bearer realm="stockapp", error="insufficient_scope", scope="write"'
        )
        expected = problem_body(
            403,
            "Forbidden",
            f'This token is limited to other collections than "{collection}".',
            index=1,
        )
    else:
        expected = problem_body(
            404, "Not found", f'There is no collection "{collection}".', index=1
        )
    assert response.get_json() == expected
    assert stored() == {"fruit": {"apple": 30}, "veg": {"leek": 5}}
    assert movements() == before
    # Inside its list, the same token's batch runs, in the user's name.
    inside = post_batch(closed, adjust("fruit", "apple", -1), headers=token)
    assert inside.status_code == 200
    assert client_history_by(closed, token) == ["alice", None]


def client_history_by(client, token) -> list[str | None]:
    history = client.get("/stock/fruit/history", headers=token).get_json()
    return [movement["by"] for movement in history["movements"]]


def test_a_read_only_token_may_not_send_a_batch(closed, make_token, stored):
    token = bearer(make_token("alice", "read"))
    response = post_batch(closed, adjust("fruit", "apple", -1), headers=token)
    assert response.status_code == 403
    assert response.get_json() == problem_body(
        403,
        "Forbidden",
        'This needs the "write" scope, which this caller does not have.',
    )
    assert stored() == {"fruit": {"apple": 30}, "veg": {"leek": 5}}


@pytest.mark.parametrize("anonymous", ["none", "read", "write"])
def test_an_anonymous_batch_is_answered_as_any_anonymous_write(
    make_app, seed, stored, anonymous
):
    seed(fruit={"apple": 30})
    client = make_app(ANONYMOUS_ACCESS=anonymous).test_client()
    single = client.post("/stock/fruit/apple/adjustments", json={"delta": -1})
    response = post_batch(client, adjust("fruit", "apple", -1))
    assert response.status_code == (200 if anonymous == "write" else 401)
    assert response.status_code == single.status_code
    if anonymous != "write":
        assert response.get_json() == single.get_json()
        assert stored() == {"fruit": {"apple": 30}}
    else:
        assert stored() == {"fruit": {"apple": 28}}


# What a batch costs ----------------------------------------------------------------


def test_a_batch_costs_the_statements_of_its_routes(client, seed, count_statements):
    seed(fruit={f"m{n}": 100 for n in range(20)})
    with count_statements() as single:
        response = client.post("/stock/fruit/m0/adjustments", json={"delta": 1})
        assert response.status_code == 200

    def batch_of(size: int) -> list[str]:
        operations = [adjust("fruit", f"m{n}", 1) for n in range(size)]
        with count_statements() as statements:
            assert post_batch(client, *operations).status_code == 200
        return statements

    one, two, ten = batch_of(1), batch_of(2), batch_of(10)
    # One adjustment in a batch costs what the route does; adjustments of one
    # collection in a row share its lock, the read of their members, one
    # executemany and one multi-row log: no more statements for ten than one.
    assert len(one) == len(single), (one, single)
    assert len(two) == len(ten) == len(one), (one, ten)
    assert sum(statement.startswith("BEGIN") for statement in ten) == 1


def test_other_operations_cost_what_their_routes_do(client, seed, count_statements):
    seed(fruit={"apple": 1}, veg={"leek": 1})
    with count_statements() as single:
        client.post("/stock/fruit/apple/adjustments", json={"delta": 1})
        client.put("/stock/veg/leek", json=5)
    # Alternating collections: no run forms, each operation runs as its route.
    operations: list[dict[str, Any]] = []
    for quantity in (6, 7, 8):
        put_leek = {"op": "put_member", "collection": "veg", "member": "leek"}
        operations += [adjust("fruit", "apple", 1), {**put_leek, "body": quantity}]
    with count_statements() as statements:
        assert post_batch(client, *operations).status_code == 200
    # Each request's BEGIN (and, on PostgreSQL, its one question whether any
    # webhook listens; on SQLite it rides in each one's lock) is the batch's
    # once.
    once = [s for s in single if s.startswith(("BEGIN", ANY_SUBSCRIPTION))]
    per_pair = len(single) - len(once)
    assert len(statements) == len(once) // 2 + 3 * per_pair, (single, statements)


def test_a_run_of_adjustments_answers_as_the_route_one_by_one(
    client, seed, stored, movements
):
    """Adjustments of one collection in a row run together: each answer,
    ETag, quantity and movement is what the single route, called once per
    adjustment, gives a twin collection."""
    start = {"apple": 5, "pear": 0, "fig": 9}
    seed(batch=start, single=start)
    deltas = [("apple", -2, "sold"), ("pear", 3, None), ("apple", -3, "sold")]
    deltas += [("apple", 4, "found"), ("fig", -9, "sold"), ("pear", -1, "sold")]

    def versions(collection):
        return {
            member: int(
                client.get(f"/stock/{collection}/{member}").headers["ETag"][1:-1]
            )
            for member in start
        }

    batch_start, single_start = versions("batch"), versions("single")
    ran = post_batch(
        client,
        *(
            {
                **adjust("batch", member, delta),
                "body": {"delta": delta, "reason": reason},
            }
            for member, delta, reason in deltas
        ),
    )
    assert ran.status_code == 200, ran.get_json()
    for (member, delta, reason), result in zip(
        deltas, ran.get_json()["results"], strict=True
    ):
        one = client.post(
            f"/stock/single/{member}/adjustments",
            json={"delta": delta, "reason": reason},
        )
        assert (result["status"], result["body"]) == (one.status_code, one.get_json())
        # The same number of versions on from where each member started.
        assert (
            int(result["etag"][1:-1]) - batch_start[member]
            == int(one.headers["ETag"][1:-1]) - single_start[member]
        )
    assert stored()["batch"] == stored()["single"] == {"apple": 4, "pear": 2, "fig": 0}
    logged = movements()
    assert [row[1:6] for row in logged if row[0] == "batch"][3:] == [
        row[1:6] for row in logged if row[0] == "single"
    ][3:]


@pytest.mark.parametrize(
    ("refused_at", "operation", "status", "error"),
    [
        (2, adjust("fruit", "apple", -10), 409, "Insufficient stock"),
        (1, adjust("fruit", "plum", 1), 404, "Member not found"),
        (2, adjust("fruit", "apple", 1, if_match='"1"'), 412, "Precondition failed"),
    ],
)
def test_a_refusal_inside_a_run_names_its_operation_and_stores_nothing(
    client, seed, stored, movements, refused_at, operation, status, error
):
    seed(fruit={"apple": 5, "pear": 1})
    before = movements()
    operations = [adjust("fruit", "apple", -1), adjust("fruit", "pear", 1)]
    operations.insert(refused_at, operation)
    response = post_batch(client, *operations, adjust("fruit", "pear", 1))
    assert response.status_code == status
    problem = response.get_json()
    assert (problem["error"], problem["index"]) == (error, refused_at)
    if status == 409:
        # The quantity the earlier operations of the run left, as one by one.
        assert problem["quantity"] == 4
    assert stored() == {"fruit": {"apple": 5, "pear": 1}}
    assert movements() == before
