"""Rate limits on failed log-ins, invalid tokens and (optionally) each token's use.

Built on ``limits``, the library under Flask-Limiter, used directly: only
failures count here, and they are known only after the check, which
Flask-Limiter's per-route decorators cannot express; and its request hooks cost
about 0.13 ms on every request even with no limit declared (measured with
cProfile). The storage is ``RATELIMIT_STORAGE_URI``: per worker in memory, or
shared across workers and hosts through Redis.
"""

from __future__ import annotations

import math
import time
from functools import cache

from flask import Flask, current_app, request
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, RateLimiter

from ..core.errors import Problem
from ..core.instruments import RATE_LIMITED

_EXTENSION = "stockapp.limits"


def init_limits(app: Flask) -> None:
    """Give ``app`` its rate-limit counters, in the configured storage."""
    storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"])
    app.extensions[_EXTENSION] = FixedWindowRateLimiter(storage)


def _counters() -> RateLimiter:
    return current_app.extensions[_EXTENSION]


def client_address() -> str:
    """The caller's address (behind ``TRUSTED_PROXIES`` proxies, the one they saw)."""
    return request.remote_addr or "unknown"


def _limit(setting: str) -> RateLimitItem:
    return _parsed(current_app.config[setting])


@cache
def _parsed(limit: str) -> RateLimitItem:
    return parse(limit)


class Attempt:
    """An attempt counted in advance against each of its keys; given back if it
    succeeds, so that in the end only failures count.

    Counting before the check makes the limit exact under concurrency: of many
    simultaneous attempts, only as many as the limit has left are checked at
    all, whichever worker or host serves them.
    """

    def __init__(self, setting: str, *keys: tuple[str, ...]) -> None:
        self.limit = _limit(setting)
        self.keys = keys
        for key in keys:
            # One atomic increment each (INCR in Redis).
            if not _counters().hit(self.limit, *key):
                raise _too_many(setting, self.limit, key)

    def succeeded(self) -> None:
        """Give the attempt back: it was not a failure."""
        storage = _counters().storage
        for key in self.keys:
            storage.incr(self.limit.key_for(*key), self.limit.get_expiry(), amount=-1)


def take_one(setting: str, *key: str) -> None:
    """Count one use against ``key``, answering 429 once the limit is used up."""
    limit = _limit(setting)
    if not _counters().hit(limit, *key):
        raise _too_many(setting, limit, key)


def _too_many(setting: str, limit: RateLimitItem, key: tuple[str, ...]) -> Problem:
    RATE_LIMITED.labels(setting.removeprefix("RATELIMIT_").lower()).inc()
    reset_at = _counters().get_window_stats(limit, *key).reset_time
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return Problem(
        429,
        "Too many requests",
        f"Too many requests ({limit.amount} per {limit.get_expiry()} seconds);"
        f" try again in {retry_after} seconds.",
        headers={"Retry-After": str(retry_after)},
    )
