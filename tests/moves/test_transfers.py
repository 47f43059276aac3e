"""Transfers: one transaction moves stock between two members, logged as two
movements of kind "transfer" that share the transfer's id; a refusal stores
nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import bearer, invalid_detail, problem_body

from stockapp.core.rules import MAX_QUANTITY
from stockapp.moves.transfers import TRANSFER_QUANTITY_RULE

MAX = MAX_QUANTITY


def body(quantity=5, source=("warehouse", "apple"), target=("shop", "apple"), **more):
    return {
        "from": {"collection": source[0], "member": source[1]},
        "to": {"collection": target[0], "member": target[1]},
        "quantity": quantity,
        **more,
    }


def history(client, collection):
    response = client.get(f"/stock/{collection}/history")
    assert response.status_code == 200
    return response.get_json()["movements"]


def test_a_transfer_takes_from_one_member_and_adds_to_the_other(client, seed, stored):
    seed(warehouse={"apple": 30, "pear": 4}, shop={"apple": 2})
    response = client.post("/transfers", json=body(12, reason="restock the shop"))
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    transfer_id = answer["transfer"]
    assert answer == {
        "transfer": transfer_id,
        "from": {"collection": "warehouse", "member": "apple", "quantity": 18},
        "to": {
            "collection": "shop",
            "member": "apple",
            "quantity": 14,
            "created": False,
        },
    }
    assert len(transfer_id) == 36
    assert stored() == {"warehouse": {"apple": 18, "pear": 4}, "shop": {"apple": 14}}
    # The ETag is the source member's, as a GET of it gives.
    assert (
        response.headers["ETag"] == client.get("/stock/warehouse/apple").headers["ETag"]
    )
    taken, added = history(client, "warehouse")[0], history(client, "shop")[0]
    for movement, before, after in ((taken, 30, 18), (added, 2, 14)):
        assert (
            movement["kind"],
            movement["before"],
            movement["after"],
            movement["reason"],
            movement["transfer"],
        ) == ("transfer", before, after, "restock the shop", transfer_id)
        assert "batch" not in movement and "stocktake" not in movement
    assert taken["id"] < added["id"]


def test_a_missing_destination_member_is_made(client, seed, stored):
    seed(warehouse={"apple": 30}, shop={})
    response = client.post("/transfers", json=body(30))
    assert response.status_code == 200
    assert response.get_json()["to"] == {
        "collection": "shop",
        "member": "apple",
        "quantity": 30,
        "created": True,
    }
    assert stored() == {"warehouse": {"apple": 0}, "shop": {"apple": 30}}
    made = history(client, "shop")[0]
    assert (made["kind"], made["before"], made["after"]) == ("transfer", None, 30)
    assert client.get("/stock/shop/apple").get_json() == 30


def test_a_transfer_within_one_collection_moves_between_its_members(
    client, seed, stored
):
    seed(fruit={"apple": 10, "pear": 1})
    response = client.post(
        "/transfers", json=body(4, ("fruit", "apple"), ("fruit", "pear"))
    )
    assert response.status_code == 200
    assert stored() == {"fruit": {"apple": 6, "pear": 5}}
    moved = history(client, "fruit")[:2]
    assert [(m["member"], m["before"], m["after"]) for m in moved] == [
        ("pear", 1, 5),
        ("apple", 10, 6),
    ]
    assert moved[0]["transfer"] == moved[1]["transfer"]


def test_taking_more_than_the_source_holds_is_refused_storing_nothing(
    client, seed, stored
):
    seed(warehouse={"apple": 3}, shop={"apple": 2})
    response = client.post("/transfers", json=body(4))
    assert response.status_code == 409
    assert response.get_json() == problem_body(
        409,
        "Insufficient stock",
        'Adjusting "apple" in "warehouse" by -4 would take its quantity 3 below 0;'
        " nothing was changed.",
        quantity=3,
    )
    assert stored() == {"warehouse": {"apple": 3}, "shop": {"apple": 2}}
    assert [m["kind"] for m in history(client, "warehouse")] == ["create"]


def test_a_destination_at_the_limit_refuses_and_the_source_is_untouched(
    client, seed, stored
):
    seed(warehouse={"apple": 3}, shop={"apple": MAX})
    response = client.post("/transfers", json=body(1))
    assert response.status_code == 409
    assert response.get_json()["error"] == "Quantity limit exceeded"
    assert response.get_json()["quantity"] == MAX
    assert stored() == {"warehouse": {"apple": 3}, "shop": {"apple": MAX}}
    assert [m["kind"] for m in history(client, "warehouse")] == ["create"]


@pytest.mark.parametrize(
    ("source", "target", "error", "detail"),
    [
        (
            ("nowhere", "apple"),
            ("shop", "apple"),
            "Collection not found",
            'There is no collection "nowhere".',
        ),
        (
            ("warehouse", "plum"),
            ("shop", "apple"),
            "Member not found",
            'Collection "warehouse" has no member "plum".',
        ),
        (
            ("warehouse", "apple"),
            ("nowhere", "apple"),
            "Collection not found",
            'There is no collection "nowhere".',
        ),
    ],
)
def test_a_missing_end_is_404_and_nothing_is_stored(
    client, seed, stored, source, target, error, detail
):
    seed(warehouse={"apple": 3}, shop={})
    response = client.post("/transfers", json=body(1, source, target))
    assert response.status_code == 404
    assert response.get_json() == problem_body(404, error, detail)
    assert stored() == {"warehouse": {"apple": 3}, "shop": {}}


def test_if_match_applies_to_the_source(client, seed, stored):
    seed(warehouse={"apple": 30}, shop={})
    tag = client.get("/stock/warehouse/apple").headers["ETag"]
    client.post("/stock/warehouse/apple/adjustments", json={"delta": -1})
    stale = client.post("/transfers", json=body(1), headers={"If-Match": tag})
    assert stale.status_code == 412
    assert stale.get_json()["error"] == "Precondition failed"
    assert stored() == {"warehouse": {"apple": 29}, "shop": {}}
    fresh = client.get("/stock/warehouse/apple").headers["ETag"]
    done = client.post("/transfers", json=body(1), headers={"If-Match": fresh})
    assert done.status_code == 200
    assert stored() == {"warehouse": {"apple": 28}, "shop": {"apple": 1}}


QUANTITY_RULE = {"quantity": TRANSFER_QUANTITY_RULE}


@pytest.mark.parametrize(
    ("sent", "errors"),
    [
        ([], {"body": "must be a JSON object with from, to and quantity"}),
        ({}, {"from": "is required", "to": "is required", "quantity": "is required"}),
        (body(0), QUANTITY_RULE),
        (body(-1), QUANTITY_RULE),
        (body(1.5), QUANTITY_RULE),
        (body(True), QUANTITY_RULE),
        (body("3"), QUANTITY_RULE),
        (body(MAX + 1), QUANTITY_RULE),
        (body(None), QUANTITY_RULE),
        (
            body(1, ("warehouse", "apple"), ("warehouse", "apple")),
            {
                "to": "names the same member as from: a transfer moves stock"
                " between two members"
            },
        ),
        (
            body(1, extra=1),
            {
                "extra": "is not a field of a transfer (from, to, quantity, reason)",
            },
        ),
        (body(1, reason="x" * 201), {"reason": "must be at most 200 characters long"}),
        (body(1, reason=7), {"reason": "must be a string"}),
        (
            {**body(1), "from": "warehouse/apple"},
            {"from": "must be a JSON object with collection and member"},
        ),
        (
            {**body(1), "from": {"collection": "warehouse"}},
            {"from.member": "is required"},
        ),
        (
            {**body(1), "to": {"collection": "shop", "member": "a", "x": 1}},
            {"to.x": "is not a field of to (collection, member)"},
        ),
        (
            body(1, ("", "apple")),
            {"from.collection": "must be 1 to 100 characters long"},
        ),
        (body(1, ("a/b", "apple")), {"from.collection": "must not contain '/'"}),
        (body(1, ("shop", 5)), {"from.member": "must be a string"}),
    ],
)
def test_bad_bodies_are_400_naming_each_problem_and_store_nothing(
    client, seed, stored, sent, errors
):
    seed(warehouse={"apple": 3}, shop={})
    response = client.post("/transfers", json=sent)
    assert response.status_code == 400
    assert response.get_json() == problem_body(
        400, "Invalid input", invalid_detail(errors), errors=errors
    )
    assert stored() == {"warehouse": {"apple": 3}, "shop": {}}


def test_a_body_that_is_not_json_is_400_as_on_every_route(client, seed):
    seed(warehouse={"apple": 3})
    sent = {"data": '{"quantity": 1', "content_type": "application/json"}
    response = client.post("/transfers", **sent)
    assert response.status_code == 400
    adjusting = client.post("/stock/warehouse/apple/adjustments", **sent)
    assert response.get_json() == adjusting.get_json()
    assert response.get_json()["errors"] == {
        "body": "is not valid JSON: Expecting ',' delimiter: line 1 column 15 (char 14)"
    }


def test_who_may_transfer(client, seed, stored, make_user, make_token, make_app):
    seed(warehouse={"apple": 3}, shop={}, office={})
    make_user("vera", "viewer")
    make_user("carl", "clerk")
    reader = bearer(make_token("vera", "read"))
    limited = bearer(make_token("carl", "write", ["warehouse", "shop"]))
    refused = client.post("/transfers", json=body(1), headers=reader)
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "Forbidden"
    # A limited token cannot reach outside its collections, at either end.
    for target in (("office", "apple"), ("secret", "apple")):
        outside = client.post(
            "/transfers", json=body(1, target=target), headers=limited
        )
        assert outside.status_code == 404
        assert outside.get_json() == problem_body(
            404, "Not found", f'There is no collection "{target[0]}".'
        )
    inside = client.post("/transfers", json=body(1), headers=limited)
    assert inside.status_code == 200
    assert history(client, "shop")[0]["by"] == "carl"
    closed = make_app(ANONYMOUS_ACCESS="none").test_client()
    assert closed.post("/transfers", json=body(1)).status_code == 401
    assert stored() == {"warehouse": {"apple": 2}, "shop": {"apple": 1}, "office": {}}


def test_opposite_transfers_at_once_neither_deadlock_nor_lose_stock(app, seed, stored):
    """Each thread moves stock one way between two collections, many times: the
    fixed lock order means no transfer fails, and the totals are kept."""
    seed(north={"apple": 1000}, south={"apple": 1000})
    rounds = 15
    start = threading.Barrier(2)

    def move(source: str, target: str) -> list[int]:
        client = app.test_client()
        start.wait()
        return [
            client.post(
                "/transfers", json=body(1, (source, "apple"), (target, "apple"))
            ).status_code
            for _ in range(rounds)
        ]

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(move, ("north", "south"), ("south", "north")))
    assert results == [[200] * rounds, [200] * rounds]
    assert stored() == {"north": {"apple": 1000}, "south": {"apple": 1000}}
    assert len(history(app.test_client(), "north")) == 1 + 2 * rounds
