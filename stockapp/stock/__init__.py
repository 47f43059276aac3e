"""Collections and their members: the writes, the reads, adjustments, reorder
levels, the JSON API and the clerk's pages."""

from __future__ import annotations

from flask import Flask

from ..core.extensions import csrf
from . import api, overview, pages, reorder


def init_app(app: Flask) -> None:
    """Serve the stock's API and pages."""
    for blueprint in (api.bp, reorder.bp, overview.bp, pages.bp):
        app.register_blueprint(blueprint)
    # The JSON API takes bearer tokens, never the session cookie: no CSRF there.
    csrf.exempt(api.bp)
    csrf.exempt(reorder.bp)
