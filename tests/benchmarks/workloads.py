"""What each workload sends, on which dataset, and to which apps.

A step is "METHOD PATH" or "METHOD PATH BODY" as workload.lua reads it: {n} is a
number unique to each request, {c} the connection's own number.
"""

from __future__ import annotations

from dataclasses import dataclass

from datasets import HOT_COLLECTION, HOT_MEMBER, SCALING_MEMBER


@dataclass(frozen=True)
class Workload:
    name: str
    steps: tuple[str, ...]
    dataset: str
    apps: tuple[str, ...]
    # The app stockapp is compared with (its ratio), None for stockapp alone.
    baseline: str | None


HOT = f"/stock/{HOT_COLLECTION}"
VERSUS_FLOOR = ("stockapp", "floor")

COMPARED = [
    Workload("get_member", (f"GET {HOT}/{HOT_MEMBER}",), "main", VERSUS_FLOOR, "floor"),
    Workload(
        "patch_member",
        (f'PATCH {HOT} {{"{HOT_MEMBER}": {{n}}}}',),
        "main",
        VERSUS_FLOOR,
        "floor",
    ),
    Workload(
        "put_member", (f"PUT {HOT}/{HOT_MEMBER} {{n}}",), "main", VERSUS_FLOOR, "floor"
    ),
    # A token's check (its row read by digest; failures counted in Redis) ÷ none.
    Workload(
        "get_member_token",
        (f"GET {HOT}/{HOT_MEMBER}",),
        "main",
        ("stockapp", "stockapp_token"),
        "stockapp",
    ),
    # The floor too, for information: what the database read adds to the dict.
    Workload(
        "get_stock", ("GET /stock",), "main", ("stockapp", "dict", "floor"), "dict"
    ),
]

# Single-member writes in a small and a big collection: their cost should not
# depend on the collection's size. Each connection PUTs then DELETEs a member
# of its own (in that order, so every DELETE finds what its connection has just
# created, whatever state the previous run ended in).
SCALING_OPERATIONS = {
    "patch": ("PATCH /stock/{collection} " + '{"' + SCALING_MEMBER + '": {n}}',),
    "put": ("PUT /stock/{collection}/" + SCALING_MEMBER + " {n}",),
    "adjust": (
        "POST /stock/{collection}/" + SCALING_MEMBER + '/adjustments {"delta": 1}',
    ),
    "put_delete": (
        "PUT /stock/{collection}/spare{c} {n}",
        "DELETE /stock/{collection}/spare{c}",
    ),
}
SCALING_COLLECTIONS = ("small", "big")


def scaling_name(operation: str, collection: str) -> str:
    return f"{operation}_{collection}"


SCALING = [
    Workload(
        scaling_name(operation, collection),
        tuple(step.replace("{collection}", collection) for step in steps),
        "scaling",
        ("stockapp",),
        None,
    )
    for operation, steps in SCALING_OPERATIONS.items()
    for collection in SCALING_COLLECTIONS
]

WORKLOADS = {workload.name: workload for workload in COMPARED + SCALING}
