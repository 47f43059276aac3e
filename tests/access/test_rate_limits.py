"""Rate limits: failed log-ins, invalid tokens and (optionally) each token's use.

In process, with each app's own in-memory counters and small limits.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from helpers import PASSWORD, bearer, csrf_token_of, problem_page

from stockapp.access import passwords

LIMITS = {
    "ANONYMOUS_ACCESS": "none",
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_LOG_INS": "3 per minute",
    "RATELIMIT_BAD_TOKENS": "3 per minute",
}
BAD_TOKEN = "stk_" + "A" * 43
DETAIL = re.compile(
    r"Too many requests \(3 per 60 seconds\); try again in (\d+) seconds\."
)


@pytest.fixture
def limited_app(make_app):
    return make_app(**LIMITS)


def from_address(app, address: str):
    """A test client whose requests come from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def log_in(client, name: str, password: str = PASSWORD):
    token = csrf_token_of(client.get("/log-in").get_data(as_text=True))
    return client.post(
        "/log-in", data={"name": name, "password": password, "csrf_token": token}
    )


def check_too_many(response, *, page: bool = False) -> None:
    """The 429 answer, exactly: problem+json, or the error page for the log-in
    form (``page``), and when to try again."""
    assert response.status_code == 429
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
    detail = (
        f"Too many requests (3 per 60 seconds); try again in {retry_after} seconds."
    )
    if not page:
        assert response.get_json() == {
            "type": "about:blank",
            "title": "Too Many Requests",
            "status": 429,
            "detail": detail,
            "error": "Too many requests",
        }
    else:
        assert problem_page(response) == {
            "status": 429,
            "error": "Too many requests",
            "detail": detail,
        }
    assert DETAIL.fullmatch(detail)


def fail_log_ins(client, names: list[str]) -> None:
    for name in names:
        response = log_in(client, name, "not the password at all")
        assert response.status_code == 400


# --- Failed log-ins ---------------------------------------------------------


def test_failed_log_ins_are_limited_per_address(limited_app, make_user):
    make_user("alice", "clerk")
    make_user("bob", "clerk")
    attacker = from_address(limited_app, "203.0.113.7")
    # Three different names: the address is what is counted.
    fail_log_ins(attacker, ["carol", "dave", "erin"])
    check_too_many(log_in(attacker, "bob", "another wrong password"), page=True)
    # Even the right password is refused from there while it lasts.
    check_too_many(log_in(attacker, "alice"), page=True)
    assert attacker.get("/").status_code == 303
    # Another user, from another address, logs in.
    other = from_address(limited_app, "198.51.100.2")
    response = log_in(other, "bob")
    assert response.status_code == 303
    assert other.get("/").status_code == 200


def test_failed_log_ins_are_limited_per_name(limited_app, make_user):
    make_user("alice", "clerk")
    make_user("bob", "clerk")
    # A distributed guess at alice's password, one try per address.
    for number in range(3):
        fail_log_ins(from_address(limited_app, f"192.0.2.{number}"), ["alice"])
    alice = from_address(limited_app, "198.51.100.9")
    # The right password is refused while the name is locked.
    check_too_many(log_in(alice, "alice"), page=True)
    assert alice.get("/").status_code == 303
    # Another name from the same address is not locked.
    assert log_in(alice, "bob").status_code == 303


def test_successful_log_ins_are_not_counted(limited_app, make_user):
    make_user("alice", "clerk")
    client = from_address(limited_app, "192.0.2.1")
    for _ in range(5):
        assert log_in(client, "alice").status_code == 303
    fail_log_ins(client, ["alice", "alice"])
    assert log_in(client, "alice").status_code == 303


def test_long_names_are_counted_as_one(limited_app):
    # Names are at most 100 characters; longer ones are counted by their start,
    # so that a changing tail does not make a fresh key each time.
    prefix = "x" * 101
    for number in range(3):
        client = from_address(limited_app, f"192.0.2.{number}")
        fail_log_ins(client, [f"{prefix}{number}"])
    client = from_address(limited_app, "192.0.2.200")
    check_too_many(log_in(client, prefix + "tail"), page=True)


def test_forwarded_for_is_ignored_without_trusted_proxies(limited_app):
    client = from_address(limited_app, "203.0.113.7")
    for number in range(3):
        headers = {"X-Forwarded-For": f"192.0.2.{number}"}
        token = csrf_token_of(client.get("/log-in").get_data(as_text=True))
        form = {"name": f"n{number}", "password": "wrong password", "csrf_token": token}
        assert client.post("/log-in", data=form, headers=headers).status_code == 400
    response = client.post(
        "/log-in",
        data={"name": "n9", "password": "x" * 12, "csrf_token": token},
        headers={"X-Forwarded-For": "192.0.2.99"},
    )
    check_too_many(response, page=True)


def test_forwarded_for_is_counted_behind_a_trusted_proxy(make_app):
    app = make_app(**LIMITS, TRUSTED_PROXIES=1)
    proxy = from_address(app, "10.0.0.1")
    token = csrf_token_of(proxy.get("/log-in").get_data(as_text=True))

    def attempt(client_address: str, name: str) -> Any:
        form = {"name": name, "password": "wrong password", "csrf_token": token}
        headers = {"X-Forwarded-For": client_address}
        return proxy.post("/log-in", data=form, headers=headers)

    for name in ("a", "b", "c"):
        assert attempt("192.0.2.1", name).status_code == 400
    check_too_many(attempt("192.0.2.1", "d"), page=True)
    # Another client behind the same proxy is not blocked.
    assert attempt("192.0.2.2", "e").status_code == 400


