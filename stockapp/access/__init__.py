"""Access control: users, API tokens, browser sessions, CSRF and rate limits."""

from __future__ import annotations

from flask import Flask

from ..core.api_document import contribute
from ..core.extensions import csrf, login_manager
from ..core.settings import one_of
from . import account_pages, api, cli, pages
from .limits import init_limits
from .permissions import authorize
from .schemas import access_parameters, access_schemas, describe_access
from .scopes import ANONYMOUS_ACCESS_LEVELS
from .sessions import SignedCookieSessions


def init_app(app: Flask) -> None:
    """Bind the access extensions to ``app`` and check every request first."""
    level = one_of(app, "ANONYMOUS_ACCESS", ANONYMOUS_ACCESS_LEVELS)
    if level != "none":
        app.logger.warning(
            "ANONYMOUS_ACCESS=%s: anyone who can reach the server may %s the stock"
            " without logging in; set ANONYMOUS_ACCESS=none on a network.",
            level,
            "read and change" if level == "write" else "read",
        )
    # First of all the request hooks: authentication comes before anything else.
    app.before_request(authorize)
    app.session_interface = SignedCookieSessions()
    login_manager.init_app(app)
    login_manager.login_view = "access_pages.log_in"
    csrf.init_app(app)
    init_limits(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(account_pages.bp)
    contribute(
        app,
        tags=[{"name": "access", "description": "Who the caller is; API tokens."}],
        schemas=access_schemas(),
        parameters=access_parameters(),
        # Who may call each operation, from the requirement its route declares.
        finish=describe_access,
    )
    app.cli.add_command(cli.users)
    app.cli.add_command(cli.tokens)
