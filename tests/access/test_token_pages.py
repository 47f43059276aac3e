"""The tokens page (make, list, revoke) and the admins' users page."""

from __future__ import annotations

import html
import re

import pytest
from helpers import bearer, csrf_token_of, login, problem_page

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
_SECRET = re.compile(r'<textarea id="new-token"[^>]*>(stk_[^<]+)</textarea>')


@pytest.fixture
def closed(make_app, make_user):
    """Browsers on an app closed to anonymous callers: ``closed("alice")`` logs
    in a new one as alice (a clerk unless made otherwise first)."""
    app = make_app(ANONYMOUS_ACCESS="none")

    def log_in(name: str, role: str = "clerk"):
        make_user(name, role)
        browser = app.test_client()
        assert login(browser, name).status_code == 303
        return browser

    return log_in


def make(browser, **form: str):
    """Submit the make-a-token form; the response."""
    page = browser.get("/tokens", headers=HTML).get_data(as_text=True)
    return browser.post("/tokens/new", data={**form, "csrf_token": csrf_token_of(page)})


def labels_listed(page: str) -> list[str]:
    return [
        html.unescape(label) for label in re.findall(r"<strong>(.*?)</strong>", page)
    ]


def test_a_browser_gets_the_page_and_a_client_the_json(closed):
    alice = closed("alice")
    page = alice.get("/tokens", headers=HTML)
    assert page.status_code == 200
    assert page.content_type == "text/html; charset=utf-8"
    assert "<h1>API tokens</h1>" in page.get_data(as_text=True)
    assert "Accept" in page.headers["Vary"]
    # A session is no credential for the JSON API.
    assert alice.get("/tokens").status_code == 401


def test_without_a_session_the_page_sends_to_log_in(make_app):
    browser = make_app(ANONYMOUS_ACCESS="none").test_client()
    response = browser.get("/tokens", headers=HTML)
    assert response.status_code == 303
    assert response.headers["Location"] == "/log-in?next=/tokens"


def test_a_new_tokens_secret_is_shown_once_and_works(closed, client, rows):
    alice = closed("alice")
    response = make(alice, label="scanner", scope="write", expires_in_days="30")
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = _SECRET.search(page).group(1)
    assert "Token “scanner” created" in page
    assert 'data-copy="new-token"' in page
    # It works against the API, as alice, with the scope asked for.
    me = client.get("/me", headers=bearer(secret)).get_json()
    assert (me["user"], me["scope"], me["collections"]) == ("alice", "write", None)
    assert (
        client.put(
            "/stock/fruit", json={"apple": 1}, headers=bearer(secret)
        ).status_code
        == 201
    )
    # Never again: not on the page, not in the database.
    again = alice.get("/tokens", headers=HTML).get_data(as_text=True)
    assert secret not in again
    assert labels_listed(again) == ["scanner"]
    stored = rows("SELECT label, scope, expires_at FROM api_tokens")
    assert [(row["label"], row["scope"]) for row in stored] == [("scanner", "write")]
    assert stored[0]["expires_at"] is not None
    assert not [row for row in rows("SELECT * FROM api_tokens") if secret in str(row)]


def test_a_token_limited_to_collections_named_one_per_line(closed, client):
    alice = closed("alice")
    page = make(
        alice, label="shelf", scope="read", collections="fruit\r\n\r\n veg \n"
    ).get_data(as_text=True)
    secret = _SECRET.search(page).group(1)
    me = client.get("/me", headers=bearer(secret)).get_json()
    assert me["collections"] == ["fruit", "veg"]


@pytest.mark.parametrize(
    ("role", "offered", "hint"),
    [
        ("viewer", ["read"], "read: see the stock."),
        ("clerk", ["read", "write"], "read: see the stock; write: also change it."),
        (
            "admin",
            ["read", "write", "admin", "metrics"],
            "read: see the stock; write: also change it; admin: also everyone's"
            " tokens and the users; metrics: only /metrics, for a monitoring"
            " scraper.",
        ),
    ],
)
def test_each_role_is_offered_the_scopes_it_may_hold(closed, role, offered, hint):
    browser = closed("vera", role)
    page = browser.get("/tokens", headers=HTML).get_data(as_text=True)
    assert re.findall(r"<option[^>]*>(\w+)</option>", page) == offered
    shown = re.search(r'<p class="hint" id="scope-hint">(.*?)</p>', page).group(1)
    assert html.unescape(shown) == hint


def test_an_admin_makes_a_token_that_reads_only_the_metrics(closed, client, rows):
    ops = closed("ops", "admin")
    response = make(ops, label="prometheus", scope="metrics")
    assert response.status_code == 201
    secret = _SECRET.search(response.get_data(as_text=True)).group(1)
    assert client.get("/metrics", headers=bearer(secret)).status_code == 200
    assert client.get("/stock", headers=bearer(secret)).status_code == 403
    assert client.get("/tokens", headers=bearer(secret)).status_code == 403
    stored = rows("SELECT label, scope, collections FROM api_tokens")
    assert [tuple(row.values()) for row in stored] == [("prometheus", "metrics", None)]


