"""stockapp: a persistent JSON API for stock, with a small HTML front."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import CONFIGS

from . import access, exchange, history, labels, moves, ops, stock, trends, webhooks
from .core.database import configure_engine, engine_options
from .core.errors import register_error_handlers
from .core.extensions import db, migrate
from .core.guards import register_guards
from .core.page_formats import init_page_formats
from .core.request_log import init_request_log
from .core.request_toll import init_request_toll

# Each capability registers its routes, pages and commands with one init_app, in
# this order: access first, since it decides before anything else of a request;
# operations last, as its metrics observe every answer.
CAPABILITIES = (access, stock, history, exchange, moves, labels, trends, webhooks, ops)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class StockApp(Flask):
    """Flask, for views and hooks that are all synchronous (create_app checks)."""

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Flask asks inspect.iscoroutinefunction of the view and of each of a
        # request's dozen hooks, on every request: about 3 µs each.
        return func


def _refuse_async(app: Flask) -> None:
    """Refuse to start with an async view or hook, which StockApp would not run."""
    hooks = [
        hook
        for registry in (
            app.before_request_funcs,
            app.after_request_funcs,
            app.teardown_request_funcs,
        )
        for functions in registry.values()
        for hook in functions
    ]
    for function in [*app.view_functions.values(), *hooks]:
        if inspect.iscoroutinefunction(inspect.unwrap(function)):
            name = getattr(function, "__qualname__", repr(function))
            raise RuntimeError(f"{name} is async: stockapp runs none")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the ``STOCKAPP_CONFIG`` settings, overlaid with ``config``."""
    app = StockApp(__name__, instance_relative_config=True)
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

    # Ids, security headers, metrics and the log of every answer, in one pass
    # around the app (inside ProxyFix: the same for every answer).
    toll = init_request_toll(app)
    proxies = int(app.config["TRUSTED_PROXIES"])
    if proxies:
        # The client address (rate limits) and scheme as the proxies saw them.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    init_request_log(app)
    init_page_formats(app)
    for capability in CAPABILITIES:
        capability.init_app(app)
    register_guards(app)
    register_error_handlers(app)
    _refuse_async(app)
    # Last: a shortcut must know every route, to leave alone what is not its own.
    toll.build_shortcuts(app)
    return app
