"""Rate limits held across real gunicorn workers through Redis, and not without it.

Each test starts its own redis-server and a 4-worker gunicorn on free loopback
ports. Left alone, gunicorn hands quick requests mostly to one worker, so here
each worker is replaced after two requests (--max-requests 2): the requests of
a test are served by many worker processes, four alive at any time, and
gunicorn's access log names the process (pid) that answered each one. Then
each storage shows what it does: with Redis one count for all processes, in
memory one per process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from gunicorn_server import REPOSITORY, Server
from redis_server import MISSING, RedisServer, redis_server_binary

pytestmark = pytest.mark.slow

LIMIT = 5
ATTEMPTS = 24
# How long the access log may lag behind the responses.
LOG_WAIT_SECONDS = 10
BAD_TOKEN = "stk_" + "A" * 43
PASSWORD = "shared limits password"
# One line per request: the worker's pid, the status and the path.
ACCESS_LOG_FORMAT = "access %(p)s %(s)s %(U)s"
_ACCESS_LINE = re.compile(r"^access <(\d+)> (\d{3}) (\S+)$", re.MULTILINE)


@pytest.fixture
def redis_url():
    if redis_server_binary() is None:
        pytest.skip(MISSING)
    server = RedisServer()
    server.start()
    yield server.url
    server.stop()


def flask(database_url: str, *args: str, stdin: str = "") -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_APP": "wsgi"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=REPOSITORY,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def serve(database_url, tmp_path):
    """Start gunicorn with 4 workers and the given rate-limit storage."""
    servers = []

    def start(storage: str) -> Server:
        server = Server(
            database_url,
            tmp_path / f"gunicorn-{len(servers)}.log",
            workers=4,
            env={
                "ANONYMOUS_ACCESS": "none",
                "RATELIMIT_STORAGE_URI": storage,
                "RATELIMIT_BAD_TOKENS": f"{LIMIT} per 10 minutes",
                "RATELIMIT_LOG_INS": f"{LIMIT} per 10 minutes",
                "GUNICORN_CMD_ARGS": "--max-requests 2 --max-requests-jitter 0"
                f" --access-logformat '{ACCESS_LOG_FORMAT}'",
            },
        )
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()
        assert "Traceback" not in server.log.read_text()


def at_once(calls) -> list:
    """Run the calls 4 at a time (counting is atomic: they may overlap)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda call: call(), calls))


def statuses_by_worker(
    server: Server, path: str, answered: int = 0
) -> dict[int, list[int]]:
    """The statuses each worker answered ``path`` with, in its own order, once
    the access log shows ``answered`` of them (a worker writes its line after
    the client already has the response)."""
    deadline = time.monotonic() + LOG_WAIT_SECONDS
    while True:
        by_worker: dict[int, list[int]] = {}
        for pid, status, logged_path in _ACCESS_LINE.findall(server.log.read_text()):
            if logged_path == path:
                by_worker.setdefault(int(pid), []).append(int(status))
        logged = sum(len(statuses) for statuses in by_worker.values())
        if logged >= answered or time.monotonic() > deadline:
            return by_worker
        time.sleep(0.05)


def bad_token(server: Server):
    return lambda: server.request(
        "GET", "/stock", headers={"Authorization": f"Bearer {BAD_TOKEN}"}
    )


def check_refusal(reply, *, page: bool = False) -> None:
    """The 429: problem+json, or (``page``) the log-in form's error page."""
    assert reply.status == 429
    assert 1 <= int(reply.headers["Retry-After"]) <= 600
    if page:
        assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
        assert b"<h1>Too many requests</h1>" in reply.body
    else:
        assert reply.headers["Content-Type"] == "application/problem+json"
        assert reply.json()["error"] == "Too many requests"


def test_invalid_tokens_share_one_limit_across_workers_through_redis(serve, redis_url):
    server = serve(redis_url)
    replies = at_once([bad_token(server)] * ATTEMPTS)
    assert sorted(reply.status for reply in replies) == (
        [401] * LIMIT + [429] * (ATTEMPTS - LIMIT)
    )
    for reply in replies:
        if reply.status == 429:
            check_refusal(reply)
    by_worker = statuses_by_worker(server, "/stock", ATTEMPTS)
    # Many worker processes served them, and still only LIMIT got through in
    # all: the count is one, in Redis.
    assert len(by_worker) >= ATTEMPTS // 2, by_worker
    assert sum(statuses.count(401) for statuses in by_worker.values()) == LIMIT
    # Once the limit is used up, every worker refuses.
    late = at_once([bad_token(server)] * 8)
    assert {reply.status for reply in late} == {429}


def test_in_memory_each_worker_counts_on_its_own(serve):
    server = serve("memory://")
    at_once([bad_token(server)] * ATTEMPTS)
    by_worker = statuses_by_worker(server, "/stock", ATTEMPTS)
    assert len(by_worker) >= ATTEMPTS // 2, by_worker
    # Each process counts only what it served itself (at most 2 here, under
    # the limit): none is refused, which is why several workers need Redis.
    assert all(statuses == [401] * len(statuses) for statuses in by_worker.values())
    assert sum(len(statuses) for statuses in by_worker.values()) == ATTEMPTS


def log_in(server: Server, name: str, password: str):
    """GET the form (a session cookie and its CSRF token), then POST it."""
    form = server.request("GET", "/log-in")
    cookie = form.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(rb'name="csrf_token" value="([^"]+)"', form.body).group(1)
    body = f"name={name}&password={password.replace(' ', '+')}&csrf_token="
    return server.request(
        "POST",
        "/log-in",
        body=body.encode() + token,
        headers={
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


def test_failed_log_ins_of_one_name_share_one_limit_through_redis(
    serve, redis_url, database_url
):
    flask(database_url, "users", "create", "alice", "--role", "clerk",
          "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    server = serve(redis_url)
    replies = at_once(
        [lambda: log_in(server, "alice", "wrong password!")] * (LIMIT + 3)
    )
    assert sorted(reply.status for reply in replies) == [400] * LIMIT + [429] * 3
    assert len(statuses_by_worker(server, "/log-in")) >= LIMIT
    # The right password too is refused while the name is locked...
    check_refusal(log_in(server, "alice", PASSWORD), page=True)
    # ...but that is the address's count as well; another name from the same
    # address is refused, showing the per-address limit is shared too.
    check_refusal(log_in(server, "bob", "any password at all"), page=True)