def test_a_metrics_token_is_limited_to_no_collection(closed, rows):
    ops = closed("ops", "admin")
    response = make(ops, label="prometheus", scope="metrics", collections="fruit")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert (
        '<p class="error" id="collections-error">Only these collections cannot limit'
        " a &#34;metrics&#34; token, which is about no collection</p>"
    ) in page
    assert rows("SELECT label FROM api_tokens") == []


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"label": "  "}, "label", "Label must be 1 to 100 characters"),
        ({"label": "x" * 101}, "label", "Label must be 1 to 100 characters"),
        (
            {"scope": "root"},
            "scope",
            "Scope must be one of read, write, admin, metrics",
        ),
        ({"expires_in_days": "0"}, "expires_in_days", "Expires after (days) must be"),
        ({"expires_in_days": "soon"}, "expires_in_days", "Expires after (days) must"),
        ({"collections": "a/b"}, "collections", "Only these collections holds"),
        ({"collections": "a\na"}, "collections", "Only these collections names a"),
    ],
)
def test_a_bad_field_is_told_beside_it_and_nothing_is_made(
    closed, rows, form, field, message
):
    alice = closed("alice")
    response = make(alice, **{"label": "scanner", "scope": "read", **form})
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    assert error is not None and error.group(1).startswith(message), page
    assert "new-token" not in page
    assert rows("SELECT id FROM api_tokens") == []


def test_a_scope_wider_than_the_users_is_refused(closed, rows):
    # The page offers no such scope: only a forged form asks for it.
    response = make(closed("alice"), label="scanner", scope="admin")
    assert response.status_code == 403
    page = html.unescape(response.get_data(as_text=True))
    assert (
        '<p class="error" role="alert">Only an admin may do this; you are logged in'
        " as alice, a clerk.</p>" in page
    )
    assert rows("SELECT id FROM api_tokens") == []


def test_revoking_a_token_on_the_page_ends_it(closed, client, rows):
    alice = closed("alice")
    secret = _SECRET.search(
        make(alice, label="scanner", scope="read").get_data(as_text=True)
    ).group(1)
    token_id = rows("SELECT id FROM api_tokens")[0]["id"]
    page = alice.get("/tokens", headers=HTML).get_data(as_text=True)
    assert f'action="/tokens/{token_id}/revoke"' in page
    response = alice.post(
        f"/tokens/{token_id}/revoke", data={"csrf_token": csrf_token_of(page)}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/tokens"
    assert client.get("/me", headers=bearer(secret)).status_code == 401
    page = alice.get("/tokens", headers=HTML).get_data(as_text=True)
    assert f"Token {token_id} revoked: it no longer works." in page
    assert "scanner</strong> — read, revoked" in page
    assert "Revoke scanner" not in page


def test_a_clerk_can_neither_see_nor_revoke_anothers_token(closed, client):
    bob = closed("bob")
    bobs = _SECRET.search(
        make(bob, label="bob's", scope="read").get_data(as_text=True)
    ).group(1)
    alice = closed("alice")
    page = alice.get("/tokens", headers=HTML).get_data(as_text=True)
    assert labels_listed(page) == []
    response = alice.post("/tokens/1/revoke", data={"csrf_token": csrf_token_of(page)})
    assert problem_page(response) == {
        "status": 404,
        "error": "Token not found",
        "detail": "There is no active token 1.",
    }
    assert client.get("/me", headers=bearer(bobs)).status_code == 200


def test_an_admin_sees_and_revokes_everyones_tokens(closed, client):
    bob = closed("bob")
    bobs = _SECRET.search(
        make(bob, label="bob's", scope="read").get_data(as_text=True)
    ).group(1)
    ada = closed("ada", "admin")
    page = ada.get("/tokens", headers=HTML).get_data(as_text=True)
    assert "bob&#39;s</strong> — read, active, of bob" in page
    response = ada.post("/tokens/1/revoke", data={"csrf_token": csrf_token_of(page)})
    assert response.status_code == 303
    assert client.get("/me", headers=bearer(bobs)).status_code == 401


@pytest.mark.parametrize("path", ["/tokens/new", "/tokens/1/revoke"])
def test_the_token_forms_need_the_csrf_token(closed, rows, path):
    alice = closed("alice")
    make(alice, label="scanner", scope="read")
    response = alice.post(path, data={"label": "other", "scope": "read"})
    assert problem_page(response)["detail"] == "The CSRF token is missing."
    assert rows("SELECT label, revoked_at FROM api_tokens") == [
        {"label": "scanner", "revoked_at": None}
    ]


# --- Users -------------------------------------------------------------------------


def test_an_admin_sees_every_user_and_the_link_to_them(closed, make_user):
    ada = closed("ada", "admin")
    make_user("vera", "viewer")
    page = ada.get("/users").get_data(as_text=True)
    rows = re.findall(
        r'<th scope="row" class="name">(.*?)</th>\s*<td>(\w+)</td>\s*<td>(\w+)</td>',
        page,
    )
    assert rows == [("ada", "admin", "active"), ("vera", "viewer", "active")]
    assert '<a href="/users">Users</a>' in ada.get("/").get_data(as_text=True)


def test_a_clerk_sees_no_users_link_and_is_refused_the_page(closed):
    alice = closed("alice")
    assert '<a href="/users">' not in alice.get("/").get_data(as_text=True)
    assert '<a href="/tokens">Tokens</a>' in alice.get("/").get_data(as_text=True)
    assert problem_page(alice.get("/users")) == {
        "status": 403,
        "error": "Forbidden",
        "detail": "Only an admin may do this; you are logged in as alice, a clerk.",
    }
