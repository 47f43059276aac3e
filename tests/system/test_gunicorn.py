"""The contract under real gunicorn: several workers, concurrent clients, restarts.

Each test starts its own gunicorn on a free loopback port over the test's own
database and stops it at the end.
"""

from __future__ import annotations

import http.client
import json
import signal
from concurrent.futures import ThreadPoolExecutor

import pytest
from gunicorn_server import Server

pytestmark = pytest.mark.slow


@pytest.fixture
def server(database_url, tmp_path):
    server = Server(database_url, tmp_path / "gunicorn.log")
    server.start()
    yield server
    server.stop()
    assert "database is locked" not in server.log.read_text()
    assert "Traceback" not in server.log.read_text()


def run_concurrently(calls, threads=8):
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_serves_the_contract(server):
    assert server.request("POST", "/stock/fruit", {"apple": 30}).status == 201
    assert server.request("GET", "/stock").json() == {"fruit": {"apple": 30}}
    assert server.request("GET", "/stock/fruit/apple").body == b"30\n"


def test_simultaneous_creates_of_one_collection_give_one_201(server):
    replies = run_concurrently(
        [lambda i=i: server.request("POST", "/stock/new", {"m": i}) for i in range(16)]
    )
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [201] + [400] * 15
    assert {r.json()["error"] for r in replies if r.status == 400} == {
        "Collection already exists"
    }
    winner = next(r for r in replies if r.status == 201)
    assert winner.headers["Location"] == "/stock/new"
    assert len(server.request("GET", "/stock/new").json()) == 1


def test_concurrent_patches_of_different_members_lose_none(server):
    server.request("POST", "/stock/fruit", {})

    def patch_rounds(member):
        # Each thread owns one member and sets it to 1, 2, ... 20 in order.
        return [
            server.request("PATCH", "/stock/fruit", {member: round_})
            for round_ in range(1, 21)
        ]

    batches = run_concurrently(
        [lambda t=t: patch_rounds(f"m{t}") for t in range(8)], threads=8
    )
    assert {reply.status for batch in batches for reply in batch} == {200}
    assert server.request("GET", "/stock/fruit").json() == {
        f"m{t}": 20 for t in range(8)
    }


def test_concurrent_member_puts_and_patches_lose_no_member(server):
    server.request("POST", "/stock/fruit", {})
    calls = [
        lambda i=i: server.request("PUT", f"/stock/fruit/p{i}", i) for i in range(60)
    ] + [
        lambda i=i: server.request("PATCH", "/stock/fruit", {f"q{i}": i})
        for i in range(60)
    ]
    replies = run_concurrently(calls)
    assert sorted({reply.status for reply in replies}) == [200, 201]
    expected = {f"p{i}": i for i in range(60)} | {f"q{i}": i for i in range(60)}
    assert server.request("GET", "/stock/fruit").json() == expected


def test_readers_never_see_half_of_a_put(server):
    members = [f"m{i}" for i in range(200)]
    server.request("PUT", "/stock/fruit", dict.fromkeys(members, 0))

    def write(round_):
        return server.request("PUT", "/stock/fruit", dict.fromkeys(members, round_))

    def read(_):
        return server.request("GET", "/stock/fruit")

    calls = []
    for round_ in range(1, 31):
        calls.append(lambda r=round_: write(r))
        calls.extend(lambda r=round_: read(r) for _ in range(3))
    replies = run_concurrently(calls)
    assert {reply.status for reply in replies} == {200}
    for reply in replies:
        if reply.body.startswith(b'{"m0"'):
            values = set(reply.json().values())
            assert len(values) == 1, values


def test_no_5xx_under_mixed_concurrent_writes(server):
    def churn(i):
        name = f"/stock/c{i % 3}"
        return [
            server.request("PUT", name, {"a": i, "b": i}),
            server.request("PATCH", name, {"a": None, f"x{i}": 1}),
            server.request("PUT", f"{name}/y{i}", i),
            server.request("DELETE", f"{name}/y{i}"),
            server.request("POST", name, {"z": 1}),
            server.request("DELETE", name),
        ]

    replies = [
        r
        for batch in run_concurrently([lambda i=i: churn(i) for i in range(24)])
        for r in batch
    ]
    assert all(reply.status < 500 for reply in replies), [
        (reply.status, reply.body) for reply in replies if reply.status >= 500
    ]


