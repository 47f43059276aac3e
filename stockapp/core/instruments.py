"""The metrics stockapp keeps (prometheus-client), defined once for every module
that counts something; ``ops/metrics.py`` serves them.

With ``PROMETHEUS_MULTIPROC_DIR`` set before this is imported (gunicorn.conf.py
sets it), each worker writes its samples to files there.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "stockapp_requests",
    "Requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "stockapp_request_duration_seconds",
    "Time to answer a request (to the first byte of a streamed answer).",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
)
RETRIES = Counter(
    "stockapp_transaction_retries",
    "Write transactions run again after the database aborted them (a conflict).",
)
REPLAYS = Counter(
    "stockapp_idempotent_replays",
    "Requests answered from an Idempotency-Key's stored first answer.",
)
RATE_LIMITED = Counter(
    "stockapp_rate_limit_refusals",
    "Requests refused 429 by a rate limit, by the limit's setting.",
    ["limit"],
)
