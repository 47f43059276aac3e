"""The movement log: who changed which quantity, when and why; its API and pages."""

from __future__ import annotations

from flask import Flask

from ..core.api_document import contribute
from . import api, pages, schemas, words


def init_app(app: Flask) -> None:
    """Serve the movement log's API and pages."""
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    words.init_words(app)
    contribute(
        app,
        schemas=schemas.history_schemas(),
        parameters=schemas.history_parameters(),
    )
