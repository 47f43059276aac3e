"""Roles, scopes and how they compare: the one place that says who may do what."""

from __future__ import annotations

# The stock's scopes: each includes the ones before it.
CHAIN = ("read", "write", "admin")
# Scopes beside the chain: each allows only itself, and admin includes it.
# "metrics": reading /metrics, for a scraper that may read nothing else.
STANDALONE = ("metrics",)
SCOPES = CHAIN + STANDALONE
# What a token of each scope may do, in a clerk's words.
MEANINGS = {
    "read": "see the stock",
    "write": "also change it",
    "admin": "also everyone's tokens and the users",
    "metrics": "only /metrics, for a monitoring scraper",
}
ROLES = ("viewer", "clerk", "admin")
# The widest scope each role may use (and a token of its may carry).
ROLE_SCOPE = dict(zip(ROLES, CHAIN, strict=True))
ANONYMOUS_ACCESS_LEVELS = ("none", "read", "write")


def includes(granted: str | None, needed: str) -> bool:
    """Whether scope ``granted`` (None: no scope at all) covers ``needed``."""
    if granted is None:
        return False
    if granted == needed:
        return True
    if needed in STANDALONE:
        return granted == "admin"
    if granted in STANDALONE:
        return False
    return CHAIN.index(granted) >= CHAIN.index(needed)


def narrower(first: str, second: str) -> str | None:
    """What both scopes allow, as a scope; None if they allow nothing in common
    (a metrics token of a user who is no longer an admin)."""
    if includes(second, first):
        return first
    if includes(first, second):
        return second
    return None


def covered_by(granted: str) -> tuple[str, ...]:
    """Every scope ``granted`` covers, in the order of SCOPES."""
    return tuple(scope for scope in SCOPES if includes(granted, scope))


def limits_collections(scope: str) -> bool:
    """Whether a token of ``scope`` may be limited to some collections (the
    standalone scopes are about no collection)."""
    return scope in CHAIN
