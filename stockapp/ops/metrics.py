"""``GET /metrics``: Prometheus metrics, right across gunicorn's workers.

prometheus-client in its multiprocess mode: each worker writes its samples to
files in ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn.conf.py makes and empties it,
and marks each dead worker's files), and a scrape, whichever worker serves it,
adds them all up. Without that directory (``flask run``, the tests' in-process
apps) the process's own registry is scraped.

Labels are the route template, method and status: never a name, so the number
of series does not grow with the stock. The stock gauges are counted when
scraped, in one statement.

Who may scrape: a token with the ``metrics`` scope (made by an admin for the
scraper; it reads nothing else) or the ``admin`` scope, or anyone with
``METRICS_ACCESS=public`` (a private network).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..access.permissions import requires_user
from ..core.api_doc import documented, operation_responses, ref
from ..core.api_document import api_blueprint
from ..core.extensions import db
from ..core.instruments import LATENCY, RATE_LIMITED, REPLAYS, REQUESTS, RETRIES
from ..core.request_toll import Answer, request_toll
from ..core.settings import one_of
from ..history.models import Movement
from ..stock.models import Collection, IdempotencyKey, Member
from ..webhooks.metrics import WebhookCollector

bp = api_blueprint("metrics", __name__)

METRICS_ACCESS_LEVELS = ("token", "public")
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


# Each gauge counted at scrape time: its table, and its help text.
_COUNTED = (
    ("stockapp_collections", Collection, "Collections in the stock."),
    ("stockapp_members", Member, "Members in all collections."),
    ("stockapp_movements", Movement, "Rows of the movement log (flask db prune)."),
    (
        "stockapp_idempotency_keys",
        IdempotencyKey,
        "Idempotency keys kept (24 hours; flask db prune).",
    ),
)


class _StockCollector(Collector):
    """How many rows the stock and the tables that grow with use hold, counted
    at scrape time in one statement."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = db.session.execute(
            select(
                *(
                    select(func.count()).select_from(model).scalar_subquery()
                    for _, model, _ in _COUNTED
                )
            )
        ).one()
        db.session.rollback()
        for (name, _, help_text), count in zip(_COUNTED, counts, strict=True):
            yield GaugeMetricFamily(name, help_text, value=count)


# The series of each (route, method, status) seen: labels() takes a lock and
# builds a key on every call; these few dozen are looked up once each.
_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _series(route: str, method: str, status: int) -> tuple[Any, Any]:
    key = (route, method, status)
    found = _SERIES.get(key)
    if found is None:
        found = _SERIES[key] = (
            REQUESTS.labels(route, method, str(status)),
            LATENCY.labels(route, method),
        )
    return found


def _observe(answer: Answer) -> None:
    # A URL that routes nowhere is one series, whatever was asked for.
    route = answer.route or "(unrouted)"
    count, latency = _series(route, answer.method, answer.status)
    count.inc()
    latency.observe(answer.seconds)


@bp.get("/metrics")
@documented(
    "metrics",
    tag="operations",
    responses=operation_responses(
        {
            "200": {
                "description": "Prometheus's text exposition format.",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
        names=False,
        extra={"403": ref("responses", "Forbidden")},
    ),
)
@requires_user("metrics", public_when="METRICS_ACCESS")
def metrics() -> Any:
    """Prometheus metrics.

    Requests by route template, method and status; latency histograms;
    transaction retries; idempotent replays; rate-limit refusals; the numbers
    of collections and members; webhook attempts by outcome, and the
    outbox's depth and oldest waiting delivery. Open to anyone if the server sets
    `METRICS_ACCESS=public`.
    """
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIRECTORY):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = _single_process(registry)
    registry.register(_StockCollector())
    registry.register(WebhookCollector())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def _single_process(registry: CollectorRegistry) -> CollectorRegistry:
    """This process's own metrics (no multiprocess directory), plus ours."""
    for collector in (REQUESTS, LATENCY, RETRIES, REPLAYS, RATE_LIMITED):
        registry.register(_Forward(collector))
    return registry


class _Forward(Collector):
    """One metric of the default registry, shown in another registry."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric

    def collect(self) -> Any:
        return self.metric.collect()


def init_metrics(app: Flask) -> None:
    """Count every request; serve /metrics."""
    one_of(app, "METRICS_ACCESS", METRICS_ACCESS_LEVELS)
    request_toll(app).observe(_observe)
    app.register_blueprint(bp)
