"""Webhooks: signed events for other systems, from a transactional outbox.

The stock's writes announce their movements inside their transaction; events.py
writes them to the outbox there; the worker (``flask webhooks deliver``) sends
them, signed as Standard Webhooks says, and retries them for a day.
"""

from __future__ import annotations

from flask import Flask

from ..core.api_document import contribute
from . import api, cli, events, pages, schemas


def init_app(app: Flask) -> None:
    """Serve the subscriptions' API and page; write the outbox of every write."""
    _check_timeouts(app)
    events.listen()
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    contribute(
        app,
        tags=schemas.TAGS,
        schemas=schemas.webhook_schemas(),
        parameters=schemas.webhook_parameters(),
        finish=schemas.describe_events,
    )
    app.cli.add_command(cli.webhooks)


def _check_timeouts(app: Flask) -> None:
    """Refuse to start unless a delivery ends well within its lease."""
    config = app.config
    longest = float(config["WEBHOOKS_CONNECT_TIMEOUT"]) + float(
        config["WEBHOOKS_ANSWER_TIMEOUT"]
    )
    if longest >= float(config["WEBHOOKS_LEASE_SECONDS"]):
        raise RuntimeError(
            "WEBHOOKS_CONNECT_TIMEOUT + WEBHOOKS_ANSWER_TIMEOUT must be shorter"
            " than WEBHOOKS_LEASE_SECONDS, or a slow delivery loses its lease and"
            " another worker sends it again"
        )
