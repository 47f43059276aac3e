"""GET /metrics: Prometheus's text format, who may read it, and exact counts
across a real 4-worker gunicorn (prometheus-client's multiprocess mode)."""

from __future__ import annotations

import re

import pytest
from gunicorn_server import Server
from helpers import bearer, problem_body

from stockapp import create_app

SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Each sample of a scrape: (name, labels) -> value."""
    found = {}
    for line in text.splitlines():
        if line.startswith("#") or not line:
            continue
        matched = SAMPLE.match(line)
        assert matched, line
        name, labels, value = matched.groups()
        pairs = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', labels or ""))
        found[(name, pairs)] = float(value)
    return found


def requests_counted(text: str, route: str, method: str, status: str) -> float:
    key = frozenset({("route", route), ("method", method), ("status", status)})
    return samples(text).get(("stockapp_requests_total", key), 0.0)


@pytest.fixture
def scrape(make_app, make_user, make_token):
    """Read /metrics with a scraper's metrics token from an app closed to
    anonymous callers; ``scrape.token`` is an admin's token for the rest."""
    make_user("ops", "admin")
    token = make_token("ops", "admin")
    scraper = make_token("ops", "metrics", label="prometheus")
    app = make_app(ANONYMOUS_ACCESS="none")
    client = app.test_client()

    def read() -> str:
        response = client.get("/metrics", headers=bearer(scraper))
        assert response.status_code == 200
        assert response.content_type == "text/plain; version=1.0.0; charset=utf-8"
        return response.get_data(as_text=True)

    read.client = client
    read.token = token
    return read


def test_requests_are_counted_by_route_method_and_status(scrape):
    client = scrape.client
    before = scrape()
    for _ in range(3):
        client.put("/stock/fruit", json={"apple": 1}, headers=bearer(scrape.token))
    client.get("/stock/nothing", headers=bearer(scrape.token))
    after = scrape()
    route = "/stock/<collection>"
    grew = {
        status: requests_counted(after, route, method, status)
        - requests_counted(before, route, method, status)
        for method, status in (("PUT", "201"), ("PUT", "200"), ("GET", "404"))
    }
    assert grew == {"201": 1, "200": 2, "404": 1}


def test_latency_is_a_histogram_by_route(scrape):
    observed = (
        "stockapp_request_duration_seconds_count",
        frozenset({("route", "/stock"), ("method", "GET")}),
    )
    before = samples(scrape()).get(observed, 0.0)
    scrape.client.get("/stock", headers=bearer(scrape.token))
    text = scrape()
    assert "# TYPE stockapp_request_duration_seconds histogram" in text
    assert samples(text)[observed] == before + 1
    buckets = [
        key
        for key in samples(text)
        if key[0] == "stockapp_request_duration_seconds_bucket"
        and ("route", "/stock") in key[1]
    ]
    assert {dict(labels)["le"] for _, labels in buckets} == {
        *("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25"),
        *("0.5", "1.0", "2.5", "10.0", "+Inf"),
    }


def test_no_label_ever_holds_a_name_of_the_stock(scrape):
    for number in range(20):
        scrape.client.put(
            f"/stock/classified{number}", json={"x": 1}, headers=bearer(scrape.token)
        )
    text = scrape()
    assert "classified" not in text
    # A URL that routes nowhere is counted under one label, not its path.
    unrouted = requests_counted(text, "(unrouted)", "GET", "404")
    scrape.client.get("/no/such/place/classified")
    text = scrape()
    assert "classified" not in text
    assert requests_counted(text, "(unrouted)", "GET", "404") == unrouted + 1


def test_the_stock_gauges_count_collections_and_members(scrape, seed):
    seed(fruit={"apple": 1, "pear": 2}, veg={"leek": 3}, empty={})
    found = samples(scrape())
    assert found[("stockapp_collections", frozenset())] == 3
    assert found[("stockapp_members", frozenset())] == 3
    # Seeding made 3 movements (one per member); no key was sent.
    assert found[("stockapp_movements", frozenset())] == 3
    assert found[("stockapp_idempotency_keys", frozenset())] == 0


def test_rate_limit_refusals_and_replays_are_counted(make_app, make_user, make_token):
    make_user("ops", "admin")
    token = make_token("ops", "admin")
    app = make_app(RATELIMIT_BAD_TOKENS="1 per minute")
    client = app.test_client()

    def value(name: str, labels: frozenset = frozenset()) -> float:
        # From another address than the bad tokens', which the limit shuts.
        scraper = {"REMOTE_ADDR": "198.51.100.9"}
        response = client.get("/metrics", headers=bearer(token), environ_base=scraper)
        text = response.get_data(as_text=True)
        return samples(text).get((name, labels), 0.0)

    refusals = frozenset({("limit", "bad_tokens")})
    before = value("stockapp_rate_limit_refusals_total", refusals)
    bad = {"Authorization": "Bearer stk_" + "x" * 43}
    assert client.get("/stock", headers=bad).status_code == 401
    assert client.get("/stock", headers=bad).status_code == 429
    assert value("stockapp_rate_limit_refusals_total", refusals) == before + 1

    replays = value("stockapp_idempotent_replays_total")
    key = {"Idempotency-Key": "once", **bearer(token)}
    elsewhere = {"REMOTE_ADDR": "203.0.113.5"}
    for _ in range(2):
        response = client.post(
            "/stock/fig", json={"a": 1}, headers=key, environ_base=elsewhere
        )
        assert response.status_code == 201
    assert value("stockapp_idempotent_replays_total") == replays + 1


