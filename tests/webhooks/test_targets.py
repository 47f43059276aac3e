"""Where webhooks may go: every address class an attacker would aim a webhook
at is refused after resolving, at every delivery, unless the server allows
private receivers; redirects are never followed; every wait is bounded."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stockapp.webhooks.sender import Limits, post
from stockapp.webhooks.targets import RefusedTarget, resolve

PUBLIC = "93.184.216.34"
STRICT = Limits(connect_timeout=1, answer_timeout=1, allow_private=False)
LAN = Limits(connect_timeout=1, answer_timeout=0.5, allow_private=True)


def resolving_to(*addresses: str):
    """A resolver (getaddrinfo's shape) that answers ``addresses``, offline."""

    def resolver(host, port, **_kwargs):
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (address, port),
            )
            for address in addresses
        ]

    return resolver


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address (127.0.0.1)"),
        ("127.8.9.10", "a loopback address (127.8.9.10)"),
        ("::1", "a loopback address (::1)"),
        ("10.0.0.5", "a private address (10.0.0.5)"),
        ("172.16.3.4", "a private address (172.16.3.4)"),
        ("192.168.1.1", "a private address (192.168.1.1)"),
        ("fd12:3456::1", "a private address (fd12:3456::1)"),
        ("169.254.169.254", "a link-local address (169.254.169.254)"),
        ("fe80::1", "a link-local address (fe80::1)"),
        ("224.0.0.251", "a multicast address (224.0.0.251)"),
        ("ff02::1", "a multicast address (ff02::1)"),
        ("0.0.0.0", "a private address (0.0.0.0)"),
        ("::ffff:127.0.0.1", "a loopback address (127.0.0.1)"),
        ("::ffff:10.1.1.1", "a private address (10.1.1.1)"),
        ("100.64.0.1", "an address that is not global (100.64.0.1)"),
        ("192.0.2.1", "a private address (192.0.2.1)"),
    ],
)
def test_a_name_resolving_to_a_refused_address_is_refused(address, why):
    with pytest.raises(RefusedTarget) as refused:
        resolve(
            "hooks.example", 443, allow_private=False, resolver=resolving_to(address)
        )
    assert str(refused.value) == f"hooks.example resolves to {why}"
    # ... and no connection is tried: the attempt says why.
    answer = post("https://hooks.example/x", b"{}", {}, STRICT, resolving_to(address))
    assert (answer.status, answer.error) == (
        None,
        f"refused: hooks.example resolves to {why}",
    )


def test_one_refused_address_among_public_ones_refuses_the_name():
    with pytest.raises(RefusedTarget):
        resolve(
            "hooks.example",
            443,
            allow_private=False,
            resolver=resolving_to(PUBLIC, "10.0.0.1"),
        )


def test_a_public_address_is_allowed():
    assert resolve(
        "hooks.example", 443, allow_private=False, resolver=resolving_to(PUBLIC)
    ) == [(socket.AF_INET, PUBLIC)]


def test_localhost_really_resolving_to_loopback_is_refused():
    answer = post("http://localhost:9/x", b"{}", {}, STRICT)
    assert answer.status is None
    assert answer.error.startswith("refused: localhost resolves to a loopback address")


def test_a_name_that_does_not_resolve_is_refused():
    def failing(*_args, **_kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    answer = post("https://nowhere.invalid/", b"{}", {}, STRICT, failing)
    assert answer.error == (
        "refused: nowhere.invalid does not resolve:"
        " [Errno -2] Name or service not known"
    )


class Server:
    """A loopback server whose handler the test gives."""

    def __init__(self, handler) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                hits.append(self.path)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                handler(self)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    servers: list[Server] = []

    def start(handler) -> Server:
        servers.append(Server(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def answer_with(status: int, body: bytes = b"", **headers: str):
    def handle(request) -> None:
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    return handle


def test_a_redirect_is_not_followed_even_to_loopback(serve):
    elsewhere = serve(answer_with(200))
    redirecting = serve(answer_with(302, Location=f"{elsewhere.url}/inside"))
    answer = post(f"{redirecting.url}/hook", b"{}", {}, LAN)
    assert (answer.status, answer.delivered) == (302, False)
    assert elsewhere.hits == []
    assert redirecting.hits == ["/hook"]


def test_only_the_first_kib_of_the_answer_is_read(serve):
    server = serve(answer_with(200, b"x" * 100_000))
    answer = post(f"{server.url}/hook?a=1", b"{}", {}, LAN)
    assert answer.delivered
    assert answer.body == b"x" * 1024
    assert server.hits == ["/hook?a=1"]


def test_a_receiver_that_never_answers_is_cut_off(serve):
    release = threading.Event()
    server = serve(lambda request: release.wait(5))
    answer = post(f"{server.url}/slow", b"{}", {}, LAN)
    release.set()
    assert answer.status is None
    assert answer.error == "no answer within 0.5 s"


def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_deadline(serve):
    release = threading.Event()

    def drip(request) -> None:
        request.wfile.write(b"HTTP/1.1 200 OK\r\n")
        request.wfile.flush()
        for _ in range(50):
            if release.wait(0.1):
                return
            request.wfile.write(b"X-Drip: 1\r\n")
            request.wfile.flush()

    server = serve(drip)
    answer = post(f"{server.url}/drip", b"{}", {}, LAN)
    release.set()
    assert answer.status is None
    assert answer.error == "no answer within 0.5 s"


def test_a_closed_port_is_a_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answer = post(f"http://127.0.0.1:{port}/", b"{}", {}, LAN)
    assert answer.status is None
    assert answer.error.startswith("could not connect: ")
