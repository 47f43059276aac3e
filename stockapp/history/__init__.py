"""The movement log: who changed which quantity, when and why; its API and pages."""

from __future__ import annotations

from flask import Flask

from ..core.extensions import csrf
from . import api, pages


def init_app(app: Flask) -> None:
    """Serve the movement log's API and pages."""
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    csrf.exempt(api.bp)
