"""Security headers on every kind of response: API, page, docs, static, errors."""

from __future__ import annotations

import pytest
from helpers import bearer, login

CSP = "default-src 'self'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
    " frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"

# (method, path, status): one of each kind of response.
RESPONSES = {
    "api": ("GET", "/stock", 200),
    "api write": ("POST", "/stock/fruit", 201),
    "text": ("GET", "/get-text", 200),
    "page": ("GET", "/", 200),
    "log-in page": ("GET", "/log-in", 200),
    "openapi": ("GET", "/openapi.json", 200),
    "static": ("GET", "/static/style.css", 200),
    "docs asset": ("GET", "/docs/assets/swagger-ui.css", 200),
    "not found": ("GET", "/no/such/route/here", 404),
    "method not allowed": ("DELETE", "/get-text", 405),
    "unauthenticated": ("GET", "/me", 401),
    "bad input": ("GET", "/stock/%20", 400),
}


def request(client, kind: str, **kwargs):
    method, path, status = RESPONSES[kind]
    if method == "POST":
        kwargs.setdefault("json", {})
    response = client.open(path, method=method, **kwargs)
    response.close()
    assert response.status_code == status, response.get_data(as_text=True)
    return response


def check_common_headers(response, policy: str = CSP) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Content-Security-Policy"] == policy
    vary = {part.strip() for part in response.headers["Vary"].split(",")}
    assert {"Authorization", "Cookie"} <= vary
    assert len(response.headers.getlist("Content-Security-Policy")) == 1
    assert len(response.headers.getlist("Vary")) == 1


@pytest.mark.parametrize("kind", RESPONSES)
def test_every_response_carries_the_security_headers(client, kind):
    response = request(client, kind)
    check_common_headers(response)
    assert "Strict-Transport-Security" not in response.headers
    # Nobody is logged in: nothing says private.
    assert "private" not in response.headers.get("Cache-Control", "")


def test_docs_page_has_the_looser_policy_swagger_needs(client):
    response = client.get("/docs")
    assert response.status_code == 200
    check_common_headers(response, DOCS_CSP)
    # Only the page itself: its assets keep the strict policy.
    assert request(client, "docs asset").headers["Content-Security-Policy"] == CSP


def test_errors_keep_their_own_headers_beside_ours(client):
    response = request(client, "method not allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {
        "GET",
        "HEAD",
        "OPTIONS",
    }
    response = request(client, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="stockapp"'


@pytest.mark.parametrize("kind", ["api", "api write", "text", "not found"])
def test_responses_to_a_token_are_private(client, make_user, make_token, kind):
    make_user("alice", "clerk")
    secret = make_token("alice", "write")
    response = request(client, kind, headers=bearer(secret))
    check_common_headers(response)
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_refusals_of_a_known_token_are_private(client, make_user, make_token):
    make_user("alice", "viewer")
    secret = make_token("alice", "read")
    response = client.post("/stock/fruit", json={}, headers=bearer(secret))
    assert response.status_code == 403
    check_common_headers(response)
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_an_invalid_token_gets_the_headers(client):
    response = client.get("/stock", headers=bearer("stk_" + "A" * 43))
    assert response.status_code == 401
    check_common_headers(response)
    assert "private" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("path", ["/", "/add-collection", "/log-in"])
def test_pages_for_a_logged_in_browser_are_private(client, make_user, path):
    make_user("alice", "clerk")
    assert login(client, "alice").status_code == 303
    response = client.get(path)
    assert response.status_code == 200
    check_common_headers(response)
    assert response.headers["Cache-Control"] == "private, no-cache"


def test_pages_for_an_anonymous_browser_are_not_private(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Cache-Control" not in response.headers


@pytest.mark.parametrize("kind", RESPONSES)
def test_hsts_is_sent_when_the_site_is_https(make_app, kind):
    client = make_app(PREFERRED_URL_SCHEME="https").test_client()
    response = request(client, kind)
    assert response.headers["Strict-Transport-Security"] == HSTS
    check_common_headers(response)


def test_hsts_is_sent_on_the_docs_and_on_refusals(make_app):
    client = make_app(PREFERRED_URL_SCHEME="https", ANONYMOUS_ACCESS="none")
    client = client.test_client()
    for path, status in (("/docs", 200), ("/stock", 401), ("/", 303)):
        response = client.get(path)
        assert response.status_code == status
        assert response.headers["Strict-Transport-Security"] == HSTS
