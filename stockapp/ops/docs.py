"""The API's description: the OpenAPI document and Swagger UI rendering it offline."""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from ..access.openapi import (
    access_parameters,
    access_paths,
    access_schemas,
    describe_access,
)
from ..access.permissions import public
from ..core.api_doc import openapi_document
from ..exchange.exports import export_paths
from ..exchange.imports import import_paths
from ..history.api import history_parameters, history_paths, history_schemas
from ..stock.api import stock_parameters, stock_paths, stock_schemas
from ..stock.reorder import reorder_parameters, reorder_paths, reorder_schemas
from .health import health_paths
from .metrics import metrics_paths

bp = Blueprint("docs", __name__, template_folder="templates")

# A week: the files only change with the pinned package, and their URLs then stay
# the same, so browsers must still revalidate now and then.
_ASSET_MAX_AGE = 7 * 24 * 3600
_DOCUMENT = "stockapp.api_doc"


def api_document() -> dict[str, Any]:
    """The whole OpenAPI document of this app, assembled once: the stock API's
    part, the reorder levels' part, the health checks, the access part, and who
    may call each operation."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if _DOCUMENT not in app.extensions:
        document = copy.deepcopy(openapi_document())
        components = document["components"]
        for path, operations in [*stock_paths().items(), *history_paths().items()]:
            document["paths"].setdefault(path, {}).update(operations)
        components["schemas"].update(stock_schemas())
        components["schemas"].update(history_schemas())
        components["parameters"].update(stock_parameters())
        components["parameters"].update(history_parameters())
        document["paths"].update(reorder_paths())
        document["components"]["schemas"].update(reorder_schemas())
        document["components"]["parameters"].update(reorder_parameters())
        document["paths"].update(health_paths())
        document["paths"].update(export_paths())
        document["paths"].update(import_paths())
        document["paths"].update(metrics_paths())
        document["paths"].update(access_paths())
        document["components"]["schemas"].update(access_schemas())
        document["components"]["parameters"].update(access_parameters())
        describe_access(document, app)
        app.extensions[_DOCUMENT] = document
    return app.extensions[_DOCUMENT]


@bp.get("/openapi.json")
@public
def openapi_json() -> Any:
    """The OpenAPI 3.1 document of the JSON API."""
    return jsonify(api_document())


@bp.get("/docs")
@public
def docs() -> Any:
    """Interactive documentation (Swagger UI) of the JSON API."""
    return render_template("ops/docs.html")


@bp.get("/docs/assets/<path:filename>")
@public
def docs_asset(filename: str) -> Any:
    """Swagger UI's scripts and styles, from the pinned package, never a CDN."""
    return send_from_directory(str(swagger_ui_path), filename, max_age=_ASSET_MAX_AGE)
