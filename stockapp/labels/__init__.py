"""Printable labels: one member's label as SVG, and sheets of them to print."""

from __future__ import annotations

from flask import Flask

from . import api, pages


def init_app(app: Flask) -> None:
    """Serve labels and label sheets."""
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