class CountingHasher:
    """The real hasher, counting the verifications."""

    def __init__(self, hasher: Any) -> None:
        self.hasher = hasher
        self.verified = 0

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return self.hasher.verify(password_hash, password)


@pytest.fixture
def hasher(monkeypatch) -> CountingHasher:
    counting = CountingHasher(passwords.HASHER)
    monkeypatch.setattr(passwords, "HASHER", counting)
    return counting


@pytest.mark.parametrize(
    ("name", "password"),
    [
        ("alice", "not the password at all"),
        ("nobody", "not the password at all"),
        ("nobody", PASSWORD),
        ("vera", PASSWORD),
    ],
    ids=["wrong password", "unknown user", "unknown user, a real password", "disabled"],
)
def test_every_failed_log_in_verifies_one_password(
    limited_app, runner, make_user, hasher, name, password
):
    make_user("alice", "clerk")
    make_user("vera", "clerk")
    assert runner.invoke(args=["users", "disable", "vera"]).exit_code == 0
    client = from_address(limited_app, "192.0.2.1")
    hasher.verified = 0
    response = log_in(client, name, password)
    assert response.status_code == 400
    # The same work whether or not the name exists: timing tells nothing.
    assert hasher.verified == 1


def test_a_successful_log_in_verifies_one_password(limited_app, make_user, hasher):
    make_user("alice", "clerk")
    client = from_address(limited_app, "192.0.2.1")
    hasher.verified = 0
    assert log_in(client, "alice").status_code == 303
    assert hasher.verified == 1


def test_a_locked_out_log_in_verifies_nothing(limited_app, make_user, hasher):
    make_user("alice", "clerk")
    client = from_address(limited_app, "192.0.2.1")
    fail_log_ins(client, ["alice"] * 3)
    hasher.verified = 0
    check_too_many(log_in(client, "alice"), page=True)
    assert hasher.verified == 0


# --- Invalid tokens ---------------------------------------------------------


def test_invalid_tokens_are_limited_per_address(limited_app, make_user, make_token):
    make_user("alice", "clerk")
    good = make_token("alice", "read")
    attacker = from_address(limited_app, "203.0.113.7")
    for header in (BAD_TOKEN, "stk_guess", good + "x"):
        response = attacker.get("/stock", headers=bearer(header))
        assert response.status_code == 401
        assert response.get_json()["error"] == "Invalid token"
    check_too_many(attacker.get("/stock", headers=bearer(BAD_TOKEN)))
    check_too_many(attacker.get("/stock", headers=bearer("stk_guess")))
    # A valid token from the same address (behind one NAT) still works: only
    # the bad ones are refused.
    assert attacker.get("/stock", headers=bearer(good)).status_code == 200
    check_too_many(attacker.get("/stock", headers=bearer(BAD_TOKEN)))
    # Elsewhere, nothing is counted yet: a bad token is a plain 401.
    other = from_address(limited_app, "198.51.100.2")
    assert other.get("/stock", headers=bearer(good)).status_code == 200
    assert other.get("/stock", headers=bearer(BAD_TOKEN)).status_code == 401


def test_valid_tokens_are_not_counted(limited_app, make_user, make_token):
    make_user("alice", "clerk")
    good = make_token("alice", "read")
    client = from_address(limited_app, "192.0.2.1")
    for _ in range(5):
        assert client.get("/stock", headers=bearer(good)).status_code == 200
    for _ in range(2):
        assert client.get("/stock", headers=bearer(BAD_TOKEN)).status_code == 401
    assert client.get("/stock", headers=bearer(good)).status_code == 200


def test_requests_without_a_token_are_not_limited(limited_app):
    client = from_address(limited_app, "192.0.2.1")
    for _ in range(3):
        assert client.get("/stock", headers=bearer(BAD_TOKEN)).status_code == 401
    response = client.get("/stock")
    assert response.status_code == 401
    assert response.get_json()["error"] == "Authentication required"


# --- Per-token request limit -----------------------------------------------


def test_api_requests_are_limited_per_token_when_set(make_app, make_user, make_token):
    app = make_app(**LIMITS, RATELIMIT_API="3 per minute")
    make_user("alice", "clerk")
    first = make_token("alice", "read")
    second = make_token("alice", "read")
    client = from_address(app, "192.0.2.1")
    for _ in range(3):
        assert client.get("/stock", headers=bearer(first)).status_code == 200
    check_too_many(client.get("/stock", headers=bearer(first)))
    # Counted per token, not per user or address.
    assert client.get("/stock", headers=bearer(second)).status_code == 200


def test_api_requests_are_not_limited_by_default(make_app, make_user, make_token):
    app = make_app(**LIMITS)
    assert app.config["RATELIMIT_API"] == ""
    make_user("alice", "clerk")
    token = make_token("alice", "read")
    client = from_address(app, "192.0.2.1")
    for _ in range(20):
        assert client.get("/stock", headers=bearer(token)).status_code == 200
