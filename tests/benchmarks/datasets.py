"""The stock each benchmark server holds, and loading it through the HTTP API."""

from __future__ import annotations

from app_server import AppServer

Stock = dict[str, dict[str, int]]

# The single-member workloads' target is one of the 100 collections.
HOT_COLLECTION, HOT_MEMBER = "fruit", "apple"
COLLECTIONS, MEMBERS_EACH = 100, 100
SCALING_MEMBER = "hot"
SMALL_SIZE, BIG_SIZE = 3, 100_000


def _collection(size: int, first: str) -> dict[str, int]:
    """``size`` members: ``first`` and numbered ones, quantities that differ."""
    width = len(str(size))
    members = {first: 5}
    for i in range(1, size):
        members[f"m{i:0{width}}"] = i
    return members


def main_stock() -> Stock:
    """100 collections of 100 members, 10,000 in all; fruit/apple among them."""
    stock = {HOT_COLLECTION: _collection(MEMBERS_EACH, HOT_MEMBER)}
    for c in range(1, COLLECTIONS):
        stock[f"c{c:02}"] = _collection(MEMBERS_EACH, "m00")
    return stock


def scaling_stock() -> Stock:
    """The same member ``hot`` in a collection of 3 and one of 100,000."""
    return {
        "small": _collection(SMALL_SIZE, SCALING_MEMBER),
        "big": _collection(BIG_SIZE, SCALING_MEMBER),
    }


DATASETS = {"main": main_stock, "scaling": scaling_stock}


def seed(server: AppServer, stock: Stock) -> None:
    """PUT each collection (a whole one per request; the servers accept big bodies)."""
    for collection, members in stock.items():
        status = server.request("PUT", f"/stock/{collection}", members)
        if status not in (200, 201):
            raise RuntimeError(f"{server.name}: PUT /stock/{collection} gave {status}")
