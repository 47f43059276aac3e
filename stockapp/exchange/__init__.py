"""Import and export of the whole stock as CSV or JSON: API, page and CLI."""

from __future__ import annotations

from flask import Flask

from . import exports, imports, low_stock_csv, pages


def init_app(app: Flask) -> None:
    """Serve exports and imports; add ``flask stock export`` and ``import``."""
    for blueprint in (exports.bp, imports.bp, pages.bp, low_stock_csv.bp):
        app.register_blueprint(blueprint)
    app.cli.add_command(exports.stock_cli)
