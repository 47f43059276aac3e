"""One HTTP POST to a receiver, bounded in every way.

Connects only to an address ``targets.resolve`` checked, with a connect timeout;
the whole exchange after connecting has a deadline (a receiver that drips its
answer a byte at a time is cut off); redirects are never followed (a 3xx is a
failed attempt); at most the first ``MAX_ANSWER_KEPT`` bytes of the answer are
read. Written on http.client rather than requests or httpx: neither lets the
caller pin the checked address while keeping the name for TLS and ``Host``.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from .models import MAX_ANSWER_KEPT
from .targets import RefusedTarget, Resolver, resolve, target

USER_AGENT = "stockapp-webhooks/1"


@dataclass(frozen=True)
class Answer:
    """What came of one attempt: the status (None: no answer, ``error`` says
    why), the start of the answer's body, and how long it took."""

    status: int | None
    body: bytes
    error: str | None
    latency_ms: int

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Limits:
    connect_timeout: float
    # The whole exchange after connecting: sending, and reading the answer.
    answer_timeout: float
    allow_private: bool


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    limits: Limits,
    resolver: Resolver | None = None,
) -> Answer:
    """POST ``body`` to ``url``; never raises for what the receiver does."""
    started = time.monotonic()

    def answer(status: int | None, text: bytes, error: str | None) -> Answer:
        latency = round((time.monotonic() - started) * 1000)
        return Answer(status, text, error, latency)

    parts, host, port = target(url)
    try:
        addresses = resolve(
            host, port, allow_private=limits.allow_private, resolver=resolver
        )
    except RefusedTarget as refused:
        return answer(None, b"", f"refused: {refused}")
    try:
        sock = _connect(addresses, port, limits.connect_timeout)
    except OSError as error:
        return answer(None, b"", f"could not connect: {error or type(error).__name__}")
    # Past the deadline, shutting the socket down wakes whatever read waits
    # (and makes what was read so far look complete: ``expired`` tells).
    expired = threading.Event()
    deadline = threading.Timer(limits.answer_timeout, _shut, (sock, expired))
    deadline.start()
    too_late = f"no answer within {limits.answer_timeout:g} s"
    try:
        if parts.scheme == "https":
            context = ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=host)
        connection_class = (
            http.client.HTTPSConnection
            if parts.scheme == "https"
            else http.client.HTTPConnection
        )
        connection = connection_class(host, port, timeout=limits.answer_timeout)
        connection.sock = sock
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection.request(
            "POST",
            path,
            body,
            {
                **headers,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        response = connection.getresponse()
        text = response.read(MAX_ANSWER_KEPT)
        deadline.cancel()
        if expired.is_set():
            return answer(None, b"", too_late)
        return answer(response.status, text, None)
    except TimeoutError:
        return answer(None, b"", too_late)
    except (OSError, http.client.HTTPException) as error:
        deadline.cancel()
        if expired.is_set():
            return answer(None, b"", too_late)
        return answer(None, b"", f"bad answer: {error or type(error).__name__}")
    finally:
        deadline.cancel()
        sock.close()


def _connect(
    addresses: list[tuple[int, str]], port: int, timeout: float
) -> socket.socket:
    """A socket connected to the first of ``addresses`` that answers."""
    error: OSError = OSError("no address")
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            return sock
        except OSError as failed:
            sock.close()
            error = failed
    raise error


def _shut(sock: socket.socket, expired: threading.Event) -> None:
    expired.set()
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
