"""POST /stock/<c>/<m>/adjustments: atomic deltas that never leave 0..2^63-1."""

import pytest

MAX = 2**63 - 1
DELTA_RULE = f"must be a non-zero JSON integer from -{MAX} to {MAX}"


def adjust(client, body, path="/stock/fruit/apple/adjustments", **headers):
    return client.post(path, json=body, headers=headers)


def test_adjustment_changes_the_quantity(client, seed, stored):
    seed(fruit={"apple": 30, "pear": 1})
    response = adjust(client, {"delta": -3, "reason": "sold"})
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.get_json() == {"quantity": 27}
    assert response.headers["ETag"] == client.get("/stock/fruit/apple").headers["ETag"]
    assert stored() == {"fruit": {"apple": 27, "pear": 1}}
    assert adjust(client, {"delta": 40}).get_json() == {"quantity": 67}
    assert stored() == {"fruit": {"apple": 67, "pear": 1}}


def test_adjustment_may_reach_exactly_zero(client, seed, stored):
    seed(fruit={"apple": 3})
    assert adjust(client, {"delta": -3}).get_json() == {"quantity": 0}
    assert stored() == {"fruit": {"apple": 0}}


def test_adjustment_below_zero_is_refused_and_changes_nothing(client, seed, stored):
    seed(fruit={"apple": 2})
    response = adjust(client, {"delta": -3, "reason": "sold"})
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": 'Adjusting "apple" in "fruit" by -3 would take its quantity 2'
        " below 0; nothing was changed.",
        "error": "Insufficient stock",
        "quantity": 2,
    }
    assert stored() == {"fruit": {"apple": 2}}
    history = client.get("/stock/fruit/apple/history").get_json()["movements"]
    assert [movement["kind"] for movement in history] == ["create"]


def test_adjustment_above_the_maximum_is_refused(client, seed, stored):
    seed(fruit={"apple": MAX - 1})
    response = adjust(client, {"delta": 2})
    assert response.status_code == 409
    assert response.get_json()["error"] == "Quantity limit exceeded"
    assert response.get_json()["quantity"] == MAX - 1
    assert stored() == {"fruit": {"apple": MAX - 1}}
    assert adjust(client, {"delta": 1}).get_json() == {"quantity": MAX}


@pytest.mark.parametrize(("start", "delta", "end"), [(MAX, -MAX, 0), (0, MAX, MAX)])
def test_largest_deltas_do_not_overflow(client, seed, stored, start, delta, end):
    seed(fruit={"apple": start})
    assert adjust(client, {"delta": delta}).get_json() == {"quantity": end}
    assert stored() == {"fruit": {"apple": end}}


@pytest.mark.parametrize("start", [0, 5, MAX])
@pytest.mark.parametrize("delta", [-MAX, MAX])
def test_extreme_deltas_are_refused_cleanly(client, seed, stored, start, delta):
    seed(fruit={"apple": start})
    response = adjust(client, {"delta": delta})
    if 0 <= start + delta <= MAX:
        assert response.get_json() == {"quantity": start + delta}
    else:
        assert response.status_code == 409
        assert stored() == {"fruit": {"apple": start}}


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/stock/veg/apple/adjustments", "Collection not found"),
        ("/stock/fruit/kiwi/adjustments", "Member not found"),
    ],
)
def test_adjusting_something_absent_is_not_found(client, seed, stored, path, error):
    seed(fruit={"apple": 30})
    response = adjust(client, {"delta": 1}, path=path)
    assert response.status_code == 404
    assert response.get_json()["error"] == error
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        ("{}", {"delta": "is required"}),
        ('{"delta": 0}', {"delta": DELTA_RULE}),
        ('{"delta": true}', {"delta": DELTA_RULE}),
        ('{"delta": 1.0}', {"delta": DELTA_RULE}),
        ('{"delta": "3"}', {"delta": DELTA_RULE}),
        ('{"delta": null}', {"delta": DELTA_RULE}),
        (f'{{"delta": {MAX + 1}}}', {"delta": DELTA_RULE}),
        (f'{{"delta": -{MAX + 1}}}', {"delta": DELTA_RULE}),
        ('{"delta": 1, "delta": 2}', {"delta": "appears more than once in the body"}),
        (
            '{"delta": 1, "note": "x"}',
            {"note": "is not a field of an adjustment (delta, reason)"},
        ),
        ('{"delta": 1, "reason": 5}', {"reason": "must be a string"}),
        (
            '{"delta": 1, "reason": "' + "x" * 201 + '"}',
            {"reason": "must be at most 200 characters long"},
        ),
        (
            '{"delta": 1, "reason": "a\\u0000b"}',
            {"reason": "must be valid Unicode without control characters"},
        ),
        (
            '{"delta": 1, "reason": "\\ud800"}',
            {"reason": "must be valid Unicode without control characters"},
        ),
        ("[1]", {"body": "must be a JSON object with a delta"}),
        ("-3", {"body": "must be a JSON object with a delta"}),
    ],
)
def test_bad_adjustment_is_rejected_and_changes_nothing(
    client, seed, stored, raw, errors
):
    seed(fruit={"apple": 30})
    response = client.post(
        "/stock/fruit/apple/adjustments", data=raw, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["errors"] == errors
    assert stored() == {"fruit": {"apple": 30}}
    assert len(client.get("/stock/fruit/history").get_json()["movements"]) == 1


def test_bad_adjustment_of_an_absent_member_is_still_a_400(client):
    response = adjust(client, {"delta": 0}, path="/stock/none/none/adjustments")
    assert response.status_code == 400


def test_reason_of_200_characters_is_kept(client, seed):
    seed(fruit={"apple": 30})
    assert adjust(client, {"delta": 1, "reason": "é" * 200}).status_code == 200
    movement = client.get("/stock/fruit/apple/history").get_json()["movements"][0]
    assert movement["reason"] == "é" * 200


def test_adjustment_body_must_be_json(client, seed):
    seed(fruit={"apple": 30})
    response = client.post("/stock/fruit/apple/adjustments", data="delta=1")
    assert response.status_code == 415


def test_adjustment_is_a_constant_number_of_statements(
    client, seed, count_statements, backend
):
    seed(fruit={f"m{i}": 10 for i in range(300)})
    with count_statements() as statements:
        response = adjust(client, {"delta": -1}, path="/stock/fruit/m7/adjustments")
        assert response.status_code == 200
    updates = [s for s in statements if s.startswith("UPDATE members")]
    # (Core's CTEs come with line breaks; the array statement has none.)
    fused = [
        s
        for s in statements
        if " ".join(s.split()).startswith("WITH updated AS (UPDATE members")
    ]
    # BEGIN, lock the collection and read the member (one statement on SQLite,
    # two on PostgreSQL: see ledger.lock_collection_with_members), update it,
    # bump the collection, log the movement, and the webhooks' question
    # whether any subscription listens (none here): on SQLite as a column of
    # the lock's statement, on PostgreSQL with the first statements (in their
    # round trip). On PostgreSQL the update, the bump and the movement are
    # one statement (ledger.Along).
    if backend == "sqlite":
        assert len(updates) == 1 and not fused
        assert "quantity + " in updates[0]
        assert len(statements) == 5
        assert statements[1].startswith("SELECT collections.id")
        assert "FROM webhook_subscriptions" in statements[1]
    else:
        assert not updates and len(fused) == 1
        assert "INSERT INTO movements" in fused[0]
        assert len(statements) == 5
        assert statements[3].startswith("SELECT webhook_subscriptions.id")
        assert statements[-1] == fused[0]
