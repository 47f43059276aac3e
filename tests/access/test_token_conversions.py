"""A token's stored state is converted once per process (identity.checked_token),
and a presented header digested once (identity.bearer_digest): any change to
the token or its user is another state, seen by the next request, whichever
path (the member read's shortcut or Flask) answers it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import bearer

from stockapp.access.identity import (
    HEADERS_KEPT_DIGESTED,
    TOKENS_KEPT_CONVERTED,
    TokenRow,
    bearer_digest,
    checked_token,
)
from stockapp.access.token_secrets import digest, new_secret

# A token's columns as the database hands them (TOKEN_BY_DIGEST), then the
# member's quantity and version the shortcut's statement adds.
STORED = (7, "write", None, None, None, "2026-12-01 10:00:00.000000", 3, "alice",
          "clerk", 0)  # fmt: skip
EXTRA = (30, 1)


def changed(column: str, value) -> tuple:
    values = list(STORED)
    values[TokenRow._fields.index(column)] = value
    return tuple(values)


def test_a_stored_state_is_converted_as_the_checks_need_it():
    token, identity = checked_token(STORED + EXTRA)
    assert token == TokenRow(
        7, "write", None, None, None, datetime(2026, 12, 1, 10, tzinfo=UTC), 3,
        "alice", "clerk", False,
    )  # fmt: skip
    assert (identity.user_id, identity.name, identity.role) == (3, "alice", "clerk")
    assert (identity.scope, identity.token_id, identity.collections) == (
        "write",
        7,
        None,
    )


@pytest.mark.parametrize(
    "stored",
    [
        "2026-12-01 10:00:00.000000",  # SQLite's text: naive UTC
        "2026-12-01 10:00:00+00",  # PostgreSQL's, in a UTC session
        "2026-12-01 15:30:00+05:30",  # PostgreSQL's, in a session at +05:30
        "2026-12-01 06:00:00-04",
    ],
)
def test_a_moment_comes_as_text_and_is_converted_to_utc(stored):
    token, identity = checked_token(changed("expires_at", stored) + EXTRA)
    expected = datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert token.expires_at == expected and token.expires_at.utcoffset().seconds == 0
    assert identity.expires_at == expected
    assert identity.expires_at.isoformat() == "2026-12-01T10:00:00+00:00"


def test_the_same_stored_state_is_converted_once():
    assert checked_token(STORED + EXTRA) is checked_token(STORED + (31, 2))


@pytest.mark.parametrize(
    ("column", "value", "seen"),
    [
        ("id", 8, lambda token, identity: identity.token_id == 8),
        ("scope", "read", lambda token, identity: identity.scope == "read"),
        (
            "collections",
            '["fruit"]',
            lambda token, identity: identity.collections == frozenset({"fruit"}),
        ),
        (
            "expires_at",
            "2026-12-02 00:00:00.000000",
            lambda token, identity: (
                identity.expires_at == datetime(2026, 12, 2, tzinfo=UTC)
            ),
        ),
        (
            "revoked_at",
            "2026-12-01 11:00:00.000000",
            lambda token, identity: token.revoked_at is not None,
        ),
        (
            "last_used_at",
            "2026-12-01 10:01:00.000000",
            lambda token, identity: token.last_used_at.minute == 1,
        ),
        ("user_id", 4, lambda token, identity: identity.user_id == 4),
        ("name", "bob", lambda token, identity: identity.name == "bob"),
        ("role", "viewer", lambda token, identity: identity.scope == "read"),
        ("disabled", 1, lambda token, identity: token.disabled is True),
    ],
)
def test_every_column_is_part_of_the_state(column, value, seen):
    before = checked_token(STORED + EXTRA)
    assert not seen(*before)
    assert seen(*checked_token(changed(column, value) + EXTRA))
    # The first state is still converted as it was.
    assert checked_token(STORED + EXTRA) == before


def test_the_states_kept_are_bounded():
    first = checked_token(changed("id", 1_000))
    for token_id in range(1, TOKENS_KEPT_CONVERTED + 1):
        checked_token(changed("id", 1_000 + token_id))
    # The least recently used went: converted afresh, an equal but new object.
    again = checked_token(changed("id", 1_000))
    assert again == first and again is not first


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_a_header_presenting_a_token_gives_its_digest(scheme):
    secret = new_secret()
    assert bearer_digest(f"{scheme} {secret}") == digest(secret)
    assert bearer_digest(f"{scheme}  {secret} ") == digest(secret)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic c3RrXzp4",
        "Token stk_" + "a" * 43,
        "Bearer stk_" + "a" * 42,
        "Bearer stk_" + "a" * 44,
        "Bearer stk_" + "a" * 42 + "é",
        "Bearer stk_" + "a" * 42 + "\ud800",
    ],
)
def test_a_header_presenting_no_token_gives_none(header):
    assert bearer_digest(header) is None
    assert bearer_digest(header) is None


def test_the_headers_kept_digested_are_bounded():
    header = f"Bearer {new_secret()}"
    first = bearer_digest(header)
    assert bearer_digest(header) is first
    for _ in range(HEADERS_KEPT_DIGESTED):
        bearer_digest(f"Bearer {new_secret()}")
    # The least recently used went: digested afresh, an equal but new string.
    again = bearer_digest(header)
    assert again == first and again is not first


# Through the app: a token used (its state converted), then changed ----------


@pytest.fixture
def used(client, make_user, make_token):
    """Alice's write token, already used for a member read and a write."""
    make_user("alice", "clerk")
    secret = make_token("alice", "write")
    headers = bearer(secret)
    response = client.post("/stock/fruit", json={"apple": 30}, headers=headers)
    assert response.status_code == 201
    response = client.get("/stock/fruit/apple", headers=headers)
    assert (response.status_code, response.get_json()) == (200, 30)
    return headers


def test_a_new_role_is_seen_by_the_next_request(client, runner, used, stored):
    assert runner.invoke(args=["users", "set-role", "alice", "viewer"]).exit_code == 0
    response = client.put("/stock/fruit/apple", json=31, headers=used)
    assert response.status_code == 403
    assert response.get_json()["error"] == "Forbidden"
    assert stored() == {"fruit": {"apple": 30}}
    response = client.get("/stock/fruit/apple", headers=used)
    assert (response.status_code, response.get_json()) == (200, 30)
    me = client.get("/me", headers=used).get_json()
    assert (me["role"], me["scope"]) == ("viewer", "read")


@pytest.mark.parametrize(
    "change", [["users", "disable", "alice"], ["tokens", "revoke", "1"]]
)
def test_a_stopped_token_is_refused_by_the_next_read(client, runner, used, change):
    assert runner.invoke(args=change).exit_code == 0
    response = client.get("/stock/fruit/apple", headers=used)
    assert response.status_code == 401
    assert response.get_json()["error"] == "Invalid token"
