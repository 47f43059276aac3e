"""Roles, scopes and how they compare: the one place that says who may do what."""

from __future__ import annotations

# Each scope includes the ones before it.
SCOPES = ("read", "write", "admin")
ROLES = ("viewer", "clerk", "admin")
# The widest scope each role may use (and a token of its may carry).
ROLE_SCOPE = dict(zip(ROLES, SCOPES, strict=True))
ANONYMOUS_ACCESS_LEVELS = ("none", "read", "write")


def includes(granted: str | None, needed: str) -> bool:
    """Whether scope ``granted`` (None: no scope at all) covers ``needed``."""
    return granted is not None and SCOPES.index(granted) >= SCOPES.index(needed)


def narrower(first: str, second: str) -> str:
    """The narrower of two scopes."""
    return first if SCOPES.index(first) <= SCOPES.index(second) else second
