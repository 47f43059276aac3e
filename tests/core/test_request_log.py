"""Request ids, and one JSON log line per request (LOG_FORMAT=json)."""

from __future__ import annotations

import json
import re

import pytest
from gunicorn_server import Server
from helpers import PASSWORD, bearer, login

from stockapp import create_app

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def json_app(make_app):
    """An app logging JSON lines, closed to anonymous callers."""
    return make_app(LOG_FORMAT="json", ANONYMOUS_ACCESS="none")


def log_lines(text: str) -> list[dict]:
    """Every line written, each parsed as JSON (a line that is not fails)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_well_formed_client_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2:9"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.2:9"


@pytest.mark.parametrize("given", [None, "", "a b", "x" * 129, "é", "a;b", "<x>"])
def test_otherwise_an_id_is_made(client, given):
    headers = {} if given is None else {"X-Request-ID": given}
    response = client.get("/stock/nothing", headers=headers)
    assert response.status_code == 404
    assert GENERATED.fullmatch(response.headers["X-Request-ID"])


def test_each_request_gets_its_own_id(client):
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


def test_each_request_is_one_json_line(json_app, make_user, make_token, capsys):
    make_user("alice", "clerk")
    token = make_token("alice", "write")
    client = json_app.test_client()
    capsys.readouterr()
    created = client.put(
        "/stock/fruit",
        json={"apple": 3},
        headers={**bearer(token), "X-Request-ID": "abc-1"},
    )
    refused = client.get("/stock/fruit")
    lines = log_lines(capsys.readouterr().out)
    assert [line["logger"] for line in lines] == ["stockapp.requests"] * 2
    first, second = lines
    assert first.keys() == {
        "time",
        "level",
        "logger",
        "method",
        "route",
        "status",
        "duration_ms",
        "user",
        "request_id",
    }
    assert (first["method"], first["route"], first["status"]) == (
        "PUT",
        "/stock/<collection>",
        created.status_code,
    )
    assert (first["user"], first["request_id"], first["level"]) == (
        "alice",
        "abc-1",
        "info",
    )
    assert isinstance(first["duration_ms"], float) and first["duration_ms"] >= 0
    assert (second["status"], second["user"], second["route"]) == (
        401,
        None,
        "/stock/<collection>",
    )
    assert second["request_id"] == refused.headers["X-Request-ID"]


def test_a_url_that_routes_nowhere_is_logged_without_a_route(json_app, capsys):
    capsys.readouterr()
    json_app.test_client().get("/no/such/place")
    (line,) = log_lines(capsys.readouterr().out)
    assert (line["route"], line["status"]) == (None, 404)


def test_a_failure_is_logged_and_answered_with_the_requests_id(
    make_app, capsys, monkeypatch
):
    app = make_app(LOG_FORMAT="json")

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("stockapp.stock.units.apply_changes", explode)
    capsys.readouterr()
    response = app.test_client().post(
        "/stock/fruit", json={"apple": 1}, headers={"X-Request-ID": "trace-42"}
    )
    assert response.status_code == 500
    assert response.get_json()["request_id"] == "trace-42"
    failure, request = log_lines(capsys.readouterr().out)
    assert failure["message"] == "Unhandled exception"
    assert failure["level"] == "error"
    assert "RuntimeError: boom" in failure["exception"]
    assert failure["request_id"] == request["request_id"] == "trace-42"
    assert request["status"] == 500


def test_no_secret_or_body_reaches_the_log(json_app, make_user, make_token, capsys):
    make_user("alice", "clerk")
    token = make_token("alice", "write")
    browser = json_app.test_client()
    capsys.readouterr()
    assert login(browser, "alice").status_code == 303
    login(json_app.test_client(), "alice", "wrong " + PASSWORD)
    api = json_app.test_client()
    api.put("/stock/secret-shelf", json={"classified-item": 7}, headers=bearer(token))
    api.get("/stock?cursor=private-cursor", headers=bearer(token))
    api.get("/stock", headers=bearer("stk_" + "x" * 43))
    written = capsys.readouterr()
    text = written.out + written.err
    # One line per request, so the search below reads every line it should.
    assert [
        (line["method"], line["route"], line["status"])
        for line in log_lines(written.out)
    ] == [
        ("GET", "/log-in", 200),
        ("POST", "/log-in", 303),
        ("GET", "/log-in", 200),
        ("POST", "/log-in", 400),
        ("PUT", "/stock/<collection>", 201),
        ("GET", "/stock", 400),
        ("GET", "/stock", 401),
    ]
    for secret in (
        PASSWORD,
        token,
        "stk_" + "x" * 43,
        "classified-item",
        "secret-shelf",
        "private-cursor",
        "session",
    ):
        assert secret not in text


def test_text_format_writes_no_json_lines(make_app, capsys):
    app = make_app(LOG_FORMAT="text")
    capsys.readouterr()
    response = app.test_client().get("/healthz")
    assert response.headers["X-Request-ID"]
    assert capsys.readouterr().out == ""


def test_an_unknown_log_format_is_refused(database_url):
    with pytest.raises(RuntimeError, match="LOG_FORMAT must be one of text, json"):
        create_app({"SQLALCHEMY_DATABASE_URI": database_url, "LOG_FORMAT": "xml"})


@pytest.mark.slow
def test_gunicorn_writes_json_lines_instead_of_its_access_log(database_url, tmp_path):
    log = tmp_path / "gunicorn.log"
    server = Server(database_url, log, workers=2, env={"LOG_FORMAT": "json"})
    server.start()
    try:
        ids = [
            server.request(
                "GET", "/stock", headers={"X-Request-ID": f"probe-{number}"}
            ).headers["X-Request-ID"]
            for number in range(3)
        ]
    finally:
        server.stop()
    assert ids == ["probe-0", "probe-1", "probe-2"]
    # Every line the app writes is JSON (its start-up warning too).
    lines = [
        json.loads(line)
        for line in log.read_text().splitlines()
        if line.startswith("{")
    ]
    assert {line["logger"] for line in lines} == {"stockapp", "stockapp.requests"}
    logged = [
        line["request_id"]
        for line in lines
        if line["logger"] == "stockapp.requests" and line["route"] == "/stock"
    ]
    assert logged == ids
    # gunicorn's own access log ('"GET /stock HTTP/1.1" 200') is off.
    assert '"GET /stock HTTP/1.1"' not in log.read_text()
