"""API token secrets: made from 32 random bytes, stored only as a digest."""

from __future__ import annotations

import hashlib
import re
import secrets

# A recognisable prefix lets secret scanners find a leaked token.
TOKEN_PREFIX = "stk_"
_TOKEN_BYTES = 32
# token_urlsafe(32) is 43 characters of the URL-safe base64 alphabet.
_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")


def new_secret() -> str:
    """A fresh token secret, shown once to its owner and never stored."""
    return TOKEN_PREFIX + secrets.token_urlsafe(_TOKEN_BYTES)


def digest(secret: str) -> str:
    """The SHA-256 of ``secret`` in hex: what the database keeps."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_a_token(secret: str) -> bool:
    """Whether ``secret`` has the form of a token this app gives out."""
    return _TOKEN.fullmatch(secret) is not None
