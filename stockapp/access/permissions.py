"""Who may call each route: declared at the route, enforced here, before anything.

Every view declares its requirement with ``@public``, ``@requires(scope)`` or
``@requires_user(scope)``; ``authorize`` runs before every other check of the
request, so a caller without valid credentials learns nothing about input rules
or what exists. A route without a declaration is refused (and a test walks the
router so that none ships).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, url_for

from ..core.errors import Problem
from .identity import REALM, Identity, load_identity

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "stockapp_requirement"
# Flask's own static files are public.
_PUBLIC_ENDPOINTS = frozenset({"static"})


@dataclass(frozen=True)
class Requirement:
    """What a route needs of its caller."""

    # The scope needed; None: anyone, even without credentials.
    scope: str | None
    # Only a user will do (anonymous access never suffices).
    user: bool = False
    # An HTML page: a browser session counts, and a caller without one is sent
    # to the log-in page instead of answered 401.
    page: bool = False
    # The route may create the collection in its URL (POST, PUT, PATCH): a
    # token limited to other collections is refused 403 rather than 404.
    creates_collection: bool = False
    # Both an API route and a page at one URL: a page for a request that
    # prefers HTML (a browser), JSON otherwise.
    negotiated: bool = False
    # A setting that, when it is "public", opens the route to anyone
    # (METRICS_ACCESS for /metrics).
    public_when: str | None = None


def _declare(requirement: Requirement) -> Callable[[F], F]:
    def declare(view: F) -> F:
        setattr(view, _ATTRIBUTE, requirement)
        return view

    return declare


def public(view: F) -> F:
    """Anyone may call the route (a presented token is still checked)."""
    return _declare(Requirement(None))(view)


def public_page(view: F) -> F:
    """Anyone may open the page; a logged-in browser is recognised on it."""
    return _declare(Requirement(None, page=True))(view)


def requires(
    scope: str,
    *,
    page: bool = False,
    creates_collection: bool = False,
    negotiated: bool = False,
) -> Callable[[F], F]:
    """The route needs ``scope``, from a user or from anonymous access."""
    return _declare(
        Requirement(
            scope,
            page=page,
            creates_collection=creates_collection,
            negotiated=negotiated,
        )
    )


def prefers_html() -> bool:
    """Whether the request asks for HTML before JSON (a browser does; curl's
    ``*/*`` gets JSON)."""
    offered = request.accept_mimetypes.best_match(("application/json", "text/html"))
    return offered == "text/html"


def requires_user(
    scope: str,
    *,
    page: bool = False,
    negotiated: bool = False,
    public_when: str | None = None,
) -> Callable[[F], F]:
    """The route needs a user holding ``scope``; anonymous access never suffices
    (unless the setting ``public_when`` is "public")."""
    return _declare(
        Requirement(
            scope,
            user=True,
            page=page,
            negotiated=negotiated,
            public_when=public_when,
        )
    )


def requirement_of(endpoint: str) -> Requirement | None:
    """The requirement declared for ``endpoint``, or None if it declares none."""
    if endpoint in _PUBLIC_ENDPOINTS:
        return Requirement(None)
    view = current_app.view_functions.get(endpoint)
    return getattr(view, _ATTRIBUTE, None)


def authorize() -> Any:
    """Load the caller into ``g.identity`` and refuse what it may not do."""
    endpoint = request.endpoint
    requirement = None if endpoint is None else requirement_of(endpoint)
    page = requirement is not None and (
        requirement.page or (requirement.negotiated and prefers_html())
    )
    # Errors of a page are answered as a page (errors.py reads this).
    g.page = page
    g.identity = identity = load_identity(accepts_session=page)
    if endpoint is None or request.method == "OPTIONS":
        # Routing answers 404/405 next; OPTIONS only lists the methods.
        return None
    if requirement is None:
        raise RuntimeError(f"route {endpoint!r} declares no access requirement")
    if requirement.scope is None:
        return None
    if (
        requirement.public_when is not None
        and current_app.config[requirement.public_when] == "public"
    ):
        return None
    if identity.is_anonymous and (
        requirement.user or not identity.allows(requirement.scope)
    ):
        if page:
            return redirect(url_for("access_pages.log_in", next=_here()), 303)
        raise _authentication_required()
    if not identity.allows(requirement.scope):
        raise insufficient_scope(identity, requirement.scope)
    collection = (request.view_args or {}).get("collection")
    if collection is not None:
        refuse_unseen_collection(collection, creates=requirement.creates_collection)
    return None


def refuse_unseen_collection(collection: str, *, creates: bool) -> None:
    """Refuse a collection a limited token may not see: 403 to create it, else
    404 as if it did not exist (the answer is the same whether it exists)."""
    identity: Identity = g.identity
    if identity.sees(collection):
        return
    if creates:
        raise insufficient_scope(
            identity,
            "write",
            f'This token is limited to other collections than "{collection}".',
        )
    raise Problem(404, "Not found", f'There is no collection "{collection}".')


def _here() -> str:
    path = request.full_path
    return path[:-1] if path.endswith("?") else path


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(char) < 0x20 for char in target):
        return None
    return target


def _authentication_required() -> Problem:
    return Problem(
        401,
        "Authentication required",
        "This needs credentials: send Authorization: Bearer <token>.",
        headers={"WWW-Authenticate": REALM},
    )


def insufficient_scope(
    identity: Identity, scope: str, detail: str | None = None
) -> Problem:
    """403 for a caller who is known but may not do this."""
    headers = {}
    if identity.token_id is not None:
        headers["WWW-Authenticate"] = (
            f'{REALM}, error="insufficient_scope", scope="{scope}"'
        )
    if detail is None:
        detail = f'This needs the "{scope}" scope, which this caller does not have.'
        if g.get("page") and identity.token_id is None and scope in _WHO_MAY:
            # A person in a browser: in words of roles, not scopes.
            detail = (
                f"Only {_WHO_MAY[scope]} may do this; you are logged in as"
                f" {identity.name}, a {identity.role}."
            )
    return Problem(403, "Forbidden", detail, headers=headers)


# Who may do what a scope allows, said to a person on a page.
_WHO_MAY = {
    "read": "a viewer, a clerk or an admin",
    "write": "a clerk or an admin",
    "admin": "an admin",
}
