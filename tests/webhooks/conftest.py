"""The webhooks' fixtures: an app that may send to loopback, an admin's token,
and a real receiver that checks every signature with the standardwebhooks
package, as a receiver built on it would."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from helpers import bearer
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from stockapp import create_app
from stockapp.core.extensions import db


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    """The test app, allowed to send to the loopback receiver below."""
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "WEBHOOKS_ALLOW_PRIVATE": True}
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def admin(make_user, make_token) -> dict[str, str]:
    """The headers of an admin's admin-scope token."""
    make_user("root", "admin")
    return bearer(make_token("root", "admin"))


@dataclass
class Received:
    """One request the receiver got, and whether its signature verified."""

    headers: dict[str, str]
    body: bytes
    verified: bool

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on loopback. ``answer`` gives each request's status
    (200 by default); ``secrets`` are those it verifies with (any one)."""

    url: str
    secrets: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    answer: Callable[[Received], int] = lambda _received: 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except WebhookVerificationError:
                continue
        return False

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [received.event for received in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            headers = {key.lower(): value for key, value in self.headers.items()}
            this = state["receiver"]
            received = Received(headers, body, this.verify(headers, body))
            with this.lock:
                this.received.append(received)
            status = this.answer(received)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["receiver"] = Receiver(f"http://127.0.0.1:{server.server_port}/hook")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def subscribe(client, admin, receiver):
    """Subscribe the receiver (``subscribe(events=[...], ...)``); the new
    subscription, whose secret the receiver then verifies with."""

    def make(**fields: Any) -> dict[str, Any]:
        body = {"url": receiver.url, "events": ["movement.created"], **fields}
        response = client.post("/webhooks", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        made = response.get_json()
        receiver.secrets.append(made["secret"])
        return made

    return make


@pytest.fixture
def deliver(app):
    """Run a worker until nothing is due: ``deliver(worker=Worker(...))``."""
    from stockapp.webhooks.worker import Worker

    def run(worker: Worker | None = None) -> int:
        with app.app_context():
            return (worker or Worker()).drain()

    return run
