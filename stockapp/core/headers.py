"""Security headers on every response."""

from __future__ import annotations

import functools

from flask import Flask, Response, g, request

# No inline script or style, no framing, nothing from other origins.
CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'"
# Swagger UI sets inline styles and shows data: images (its icons).
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
    " frame-ancestors 'none'"
)
_HSTS = "max-age=31536000; includeSubDomains"
_VARY = "Authorization, Cookie"


def add_security_headers(response: Response, *, https: bool = False) -> Response:
    """Set the headers that keep browsers and caches from misusing a response
    (and HSTS when the site is served over ``https``)."""
    # Appended rather than set (set searches the list first): these run on
    # every response (a hot path), and no view sets any of them itself.
    headers = response.headers
    docs = request.endpoint == "docs.docs"
    headers.extend(_DOCS_HEADERS if docs else _HEADERS)
    identity = g.get("identity")
    if (
        identity is not None
        and identity.user_id is not None
        and "Cache-Control" not in headers
    ):
        # Never kept by a shared cache; the browser's own may revalidate (ETag).
        # (A view that says no-store, for a secret, is left to say it.)
        headers["Cache-Control"] = "private, no-cache"
    # What the caller sees depends on who it is.
    vary = headers.get("Vary")
    # (Flask adds "Cookie" itself when the session was used.)
    headers["Vary"] = _VARY if vary in (None, "Cookie") else f"{vary}, {_VARY}"
    if https:
        headers["Strict-Transport-Security"] = _HSTS
    return response


_COMMON = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))
_HEADERS = (*_COMMON, ("Content-Security-Policy", CONTENT_SECURITY_POLICY))
_DOCS_HEADERS = (*_COMMON, ("Content-Security-Policy", DOCS_CONTENT_SECURITY_POLICY))


def register_security_headers(app: Flask) -> None:
    if app.config["PREFERRED_URL_SCHEME"] == "https":
        app.after_request(functools.partial(add_security_headers, https=True))
    else:
        app.after_request(add_security_headers)
