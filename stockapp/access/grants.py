"""What a user may do with tokens: whose it sees, and how wide a token it makes.

Shared by the JSON API and the tokens page.
"""

from __future__ import annotations

from datetime import timedelta

from ..core.clock import utc_text, utcnow
from .identity import Identity
from .permissions import insufficient_scope
from .scopes import includes
from .validation import TokenRequest


def owner_filter(identity: Identity) -> int | None:
    """Whose tokens the caller may see: all for admin scope, else only its own."""
    return None if identity.allows("admin") else identity.user_id


def refuse_wider_than_caller(identity: Identity, wanted: TokenRequest) -> None:
    """Refuse (403) a token wider than the caller: scope, owner, collections or
    expiry."""
    if not includes(identity.scope, wanted.scope):
        raise insufficient_scope(identity, wanted.scope)
    if wanted.user not in (None, identity.name) and not identity.allows("admin"):
        raise insufficient_scope(identity, "admin")
    if identity.collections is not None and not (
        wanted.collections is not None
        and identity.collections.issuperset(wanted.collections)
    ):
        raise insufficient_scope(
            identity,
            wanted.scope,
            "A token limited to some collections can only make tokens limited to"
            " some of the same.",
        )
    if identity.expires_at is not None and (
        wanted.expires_in_days is None
        or utcnow() + timedelta(days=wanted.expires_in_days) > identity.expires_at
    ):
        raise insufficient_scope(
            identity,
            wanted.scope,
            "A token that expires can only make tokens that expire no later"
            f" (at {utc_text(identity.expires_at)}).",
        )
