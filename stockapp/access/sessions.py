"""Browser sessions: Flask's signed cookie, opened only when one was sent."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class SignedCookieSessions(SecureCookieSessionInterface):
    """Flask's own sessions, minus the cost of building the cookie's signer for
    every request that brings no session cookie (every API call)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)
