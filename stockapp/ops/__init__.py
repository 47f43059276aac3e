"""Running it: health checks, metrics, backup and restore, the API document."""

from __future__ import annotations

from flask import Flask

from ..core.api_document import contribute
from . import backups, docs, health, metrics, prune


def init_app(app: Flask) -> None:
    """Serve /healthz, /readyz, /metrics, /openapi.json and /docs; add
    ``flask db backup``, ``restore``, ``new-etags`` and ``prune``."""
    app.register_blueprint(docs.bp)
    app.register_blueprint(health.bp)
    metrics.init_metrics(app)
    backups.register_backup_commands()
    prune.register_prune_command()
    contribute(
        app,
        tags=[{"name": "operations", "description": "Health checks, export, metrics."}],
    )
