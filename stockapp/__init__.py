"""stockapp: a persistent JSON API for stock, with a small HTML front."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import CONFIGS

from . import (
    api,
    collection_pages,
    docs,
    exports,
    health,
    history_pages,
    import_pages,
    imports,
    pages,
    reorder,
)
from .access import init_access
from .backups import register_backup_commands
from .database import configure_engine, engine_options
from .errors import register_error_handlers
from .extensions import csrf, db, migrate
from .guards import register_guards
from .headers import register_security_headers
from .metrics import bp as metrics_bp
from .metrics import init_metrics
from .request_log import init_request_log

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the ``STOCKAPP_CONFIG`` settings, overlaid with ``config``."""
    app = Flask(__name__, instance_relative_config=True)
    config_name = os.environ.get("STOCKAPP_CONFIG", "development")
    if config_name not in CONFIGS:
        raise RuntimeError(f"STOCKAPP_CONFIG must be one of {', '.join(CONFIGS)}")
    app.config.from_object(CONFIGS[config_name])
    if config:
        app.config.from_mapping(config)
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError(
            "SECRET_KEY must be set (the production settings have no default)"
        )
    # Members and collections are listed in the order they were created.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # "/stock//apple" is an empty collection name, not a redirect to "/stock/apple".
    app.url_map.merge_slashes = False

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    with app.app_context():
        configure_engine(app, db.engine)

    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        # The client address (rate limits) and scheme as the proxies saw them.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    # The request's id comes first (it decides nothing, and every later line of
    # the request's log carries it); then access control, which decides before
    # the guards.
    init_request_log(app)
    init_access(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(reorder.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(collection_pages.bp)
    app.register_blueprint(history_pages.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(exports.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(import_pages.bp)
    init_metrics(app)
    app.cli.add_command(exports.stock_cli)
    register_backup_commands()
    csrf.exempt(api.bp)
    csrf.exempt(reorder.bp)
    csrf.exempt(health.bp)
    csrf.exempt(exports.bp)
    csrf.exempt(imports.bp)
    csrf.exempt(metrics_bp)
    register_guards(app)
    register_security_headers(app)
    register_error_handlers(app)
    return app
