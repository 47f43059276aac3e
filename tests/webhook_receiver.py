"""A webhook receiver on a free loopback port (tests): it records every request
and checks its signature with the standardwebhooks package, as a receiver
built on it would."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

# How often the server looks at whether it is asked to stop: shutting it down
# waits up to this long (http.server's own default, 0.5 s, adds up over tests).
POLL_SECONDS = 0.05


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
    """``answer`` gives each request's status (200 by default); ``secrets`` are
    those it verifies with (any one)."""

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

    def count(self) -> int:
        with self.lock:
            return len(self.received)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 until the block ends."""
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            headers = {key.lower(): value for key, value in self.headers.items()}
            this = state["receiver"]
            received = Received(headers, body, this.verify(headers, body))
            status = this.answer(received)
            with this.lock:
                this.received.append(received)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = Receiver(f"http://127.0.0.1:{server.server_port}/hook")
    thread = threading.Thread(
        target=server.serve_forever, args=(POLL_SECONDS,), daemon=True
    )
    thread.start()
    try:
        yield state["receiver"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