def test_committed_writes_survive_a_killed_server(server):
    assert server.request("POST", "/stock/fruit", {"apple": 30}).status == 201
    assert server.request("PUT", "/stock/fruit/pear", 4).status == 201
    server.stop(signal.SIGKILL)
    server.start()
    assert server.request("GET", "/stock").json() == {"fruit": {"apple": 30, "pear": 4}}


def test_path_that_is_not_utf8_is_rejected(server):
    reply = server.request("PUT", "/stock/%FF", {"a": 1})
    assert reply.status == 400
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert (
        reply.json()["detail"]
        == "The URL path is not valid UTF-8 once percent-decoded."
    )
    # An encoded lone surrogate is not UTF-8 either.
    assert server.request("GET", "/stock/a%ED%A0%80").status == 400
    assert server.request("GET", "/stock").json() == {}


def test_oversized_body_is_refused_before_it_is_sent(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest("PUT", "/stock/fruit")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(50 * 1024 * 1024))
        connection.endheaders()
        # Not one byte of the body was sent, yet the answer comes.
        response = connection.getresponse()
        body = response.read()
        assert response.status == 413, body
        assert json.loads(body)["error"] == "Request entity too large"
    finally:
        connection.close()
    assert server.request("GET", "/stock").json() == {}


def test_concurrent_adjustments_never_oversell(server):
    server.request("POST", "/stock/shop", {"widget": 300})

    def sell_fifty():
        return [
            server.request("POST", "/stock/shop/widget/adjustments", {"delta": -1})
            for _ in range(50)
        ]

    replies = [r for batch in run_concurrently([sell_fifty] * 8) for r in batch]
    statuses = [reply.status for reply in replies]
    assert statuses.count(200) == 300
    assert statuses.count(409) == 100
    assert len(statuses) == 400
    assert {r.json()["error"] for r in replies if r.status == 409} == {
        "Insufficient stock"
    }
    assert server.request("GET", "/stock/shop/widget").json() == 0
    history = server.request("GET", "/stock/shop/widget/history?limit=500").json()
    assert [m["kind"] for m in history["movements"]].count("adjust") == 300


def test_concurrent_writers_with_one_etag_let_exactly_one_win(server):
    server.request("POST", "/stock/shop", {"widget": 10})
    tag = server.request("GET", "/stock/shop/widget").headers["ETag"]
    calls = [
        lambda i=i: server.request(
            "PUT", "/stock/shop/widget", 100 + i, {"If-Match": tag}
        )
        for i in range(16)
    ]
    replies = run_concurrently(calls)
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [200] + [412] * 15
    winner = 100 + next(i for i, r in enumerate(replies) if r.status == 200)
    assert server.request("GET", "/stock/shop/widget").json() == winner


def test_retried_idempotent_posts_apply_once(server):
    server.request("POST", "/stock/shop", {"widget": 100})
    headers = {"Idempotency-Key": "order-42"}
    replies = run_concurrently(
        [
            lambda: server.request(
                "POST", "/stock/shop/widget/adjustments", {"delta": -7}, headers
            )
        ]
        * 12
    )
    assert {reply.status for reply in replies} == {200}
    assert {reply.body for reply in replies} == {b'{"quantity":93}\n'}
    assert server.request("GET", "/stock/shop/widget").json() == 93
    created = run_concurrently(
        [
            lambda: server.request(
                "POST", "/stock/new", {"a": 1}, {"Idempotency-Key": "create-1"}
            )
        ]
        * 12
    )
    assert {reply.status for reply in created} == {201}


def send_chunked(server, path, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    try:
        connection.request(
            "PUT",
            path,
            body=chunks,
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_oversized_chunked_body_is_refused(server):
    # Cut at 1 MiB this would still be valid JSON: the whole body must count.
    status, body = send_chunked(server, "/stock/fruit", b'{"apple": 1}' + b" " * 2**21)
    assert status == 413, body
    assert json.loads(body)["error"] == "Request entity too large"
    assert server.request("GET", "/stock").json() == {}


def test_chunked_body_within_the_limit_is_accepted(server):
    status, _ = send_chunked(server, "/stock/fruit", b'{"apple": 1}' + b" " * 2**19)
    assert status == 201
    assert server.request("GET", "/stock").json() == {"fruit": {"apple": 1}}
