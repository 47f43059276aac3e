"""Security headers on every response (request_toll.py adds them)."""

from __future__ import annotations

from collections.abc import Sequence

# No inline script or style, no framing, nothing from other origins.
CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'"
# Swagger UI sets inline styles and shows data: images (its icons).
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
    " frame-ancestors 'none'"
)
_HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
_VARY = "Authorization, Cookie"
# Never kept by a shared cache; the browser's own may revalidate (ETag).
_PRIVATE = ("Cache-Control", "private, no-cache")

_COMMON = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))
_HEADERS = (*_COMMON, ("Content-Security-Policy", CONTENT_SECURITY_POLICY))
_DOCS_HEADERS = (*_COMMON, ("Content-Security-Policy", DOCS_CONTENT_SECURITY_POLICY))


def security_headers(
    headers: list[tuple[str, str]], *, docs: bool, signed_in: bool, https: bool
) -> Sequence[tuple[str, str]]:
    """The headers that keep browsers and caches from misusing a response with
    ``headers`` (a WSGI header list, whose own Vary is taken out and merged).

    ``docs``: the Swagger UI page; ``signed_in``: a user's answer, private
    unless the view said how to cache it (a secret's ``no-store``, say);
    ``https``: the site is served over HTTPS (HSTS). No view sets any of the
    others itself.
    """
    added = list(_DOCS_HEADERS if docs else _HEADERS)
    vary = None
    cache_control = False
    for index, (name, _) in enumerate(headers):
        lowered = name.lower()
        if lowered == "vary":
            vary = index
        elif lowered == "cache-control":
            cache_control = True
    # What the caller sees depends on who it is. (Flask adds "Cookie" itself
    # when the session was used.)
    if vary is None:
        added.append(("Vary", _VARY))
    else:
        own = headers.pop(vary)[1]
        added.append(("Vary", _VARY if own == "Cookie" else f"{own}, {_VARY}"))
    if signed_in and not cache_control:
        added.append(_PRIVATE)
    if https:
        added.append(_HSTS)
    return added
