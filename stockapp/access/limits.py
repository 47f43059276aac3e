"""Rate limits on failed log-ins, invalid tokens and (optionally) each token's use.

Flask-Limiter holds the storage (``RATELIMIT_STORAGE_URI``: per worker in
memory, or shared through Redis) and the fixed-window strategy; the counting is
done here because only failures count, and they are known only after the check.
"""

from __future__ import annotations

import math
import time

from flask import current_app, request
from limits import RateLimitItem, parse

from ..errors import Problem
from ..extensions import limiter


def client_address() -> str:
    """The caller's address (behind ``TRUSTED_PROXIES`` proxies, the one they saw)."""
    return request.remote_addr or "unknown"


def _limit(setting: str) -> RateLimitItem:
    return parse(current_app.config[setting])


def refuse_if_exhausted(setting: str, *keys: tuple[str, ...]) -> None:
    """Answer 429 if any of ``keys`` has used up the limit named by ``setting``."""
    limit = _limit(setting)
    for key in keys:
        if not limiter.limiter.test(limit, *key):
            raise _too_many(limit, key)


def count_failure(setting: str, *keys: tuple[str, ...]) -> None:
    """Count one failure against each of ``keys`` under the limit ``setting``."""
    limit = _limit(setting)
    for key in keys:
        limiter.limiter.hit(limit, *key)


def take_one(setting: str, *key: str) -> None:
    """Count one use against ``key``, answering 429 once the limit is used up."""
    limit = _limit(setting)
    if not limiter.limiter.hit(limit, *key):
        raise _too_many(limit, key)


def _too_many(limit: RateLimitItem, key: tuple[str, ...]) -> Problem:
    reset_at = limiter.limiter.get_window_stats(limit, *key).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return Problem(
        429,
        "Too many requests",
        f"Too many requests ({limit.amount} per {limit.get_expiry()} seconds);"
        f" try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )
