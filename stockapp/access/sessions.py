"""Browser sessions: Flask's signed cookie, with nothing to do for API calls."""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import (
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionMixin,
)


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask's own sessions, minus the work they do on every request that brings
    no session cookie and leaves none (every API call): building the cookie's
    signer and reading the cookie settings, about 20 µs a request."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(
        self, app: Flask, session: SessionMixin, response: Response
    ) -> None:
        if not session and not session.modified:
            # Nothing to store or delete. Flask would still add "Vary: Cookie"
            # when the session was looked at (Flask-Login looks at it after
            # every request); headers.py adds it to every response anyway.
            return
        super().save_session(app, session, response)
