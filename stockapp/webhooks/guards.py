"""Who may manage webhooks beyond the admin scope, shared by the API and the page."""

from __future__ import annotations

from ..access.identity import current_identity
from ..access.permissions import insufficient_scope


def unlimited_admin() -> None:
    """Refuse a token limited to some collections: a subscription may hear of
    every collection."""
    identity = current_identity()
    if identity.collections is not None:
        raise insufficient_scope(
            identity,
            "admin",
            "Webhooks need an admin token that is not limited to some collections.",
        )