NEEDS_METRICS = 'This needs the "metrics" scope, which this caller does not have.'


@pytest.mark.parametrize(
    ("role", "scope", "status"),
    [
        ("admin", "metrics", 200),
        ("admin", "admin", 200),
        ("admin", "write", 403),
        ("admin", "read", 403),
        ("clerk", "write", 403),
        ("viewer", "read", 403),
    ],
)
def test_metrics_need_the_metrics_or_the_admin_scope(
    make_app, make_user, make_token, role, scope, status
):
    make_user("someone", role)
    token = make_token("someone", scope)
    # Even where anonymous callers may write, /metrics needs a token.
    response = (
        make_app(ANONYMOUS_ACCESS="write")
        .test_client()
        .get("/metrics", headers=bearer(token))
    )
    assert response.status_code == status
    if status == 403:
        assert response.get_json() == problem_body(403, "Forbidden", NEEDS_METRICS)
        assert response.headers["WWW-Authenticate"] == (
            'Bearer realm="stockapp", error="insufficient_scope", scope="metrics"'
        )


def test_metrics_refuse_an_anonymous_caller(make_app):
    response = make_app(ANONYMOUS_ACCESS="write").test_client().get("/metrics")
    assert response.status_code == 401
    assert response.get_json() == problem_body(
        401,
        "Authentication required",
        "This needs credentials: send Authorization: Bearer <token>.",
    )


@pytest.mark.parametrize(
    ("method", "path", "needs"),
    [
        ("GET", "/stock", "read"),
        ("GET", "/me", "read"),
        ("GET", "/export.csv", "read"),
        ("PUT", "/stock/fruit", "write"),
        ("GET", "/tokens", "read"),
        ("POST", "/tokens", "read"),
    ],
)
def test_a_metrics_token_reads_nothing_else(
    make_app, make_user, make_token, rows, method, path, needs
):
    make_user("ops", "admin")
    token = make_token("ops", "metrics")
    client = make_app(ANONYMOUS_ACCESS="none").test_client()
    body = {"label": "wider", "scope": "read"} if path == "/tokens" else {"a": 1}
    response = client.open(path, method=method, json=body, headers=bearer(token))
    assert response.status_code == 403
    assert response.get_json() == problem_body(
        403,
        "Forbidden",
        f'This needs the "{needs}" scope, which this caller does not have.',
    )
    assert rows("SELECT name FROM collections") == []
    assert rows("SELECT scope FROM api_tokens") == [{"scope": "metrics"}]


def test_a_metrics_token_stops_working_when_its_user_is_no_admin(
    make_app, make_user, make_token
):
    make_user("ops", "admin")
    token = make_token("ops", "metrics")
    app = make_app(ANONYMOUS_ACCESS="none")
    assert app.test_client().get("/metrics", headers=bearer(token)).status_code == 200
    result = app.test_cli_runner().invoke(args=["users", "set-role", "ops", "clerk"])
    assert result.exit_code == 0, result.output
    response = app.test_client().get("/metrics", headers=bearer(token))
    assert response.status_code == 403
    assert response.get_json() == problem_body(403, "Forbidden", NEEDS_METRICS)


def test_metrics_can_be_opened_to_anyone_by_a_setting(make_app):
    response = make_app(METRICS_ACCESS="public").test_client().get("/metrics")
    assert response.status_code == 200
    assert "stockapp_requests_total" in response.get_data(as_text=True)


def test_an_unknown_metrics_access_is_refused(database_url):
    with pytest.raises(
        RuntimeError, match="METRICS_ACCESS must be one of token, public"
    ):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "METRICS_ACCESS": "all"})


@pytest.mark.slow
def test_four_workers_count_exactly_the_requests_made(database_url, tmp_path):
    requests = 57
    server = Server(
        database_url,
        tmp_path / "gunicorn.log",
        workers=4,
        env={"METRICS_ACCESS": "public"},
    )
    server.start()
    try:
        for number in range(requests):
            reply = server.request("PUT", f"/stock/c{number % 5}", {"m": number})
            # The first write to each of the five collections creates it.
            assert reply.status == (201 if number < 5 else 200)
        scraped = [server.request("GET", "/metrics") for _ in range(8)]
        pids = {
            line
            for line in (tmp_path / "gunicorn.log").read_text().splitlines()
            if "Booting worker" in line
        }
    finally:
        server.stop()
    assert len(pids) == 4
    route = "/stock/<collection>"
    for reply in scraped:
        text = reply.body.decode()
        # Whichever worker answers the scrape, it counts all four workers' work.
        counted = requests_counted(text, route, "PUT", "201") + requests_counted(
            text, route, "PUT", "200"
        )
        assert counted == requests
        assert requests_counted(text, route, "PUT", "201") == 5
        assert samples(text)[("stockapp_collections", frozenset())] == 5
