"""``flask webhooks deliver``: the worker that sends the outbox's deliveries."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from .worker import Worker, run

webhooks = AppGroup("webhooks", help="Deliver webhooks.")


@webhooks.command("deliver")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=None,
    help="Subscriptions served at once (WEBHOOKS_WORKER_THREADS, 4).",
)
def deliver(once: bool, threads: int | None) -> None:
    """Send the pending deliveries, until stopped (SIGTERM or Ctrl-C)."""
    if once:
        attempts = Worker().drain()
        click.echo(f"Made {attempts} delivery attempts.")
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    count = threads or int(app.config["WEBHOOKS_WORKER_THREADS"])
    click.echo(f"Delivering webhooks with {count} threads; stop with Ctrl-C.")
    run(app, threads=count, stop=stop)
