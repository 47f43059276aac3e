"""The floor: the least a durable Flask JSON API must do for stockapp's routes.

Flask routing and JSON, hand-written SQL on one connection per thread, one
transaction per write, nothing else (no ORM, no history, no ETags, no access
control). SQLite (sqlite3) or PostgreSQL (psycopg), chosen by ``DATABASE_URL``.
Served by gunicorn as ``floor_app:app``; the schema is created beforehand with
``floor_store.create_schema``.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, jsonify, request
from floor_store import BelowZero, Store, open_store


def is_quantity(value: Any) -> bool:
    return type(value) is int and value >= 0


def problem(status: int, detail: str) -> tuple[dict[str, str], int]:
    return {"detail": detail}, status


def members_body(allow_null: bool) -> dict[str, Any] | None:
    """The request's ``{member: quantity}`` object, or None if it is not one."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None
    for quantity in body.values():
        if not (is_quantity(quantity) or (allow_null and quantity is None)):
            return None
    return body


def written(created: bool, what: str) -> tuple[dict[str, str], int]:
    if created:
        return {"message": f"{what} created"}, 201
    return {"message": f"{what} updated"}, 200


def create_app(store: Store) -> Flask:
    app = Flask(__name__)

    @app.get("/stock")
    def list_stock() -> Any:
        """Every collection with its members and quantities."""
        stock: dict[str, dict[str, int]] = {}
        for collection, member, quantity in store.stock_rows():
            members = stock.setdefault(collection, {})
            if member is not None:
                members[member] = quantity
        return jsonify(stock)

    @app.get("/stock/<collection>/<member>")
    def get_member(collection: str, member: str) -> Any:
        """One member's quantity as a bare JSON integer."""
        quantity = store.member_quantity(collection, member)
        if quantity is None:
            return problem(404, "No such member.")
        return Response(f"{quantity}\n", mimetype="application/json")

    @app.put("/stock/<collection>")
    def replace_collection(collection: str) -> Any:
        """Make the collection hold exactly the body's members."""
        members = members_body(allow_null=False)
        if members is None:
            return problem(400, "The body must map member names to quantities.")
        return written(store.replace_collection(collection, members), "Collection")

    @app.patch("/stock/<collection>")
    def update_collection(collection: str) -> Any:
        """Set the body's members; null removes one."""
        changes = members_body(allow_null=True)
        if changes is None:
            return problem(400, "The body must map member names to quantities.")
        return written(store.update_collection(collection, changes), "Collection")

    @app.put("/stock/<collection>/<member>")
    def put_member(collection: str, member: str) -> Any:
        """Set one member's quantity, creating the member if needed."""
        quantity = request.get_json(silent=True)
        if not is_quantity(quantity):
            return problem(400, "The body must be a non-negative integer.")
        created = store.put_member(collection, member, quantity)
        if created is None:
            return problem(404, "No such collection.")
        return written(created, "Member")

    @app.delete("/stock/<collection>/<member>")
    def delete_member(collection: str, member: str) -> Any:
        """Delete one member."""
        if not store.delete_member(collection, member):
            return problem(404, "No such member.")
        return "", 204

    @app.post("/stock/<collection>/<member>/adjustments")
    def adjust_member(collection: str, member: str) -> Any:
        """Add the body's delta to one member, atomically, never below zero."""
        body = request.get_json(silent=True)
        delta = body.get("delta") if isinstance(body, dict) else None
        if type(delta) is not int:
            return problem(400, 'The body must be {"delta": integer}.')
        try:
            quantity = store.adjust_member(collection, member, delta)
        except BelowZero:
            return problem(409, "The quantity would go below zero.")
        if quantity is None:
            return problem(404, "No such member.")
        return {"quantity": quantity}

    return app


app = create_app(open_store(os.environ["DATABASE_URL"]))
