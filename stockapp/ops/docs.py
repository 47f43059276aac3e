"""The API's description: the OpenAPI document and Swagger UI rendering it offline."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from ..access.permissions import public
from ..core.api_document import api_document

bp = Blueprint("docs", __name__, template_folder="templates")

# A week: the files only change with the pinned package, and their URLs then stay
# the same, so browsers must still revalidate now and then.
_ASSET_MAX_AGE = 7 * 24 * 3600


@bp.get("/openapi.json")
@public
def openapi_json() -> Any:
    """The OpenAPI 3.1 document of the JSON API."""
    return jsonify(api_document(current_app._get_current_object()))


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
