"""GET /me and /tokens: who the caller is, and the tokens it may see and make."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import TIMESTAMP, bearer, invalid_detail, login, problem_body

from stockapp.access.token_secrets import digest

UNAUTHENTICATED = {
    "type": "about:blank",
    "title": "Unauthorized",
    "status": 401,
    "detail": "This needs credentials: send Authorization: Bearer <token>.",
    "error": "Authentication required",
}
INVALID_TOKEN = {
    "type": "about:blank",
    "title": "Unauthorized",
    "status": 401,
    "detail": "The bearer token is not valid (unknown, expired or revoked, or its"
    " user is disabled).",
    "error": "Invalid token",
}
STAMP = "<timestamp>"


def stamped(token: dict[str, Any]) -> dict[str, Any]:
    """``token`` with each well-formed timestamp replaced by STAMP."""
    return {
        key: STAMP
        if key.endswith("_at") and isinstance(value, str) and TIMESTAMP.fullmatch(value)
        else value
        for key, value in token.items()
    }


def forbidden(detail: str) -> dict[str, Any]:
    return problem_body(403, "Forbidden", detail)


def invalid_input(errors: dict[str, str]) -> dict[str, Any]:
    detail = invalid_detail(errors)
    return problem_body(400, "Invalid input", detail, errors=errors)


def token_rows(rows) -> list[dict[str, Any]]:
    return rows(
        "SELECT t.id, u.name AS user, t.label, t.scope,"
        " CAST(t.collections AS TEXT) AS collections,"
        " t.revoked_at IS NOT NULL AS revoked FROM api_tokens t"
        " JOIN users u ON u.id = t.user_id ORDER BY t.id"
    )


# --- GET /me -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "scope", "collections", "expected_collections"),
    [
        ("viewer", "read", None, None),
        ("clerk", "write", None, None),
        ("admin", "admin", None, None),
        ("admin", "read", None, None),
        ("clerk", "write", ["veg", "fruit"], ["fruit", "veg"]),
    ],
)
def test_me_describes_the_token_caller(
    client, make_user, make_token, role, scope, collections, expected_collections
):
    make_user("alice", role)
    secret = make_token("alice", scope, collections)
    response = client.get("/me", headers=bearer(secret))
    assert response.status_code == 200
    assert response.get_json() == {
        "user": "alice",
        "role": role,
        "scope": scope,
        "token": 1,
        "collections": expected_collections,
    }


@pytest.mark.parametrize("anonymous_access", ["none", "read", "write"])
def test_me_needs_a_user_whatever_anonymous_callers_may_do(make_app, anonymous_access):
    client = make_app(ANONYMOUS_ACCESS=anonymous_access).test_client()
    response = client.get("/me")
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.get_json() == UNAUTHENTICATED
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="stockapp"'


def test_me_ignores_a_browser_session(client, make_user):
    make_user("alice", "clerk")
    assert login(client, "alice").status_code == 303
    # The JSON API takes bearer tokens only: a cookie sent along by a browser
    # (a cross-site form, say) is no credential there.
    response = client.get("/me")
    assert response.status_code == 401
    assert response.get_json() == UNAUTHENTICATED


@pytest.mark.parametrize(
    "header",
    [
        "Bearer stk_" + "A" * 43,
        "Bearer not-a-token",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "Bearer",
        "",
    ],
)
def test_me_refuses_an_unknown_or_malformed_token(client, header):
    response = client.get("/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json() == INVALID_TOKEN
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="stockapp", error="invalid_token"'
    )


def test_bearer_scheme_is_case_insensitive(client, make_user, make_token):
    make_user("alice", "clerk")
    secret = make_token("alice", "read")
    response = client.get("/me", headers={"Authorization": f"bearer {secret}"})
    assert response.status_code == 200


# --- GET /tokens, GET /tokens/<id> ---------------------------------------------


def test_tokens_lists_only_the_callers_own_without_secrets(
    client, make_user, make_token
):
    make_user("alice", "clerk")
    make_user("bob", "clerk")
    mine = make_token("alice", "write", label="laptop")
    limited = make_token("alice", "read", ["fruit"], 30, label="phone")
    theirs = make_token("bob", "write")
    response = client.get("/tokens", headers=bearer(mine))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-cache"
    tokens = response.get_json()["tokens"]
    assert [stamped(token) for token in tokens] == [
        {
            "id": 1,
            "user": "alice",
            "label": "laptop",
            "scope": "write",
            "collections": None,
            "created_at": STAMP,
            "expires_at": None,
            # This very request used it.
            "last_used_at": STAMP,
            "revoked_at": None,
        },
        {
            "id": 2,
            "user": "alice",
            "label": "phone",
            "scope": "read",
            "collections": ["fruit"],
            "created_at": STAMP,
            "expires_at": STAMP,
            "last_used_at": None,
            "revoked_at": None,
        },
    ]
    body = response.get_data(as_text=True)
    for secret in (mine, limited, theirs):
        assert secret not in body
        assert digest(secret) not in body


def test_tokens_with_admin_scope_lists_everyones(client, make_user, make_token):
    make_user("root", "admin")
    make_user("alice", "viewer")
    admin = make_token("root", "admin")
    make_token("alice", "read", label="alice's")
    response = client.get("/tokens", headers=bearer(admin))
    assert response.status_code == 200
    tokens = response.get_json()["tokens"]
    assert [(token["id"], token["user"], token["label"]) for token in tokens] == [
        (1, "root", "test"),
        (2, "alice", "alice's"),
    ]
    response = client.get("/tokens/2", headers=bearer(admin))
    assert response.status_code == 200
    assert stamped(response.get_json()) == {
        "id": 2,
        "user": "alice",
        "label": "alice's",
        "scope": "read",
        "collections": None,
        "created_at": STAMP,
        "expires_at": None,
        "last_used_at": None,
        "revoked_at": None,
    }


def test_admin_with_a_narrower_token_sees_only_their_own(client, make_user, make_token):
    make_user("root", "admin")
    make_user("alice", "viewer")
    narrow = make_token("root", "write")
    make_token("alice", "read")
    response = client.get("/tokens", headers=bearer(narrow))
    assert [token["id"] for token in response.get_json()["tokens"]] == [1]
    assert client.get("/tokens/2", headers=bearer(narrow)).status_code == 404


def test_someone_elses_token_is_not_found(client, rows, make_user, make_token):
    make_user("alice", "clerk")
    make_user("bob", "clerk")
    mine = make_token("alice", "write")
    make_token("bob", "write")
    for method in ("GET", "DELETE"):
        response = client.open("/tokens/2", method=method, headers=bearer(mine))
        assert response.status_code == 404
    assert client.get("/tokens/2", headers=bearer(mine)).get_json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "There is no token 2.",
        "error": "Token not found",
    }
    # Bob's token is untouched.
    assert token_rows(rows)[1]["revoked"] == 0


def test_own_token_by_id(client, make_user, make_token):
    make_user("alice", "clerk")
    secret = make_token("alice", "write", ["veg"], label="mine")
    response = client.get("/tokens/1", headers=bearer(secret))
    assert response.status_code == 200
    assert stamped(response.get_json()) == {
        "id": 1,
        "user": "alice",
        "label": "mine",
        "scope": "write",
        "collections": ["veg"],
        "created_at": STAMP,
        "expires_at": None,
        "last_used_at": STAMP,
        "revoked_at": None,
    }


# --- POST /tokens ----------------------------------------------------------


def test_post_tokens_makes_a_token_shown_once(client, rows, make_user, make_token):
    make_user("alice", "clerk")
    caller = make_token("alice", "write")
    body = {"label": "ci", "scope": "read", "collections": ["fruit", "veg"]}
    response = client.post("/tokens", json=body, headers=bearer(caller))
    assert response.status_code == 201
    assert response.headers["Location"] == "/tokens/2"
    created = response.get_json()
    secret = created.pop("token")
    assert stamped(created) == {
        "id": 2,
        "user": "alice",
        "label": "ci",
        "scope": "read",
        "collections": ["fruit", "veg"],
        "created_at": STAMP,
        "expires_at": None,
        "last_used_at": None,
        "revoked_at": None,
    }
    assert token_rows(rows)[1] == {
        "id": 2,
        "user": "alice",
        "label": "ci",
        "scope": "read",
        "collections": '["fruit", "veg"]',
        "revoked": 0,
    }
    [stored] = rows("SELECT digest FROM api_tokens WHERE id = 2")
    assert stored["digest"] == digest(secret)
    # The new token works, and is what its Location describes.
    me = client.get("/me", headers=bearer(secret)).get_json()
    assert (me["token"], me["scope"], me["collections"]) == (
        2,
        "read",
        ["fruit", "veg"],
    )
    described = client.get("/tokens/2", headers=bearer(caller)).get_json()
    assert described == {**created, "last_used_at": described["last_used_at"]}
    assert secret not in json.dumps(described)


def test_post_tokens_with_expiry(client, rows, make_user, make_token):
    make_user("alice", "clerk")
    caller = make_token("alice", "write")
    response = client.post(
        "/tokens",
        json={"label": "week", "scope": "read", "expires_in_days": 7},
        headers=bearer(caller),
    )
    assert response.status_code == 201
    created = response.get_json()
    made_at = datetime.fromisoformat(created["created_at"])
    expires_at = datetime.fromisoformat(created["expires_at"])
    assert expires_at - made_at == timedelta(days=7)
    assert abs(made_at - datetime.now(UTC)) < timedelta(minutes=1)
    secret = created["token"]
    assert client.get("/me", headers=bearer(secret)).status_code == 200
    # A week passes.
    past = datetime.now(UTC) - timedelta(seconds=1)
    rows("UPDATE api_tokens SET expires_at = :past WHERE id = 2", past=past)
    response = client.get("/me", headers=bearer(secret))
    assert response.status_code == 401
    assert response.get_json() == INVALID_TOKEN
    assert client.get("/me", headers=bearer(caller)).status_code == 200


@pytest.mark.parametrize(
    ("role", "scope", "wanted"),
    [
        ("viewer", "read", "write"),
        ("clerk", "write", "admin"),
        ("admin", "read", "write"),
        ("admin", "write", "admin"),
        ("admin", "write", "metrics"),
        ("admin", "metrics", "read"),
    ],
)
def test_post_tokens_wider_than_the_caller_is_forbidden(
    client, rows, make_user, make_token, role, scope, wanted
):
    make_user("alice", role)
    caller = make_token("alice", scope)
    response = client.post(
        "/tokens", json={"label": "wide", "scope": wanted}, headers=bearer(caller)
    )
    assert response.status_code == 403
    assert response.get_json() == forbidden(
        f'This needs the "{wanted}" scope, which this caller does not have.'
    )
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="stockapp", error="insufficient_scope", scope="{wanted}"'
    )
    assert len(token_rows(rows)) == 1


def test_post_tokens_for_another_user_needs_admin(client, rows, make_user, make_token):
    make_user("alice", "clerk")
    make_user("bob", "clerk")
    caller = make_token("alice", "write")
    response = client.post(
        "/tokens",
        json={"label": "for bob", "scope": "read", "user": "bob"},
        headers=bearer(caller),
    )
    assert response.status_code == 403
    assert response.get_json() == forbidden(
        'This needs the "admin" scope, which this caller does not have.'
    )
    assert len(token_rows(rows)) == 1
    # Naming oneself is no more than leaving the user out.
    response = client.post(
        "/tokens",
        json={"label": "mine", "scope": "read", "user": "alice"},
        headers=bearer(caller),
    )
    assert response.status_code == 201
    assert response.get_json()["user"] == "alice"


def test_admin_makes_a_token_for_another_user(client, rows, make_user, make_token):
    make_user("root", "admin")
    make_user("alice", "clerk")
    admin = make_token("root", "admin")
    response = client.post(
        "/tokens",
        json={"label": "for alice", "scope": "write", "user": "alice"},
        headers=bearer(admin),
    )
    assert response.status_code == 201
    assert response.get_json()["user"] == "alice"
    assert token_rows(rows)[1] == {
        "id": 2,
        "user": "alice",
        "label": "for alice",
        "scope": "write",
        "collections": None,
        "revoked": 0,
    }
    me = client.get("/me", headers=bearer(response.get_json()["token"])).get_json()
    assert (me["user"], me["role"], me["scope"]) == ("alice", "clerk", "write")


@pytest.mark.parametrize(
    ("role", "scope", "held"),
    [
        ("viewer", "write", "read"),
        ("clerk", "admin", "read, write"),
        ("clerk", "metrics", "read, write"),
    ],
)
def test_admin_cannot_give_a_user_more_than_their_role(
    client, rows, make_user, make_token, role, scope, held
):
    make_user("root", "admin")
    make_user("alice", role)
    admin = make_token("root", "admin")
    response = client.post(
        "/tokens",
        json={"label": "too wide", "scope": scope, "user": "alice"},
        headers=bearer(admin),
    )
    assert response.status_code == 400
    assert response.get_json() == invalid_input(
        {"scope": f"must be one a {role} may hold: {held}"}
    )
    assert len(token_rows(rows)) == 1


def test_admin_makes_no_token_for_an_unknown_user(client, rows, make_user, make_token):
    make_user("root", "admin")
    admin = make_token("root", "admin")
    response = client.post(
        "/tokens",
        json={"label": "ghost", "scope": "read", "user": "nobody"},
        headers=bearer(admin),
    )
    assert response.status_code == 404
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": 'There is no user "nobody".',
        "error": "User not found",
    }
    assert len(token_rows(rows)) == 1


@pytest.mark.parametrize(
    ("collections", "status"),
    [
        (["fruit"], 201),
        (["fruit", "veg"], 201),
        (["veg", "fruit"], 201),
        (None, 403),
        (["fruit", "nuts"], 403),
        (["nuts"], 403),
    ],
)
def test_limited_token_makes_only_tokens_limited_to_a_subset(
    client, rows, make_user, make_token, collections, status
):
    make_user("alice", "clerk")
    caller = make_token("alice", "write", ["fruit", "veg"])
    body = {"label": "sub", "scope": "read", "collections": collections}
    response = client.post("/tokens", json=body, headers=bearer(caller))
    assert response.status_code == status
    if status == 403:
        assert response.get_json() == forbidden(
            "A token limited to some collections can only make tokens limited to"
            " some of the same."
        )
        assert len(token_rows(rows)) == 1
    else:
        assert token_rows(rows)[1]["collections"] == json.dumps(collections)


@pytest.mark.parametrize(
    ("expires_in_days", "status"), [(1, 201), (29, 201), (30, 403), (None, 403)]
)
def test_expiring_token_makes_only_tokens_that_expire_no_later(
    client, rows, make_user, make_token, expires_in_days, status
):
    make_user("alice", "clerk")
    # It expires in 30 days less the moment since it was made: 30 more is later.
    caller = make_token("alice", "write", expires_in_days=30)
    body = {"label": "sub", "scope": "read", "expires_in_days": expires_in_days}
    response = client.post("/tokens", json=body, headers=bearer(caller))
    assert response.status_code == status
    if status == 403:
        [caller_row] = token_rows(rows)
        expires_at = client.get("/tokens/1", headers=bearer(caller)).get_json()[
            "expires_at"
        ]
        assert response.get_json() == forbidden(
            "A token that expires can only make tokens that expire no later"
            f" (at {expires_at})."
        )
        assert caller_row["id"] == 1
    else:
        assert len(token_rows(rows)) == 2


_LABEL_RULE = "must be 1 to 100 characters, not only whitespace"
_COLLECTIONS_RULE = (
    "must be a list of 1 to 100 collection names, or null for every collection"
)
_EXPIRY_RULE = "must be a whole number of days from 1 to 3650, or null"
_FIELDS = "label, scope, expires_in_days, collections, user"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ("[]", {"body": "must be a JSON object with a label and scope"}),
        ('"read"', {"body": "must be a JSON object with a label and scope"}),
        ("null", {"body": "must be a JSON object with a label and scope"}),
        ("{}", {"label": "is required", "scope": "is required"}),
        ('{"label": "x"}', {"scope": "is required"}),
        ('{"label": 1, "scope": "read"}', {"label": "must be a string"}),
        ('{"label": null, "scope": "read"}', {"label": "must be a string"}),
        ('{"label": ["x"], "scope": "read"}', {"label": "must be a string"}),
        ('{"label": "", "scope": "read"}', {"label": _LABEL_RULE}),
        ('{"label": " \\t ", "scope": "read"}', {"label": _LABEL_RULE}),
        (
            json.dumps({"label": "x" * 101, "scope": "read"}),
            {"label": _LABEL_RULE},
        ),
        (
            json.dumps({"label": "x" * 100_000, "scope": "read"}),
            {"label": _LABEL_RULE},
        ),
        (
            '{"label": "a\\u0000b", "scope": "read"}',
            {"label": "must be valid Unicode without control characters"},
        ),
        (
            '{"label": "a\\nb", "scope": "read"}',
            {"label": "must be valid Unicode without control characters"},
        ),
        (
            '{"label": "\\ud800", "scope": "read"}',
            {"label": "must be valid Unicode without control characters"},
        ),
        (
            '{"label": "x", "scope": "READ"}',
            {"scope": "must be one of read, write, admin, metrics"},
        ),
        (
            '{"label": "x", "scope": ["read"]}',
            {"scope": "must be one of read, write, admin, metrics"},
        ),
        (
            '{"label": "x", "scope": "read", "admin": true}',
            {"admin": f"is not a field of a token ({_FIELDS})"},
        ),
        (
            '{"label": "x", "scope": "read", "token": "stk_mine"}',
            {"token": f"is not a field of a token ({_FIELDS})"},
        ),
        (
            '{"label": "x", "scope": "read", "scope": "admin"}',
            {"scope": "appears more than once in the body"},
        ),
        (
            '{"label": "x", "label": "y", "scope": "read"}',
            {"label": "appears more than once in the body"},
        ),
        ('{"label": "x", "scope": "read", "expires_in_days": 0}', {
            "expires_in_days": _EXPIRY_RULE
        }),
        ('{"label": "x", "scope": "read", "expires_in_days": 3651}', {
            "expires_in_days": _EXPIRY_RULE
        }),
        ('{"label": "x", "scope": "read", "expires_in_days": -1}', {
            "expires_in_days": _EXPIRY_RULE
        }),
        ('{"label": "x", "scope": "read", "expires_in_days": 1.5}', {
            "expires_in_days": _EXPIRY_RULE
        }),
        ('{"label": "x", "scope": "read", "expires_in_days": 7.0}', {
            "expires_in_days": _EXPIRY_RULE
        }),
        ('{"label": "x", "scope": "read", "expires_in_days": true}', {
            "expires_in_days": _EXPIRY_RULE
        }),
        ('{"label": "x", "scope": "read", "expires_in_days": "7"}', {
            "expires_in_days": _EXPIRY_RULE
        }),
        ('{"label": "x", "scope": "read", "expires_in_days": 1e400}', {
            "expires_in_days": _EXPIRY_RULE
        }),
        (
            '{"label": "x", "scope": "read", "expires_in_days": '
            + "9" * 5000
            + "}",
            {"expires_in_days": _EXPIRY_RULE},
        ),
        ('{"label": "x", "scope": "read", "collections": []}', {
            "collections": _COLLECTIONS_RULE
        }),
        ('{"label": "x", "scope": "read", "collections": "fruit"}', {
            "collections": _COLLECTIONS_RULE
        }),
        ('{"label": "x", "scope": "read", "collections": {"fruit": 1}}', {
            "collections": _COLLECTIONS_RULE
        }),
        (
            json.dumps(
                {
                    "label": "x",
                    "scope": "read",
                    "collections": [f"c{i}" for i in range(101)],
                }
            ),
            {"collections": _COLLECTIONS_RULE},
        ),
        ('{"label": "x", "scope": "read", "collections": [1]}', {
            "collections": "holds 1, which must be a string"
        }),
        ('{"label": "x", "scope": "read", "collections": [null]}', {
            "collections": "holds None, which must be a string"
        }),
        ('{"label": "x", "scope": "read", "collections": ["a/b"]}', {
            "collections": "holds 'a/b', which must not contain '/'"
        }),
        ('{"label": "x", "scope": "read", "collections": [""]}', {
            "collections": "holds '', which must be 1 to 100 characters long"
        }),
        ('{"label": "x", "scope": "read", "collections": [" "]}', {
            "collections": "holds ' ', which must not be only whitespace"
        }),
        ('{"label": "x", "scope": "read", "collections": ["a\\u0007"]}', {
            "collections": "holds 'a\\x07', which must not contain control characters"
        }),
        ('{"label": "x", "scope": "read", "collections": ["a", "a"]}', {
            "collections": "names a collection more than once"
        }),
        ('{"label": "x", "scope": "read", "user": 7}', {"user": "must be a string"}),
        ('{"label": "x", "scope": "read", "user": ""}', {
            "user": "must be 1 to 100 characters long"
        }),
        ('{"label": "x", "scope": "read", "user": "a/b"}', {
            "user": "must not contain '/'"
        }),
        (
            '{"label": 1, "scope": 2, "user": 3, "extra": 4}',
            {
                "extra": f"is not a field of a token ({_FIELDS})",
                "label": "must be a string",
                "scope": "must be one of read, write, admin, metrics",
                "user": "must be a string",
            },
        ),
        ('{"label": "x", "scope": "read"', {
            "body": "is not valid JSON: Expecting ',' delimiter: line 1 column 31"
            " (char 30)"
        }),
        ('{"label": "x", "scope": "read"} x', {
            "body": "is not valid JSON: Extra data: line 1 column 33 (char 32)"
        }),
        ("", {"body": "is not valid JSON: Expecting value: line 1 column 1 (char 0)"}),
        ('{"label": "x", "scope": "metrics", "collections": ["fruit"]}', {
            "collections": 'cannot limit a "metrics" token, which is about no'
            " collection"
        }),
        ('{"label": NaN, "scope": "read"}', {
            "body": "is not valid JSON: NaN is not a JSON number"
        }),
        (b'{"label": "\xff", "scope": "read"}', {
            "body": "is not valid UTF-8 (byte 11)"
        }),
    ],
)  # fmt: skip
def test_post_tokens_refuses_a_bad_body(
    client, rows, make_user, make_token, body, errors
):
    make_user("root", "admin")
    caller = make_token("root", "admin")
    response = client.post(
        "/tokens",
        data=body,
        headers={**bearer(caller), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.get_json() == invalid_input(errors)
    assert len(token_rows(rows)) == 1


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_post_tokens_needs_a_json_body(
    client, rows, make_user, make_token, content_type
):
    make_user("alice", "clerk")
    caller = make_token("alice", "write")
    headers = bearer(caller)
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = '{"label": "x", "scope": "read"}'
    response = client.post("/tokens", data=body, headers=headers)
    assert response.status_code == 415
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Unsupported Media Type",
        "status": 415,
        "detail": "The body must be JSON, sent with Content-Type: application/json.",
        "error": "Unsupported media type",
    }
    assert len(token_rows(rows)) == 1


def test_post_tokens_needs_a_user(client, rows):
    response = client.post("/tokens", json={"label": "x", "scope": "read"})
    assert response.status_code == 401
    assert response.get_json() == UNAUTHENTICATED
    assert token_rows(rows) == []


# --- DELETE /tokens/<id> -----------------------------------------------------


def test_delete_token_revokes_it(client, rows, make_user, make_token):
    make_user("alice", "clerk")
    caller = make_token("alice", "write")
    other = make_token("alice", "read")
    response = client.delete("/tokens/2", headers=bearer(caller))
    assert response.status_code == 204
    assert response.get_data() == b""
    assert [row["revoked"] for row in token_rows(rows)] == [0, 1]
    assert client.get("/me", headers=bearer(other)).status_code == 401
    described = client.get("/tokens/2", headers=bearer(caller)).get_json()
    assert TIMESTAMP.fullmatch(described["revoked_at"])
    # Twice is not found: there is no active token 2 any more.
    response = client.delete("/tokens/2", headers=bearer(caller))
    assert response.status_code == 404
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "There is no active token 2.",
        "error": "Token not found",
    }


def test_a_token_can_revoke_itself(client, rows, make_user, make_token):
    make_user("alice", "viewer")
    caller = make_token("alice", "read")
    assert client.delete("/tokens/1", headers=bearer(caller)).status_code == 204
    assert client.get("/me", headers=bearer(caller)).status_code == 401
    assert token_rows(rows)[0]["revoked"] == 1


def test_admin_revokes_anyones_token(client, rows, make_user, make_token):
    make_user("root", "admin")
    make_user("alice", "clerk")
    admin = make_token("root", "admin")
    alices = make_token("alice", "write")
    assert client.delete("/tokens/2", headers=bearer(admin)).status_code == 204
    assert [row["revoked"] for row in token_rows(rows)] == [0, 1]
    assert client.get("/me", headers=bearer(alices)).status_code == 401


# --- last_used_at ----------------------------------------------------------


def test_last_used_at_is_written_at_most_once_a_minute(
    client, rows, make_user, make_token
):
    make_user("alice", "viewer")
    secret = make_token("alice", "read")

    def last_used() -> Any:
        return rows("SELECT last_used_at FROM api_tokens")[0]["last_used_at"]

    assert last_used() is None
    assert client.get("/stock", headers=bearer(secret)).status_code == 200
    first = last_used()
    assert first is not None
    assert client.get("/stock", headers=bearer(secret)).status_code == 200
    assert last_used() == first
    # More than a minute later, the next use is written.
    earlier = datetime.now(UTC) - timedelta(minutes=1, seconds=5)
    rows("UPDATE api_tokens SET last_used_at = :at", at=earlier)
    moved = last_used()
    assert client.get("/stock", headers=bearer(secret)).status_code == 200
    latest = last_used()
    assert latest != moved
    written = datetime.fromisoformat(str(latest)).replace(tzinfo=UTC)
    assert abs(written - datetime.now(UTC)) < timedelta(seconds=30)


def test_a_refused_request_still_counts_as_a_use(client, rows, make_user, make_token):
    make_user("alice", "viewer")
    secret = make_token("alice", "read")
    response = client.post("/stock/fruit", json={}, headers=bearer(secret))
    assert response.status_code == 403
    assert rows("SELECT last_used_at FROM api_tokens")[0]["last_used_at"] is not None


# --- Who wrote: idempotency keys and movements -------------------------------


def test_idempotency_keys_are_per_user(client, make_user, make_token, seed, stored):
    seed(fruit={"apple": 30})
    make_user("alice", "clerk")
    make_user("bob", "clerk")
    alice = make_token("alice", "write")
    bob = make_token("bob", "write")
    url = "/stock/fruit/apple/adjustments"

    def adjust(token: str | None) -> Any:
        headers = {"Idempotency-Key": "same-key"}
        if token is not None:
            headers.update(bearer(token))
        return client.post(url, json={"delta": 1}, headers=headers)

    first = adjust(alice)
    assert (first.status_code, first.get_json()) == (200, {"quantity": 31})
    # Bob's key is his own: a second write.
    second = adjust(bob)
    assert (second.status_code, second.get_json()) == (200, {"quantity": 32})
    # Anonymous callers share one space of keys, apart from every user's.
    third = adjust(None)
    assert (third.status_code, third.get_json()) == (200, {"quantity": 33})
    # Alice again: her first answer, replayed, and nothing written.
    replay = adjust(alice)
    assert (replay.status_code, replay.get_json()) == (200, {"quantity": 31})
    assert stored() == {"fruit": {"apple": 33}}


def test_movements_record_who_made_them(client, make_user, make_token):
    make_user("alice", "clerk")
    alice = make_token("alice", "write")
    assert client.post("/stock/fruit", json={"apple": 1}).status_code == 201
    response = client.put("/stock/fruit/apple", json=5, headers=bearer(alice))
    assert response.status_code == 200
    response = client.post(
        "/stock/fruit/apple/adjustments", json={"delta": -2}, headers=bearer(alice)
    )
    assert response.status_code == 200
    movements = client.get("/stock/fruit/apple/history").get_json()["movements"]
    assert [(m["kind"], m["before"], m["after"], m["by"]) for m in movements] == [
        ("adjust", 5, 3, "alice"),
        ("replace", 1, 5, "alice"),
        ("create", None, 1, None),
    ]
