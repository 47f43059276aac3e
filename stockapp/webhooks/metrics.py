"""The webhooks' gauges, counted when /metrics is scraped: attempts by outcome
(those the log keeps), and the outbox's depth and oldest waiting event."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ..core.clock import as_utc, utcnow
from ..core.extensions import db
from .models import PENDING, Attempt, Delivery, Subscription
from .worker import OUTCOMES


class WebhookCollector(Collector):
    """Three statements per scrape, each on an index."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_outcome = dict(
            db.session.execute(
                select(Attempt.outcome, func.count()).group_by(Attempt.outcome)
            ).all()
        )
        # Those a worker owes: a disabled subscription's wait until it is on.
        depth, oldest = db.session.execute(
            select(func.count(), func.min(Delivery.created_at))
            .join(Subscription, Subscription.id == Delivery.subscription_id)
            .where(Delivery.state == PENDING, Subscription.enabled)
        ).one()
        db.session.rollback()
        attempts = GaugeMetricFamily(
            "stockapp_webhook_attempts",
            "Webhook delivery attempts kept in the log (WEBHOOKS_RETENTION_DAYS),"
            " by outcome.",
            labels=["outcome"],
        )
        for outcome in OUTCOMES:
            attempts.add_metric([outcome], by_outcome.get(outcome, 0))
        yield attempts
        yield GaugeMetricFamily(
            "stockapp_webhook_outbox_depth",
            "Webhook deliveries waiting to be sent to enabled subscriptions"
            " (retries included).",
            value=depth,
        )
        age = 0.0 if oldest is None else (utcnow() - as_utc(oldest)).total_seconds()
        yield GaugeMetricFamily(
            "stockapp_webhook_outbox_oldest_seconds",
            "Age of the oldest delivery waiting for an enabled subscription, in"
            " seconds (0: none).",
            value=max(age, 0.0),
        )
