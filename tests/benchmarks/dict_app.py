"""The ceiling for reads: stockapp's read routes served from a Python dict.

No database at all: what Flask, JSON encoding and gunicorn cost by themselves.
Each gunicorn worker is a process with a dict of its own, and a PUT would reach
only one of them, so every worker loads the same stock at import from the JSON
file named by ``DICT_APP_STOCK`` (written by the benchmark from its datasets).
Served by gunicorn as ``dict_app:app``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify


def create_app(stock: dict[str, dict[str, int]]) -> Flask:
    app = Flask(__name__)

    @app.get("/stock")
    def list_stock() -> Any:
        """Every collection with its members and quantities."""
        return jsonify(stock)

    @app.get("/stock/<collection>/<member>")
    def get_member(collection: str, member: str) -> Any:
        """One member's quantity as a bare JSON integer."""
        quantity = stock.get(collection, {}).get(member)
        if quantity is None:
            return {"detail": "No such member."}, 404
        return Response(f"{quantity}\n", mimetype="application/json")

    return app


app = create_app(json.loads(Path(os.environ["DICT_APP_STOCK"]).read_text()))
