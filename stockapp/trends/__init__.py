"""Stock over time: series computed from the movement log, and their charts."""

from __future__ import annotations

from flask import Flask

from ..core.api_document import contribute
from . import api


def init_app(app: Flask) -> None:
    """Serve the series and the charts."""
    app.register_blueprint(api.bp)
    contribute(
        app,
        schemas=api.series_schemas(),
        parameters=api.series_parameters(),
    )
