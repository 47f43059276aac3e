"""Browser sessions: log-in and log-out, CSRF on every form, cookies, redirects."""

from __future__ import annotations

import html
import re

import pytest
from helpers import PASSWORD, csrf_token_of, login, problem_page

from stockapp.access.passwords import MAX_PASSWORD_LENGTH


@pytest.fixture
def closed_app(make_app):
    """An app where callers without credentials may do nothing."""
    return make_app(ANONYMOUS_ACCESS="none")


@pytest.fixture
def browser(closed_app):
    return closed_app.test_client()


def page_of(response) -> str:
    return response.get_data(as_text=True)


def sent_to_log_in(response, next_path: str = "/") -> bool:
    return response.status_code == 303 and response.headers["Location"] == (
        f"/log-in?next={next_path}"
    )


# Why Flask-WTF refuses each kind of bad CSRF token.
CSRF_DETAILS = {
    "missing": "The CSRF token is missing.",
    "wrong": "The CSRF token is invalid.",
    "other session": "The CSRF tokens do not match.",
    "tampered": "The CSRF token is invalid.",
}


def csrf_refused(detail: str) -> dict[str, object]:
    """The page a form without a valid CSRF token is answered with."""
    return {"status": 400, "error": "Bad request", "detail": detail}


# --- Logging in --------------------------------------------------------------


def test_log_in_page_is_a_form_with_a_csrf_token(browser):
    response = browser.get("/log-in")
    assert response.status_code == 200
    page = page_of(response)
    assert '<form method="post" action="/log-in">' in page
    assert 'name="name"' in page and 'type="password"' in page
    assert csrf_token_of(page)
    assert 'name="next"' not in page


def test_log_in_redirects_home_and_the_session_opens_pages(browser, make_user):
    make_user("alice", "clerk")
    assert sent_to_log_in(browser.get("/"))
    response = login(browser, "alice")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    response = browser.get("/")
    assert response.status_code == 200
    page = page_of(response)
    # Who is logged in, shown in the header, with a way out.
    assert '<div class="who">' in page
    assert "<span>alice (clerk)</span>" in page
    assert '<form method="post" action="/log-out">' in page
    assert 'href="/log-in"' not in page
    assert "Logged in as alice (clerk)." in page
    assert 'href="/add-collection"' in page
    assert browser.get("/add-collection").status_code == 200


def test_log_in_follows_a_same_site_next(browser, make_user):
    make_user("alice", "clerk")
    redirected = browser.get("/add-collection?x=1")
    assert redirected.status_code == 303
    target = "/add-collection?x=1"
    assert redirected.headers["Location"] == "/log-in?next=/add-collection?x%3D1"
    page = page_of(browser.get(redirected.headers["Location"]))
    # The form carries next on to the log-in.
    assert '<input type="hidden" name="next" value="/add-collection?x=1">' in page
    response = login(browser, "alice", next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == target


def normalised(page: str, name: str) -> str:
    """``page`` without what differs between two answers: CSRF token, name typed."""
    page = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token"', page)
    return page.replace(f'value="{name}"', 'value="NAME"')


def test_wrong_password_and_unknown_user_get_the_same_answer(browser, make_user):
    make_user("alice", "clerk")
    wrong = login(browser, "alice", "not the password at all")
    unknown = login(browser, "mallory", PASSWORD)
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.content_type == unknown.content_type == "text/html; charset=utf-8"
    assert 'role="alert">Invalid name or password.</p>' in page_of(wrong)
    assert normalised(page_of(wrong), "alice") == normalised(
        page_of(unknown), "mallory"
    )
    # The name typed is kept; the password never is.
    assert 'value="alice"' in page_of(wrong)
    assert "not the password" not in page_of(wrong)
    assert sent_to_log_in(browser.get("/"))


@pytest.mark.parametrize(
    ("form", "missing"),
    [
        ({"name": "alice"}, ["password"]),
        ({"password": PASSWORD}, ["name"]),
        ({}, ["name", "password"]),
        ({"name": "", "password": ""}, ["name", "password"]),
    ],
)
def test_log_in_needs_a_name_and_a_password(browser, make_user, form, missing):
    make_user("alice", "clerk")
    token = csrf_token_of(page_of(browser.get("/log-in")))
    response = browser.post("/log-in", data={**form, "csrf_token": token})
    assert response.status_code == 400
    page = page_of(response)
    for field, label in (("name", "Name"), ("password", "Password")):
        shown = f'<p class="error" id="{field}-error">{label} is required</p>' in page
        assert shown == (field in missing)
    assert sent_to_log_in(browser.get("/"))


def test_an_overlong_password_is_refused_like_a_wrong_one(browser, make_user):
    make_user("alice", "clerk")
    response = login(browser, "alice", PASSWORD + "x" * MAX_PASSWORD_LENGTH)
    assert response.status_code == 400
    assert "Invalid name or password." in page_of(response)


def test_disabled_user_cannot_log_in(browser, runner, make_user):
    make_user("alice", "clerk")
    assert runner.invoke(args=["users", "disable", "alice"]).exit_code == 0
    response = login(browser, "alice")
    assert response.status_code == 400
    assert "Invalid name or password." in page_of(response)
    assert sent_to_log_in(browser.get("/"))


def test_disabling_a_user_ends_their_session_at_once(browser, runner, make_user):
    make_user("alice", "clerk")
    assert login(browser, "alice").status_code == 303
    assert browser.get("/").status_code == 200
    assert runner.invoke(args=["users", "disable", "alice"]).exit_code == 0
    assert sent_to_log_in(browser.get("/"))
    assert sent_to_log_in(browser.get("/add-collection"), "/add-collection")


def test_enabling_a_user_again_does_not_revive_an_old_session(
    browser, runner, make_user
):
    make_user("alice", "clerk")
    assert login(browser, "alice").status_code == 303
    # A copy of the logged-in cookie, as a thief would keep it.
    stolen = browser.get_cookie("session").value
    assert runner.invoke(args=["users", "disable", "alice"]).exit_code == 0
    assert runner.invoke(args=["users", "enable", "alice"]).exit_code == 0
    browser.set_cookie("session", stolen)
    assert sent_to_log_in(browser.get("/"))
    # Logging in again works, in a new session.
    assert login(browser, "alice").status_code == 303
    assert browser.get("/").status_code == 200


def test_demoting_a_user_narrows_their_session_at_once(browser, runner, make_user):
    make_user("alice", "clerk")
    assert login(browser, "alice").status_code == 303
    assert browser.get("/add-collection").status_code == 200
    assert runner.invoke(args=["users", "set-role", "alice", "viewer"]).exit_code == 0
    assert browser.get("/add-collection").status_code == 403
    assert "<span>alice (viewer)</span>" in page_of(browser.get("/"))


# --- Viewers and anonymous callers -------------------------------------------


def test_viewer_sees_no_add_collection_link_and_is_forbidden_the_form(
    browser, make_user, stored
):
    make_user("vera", "viewer")
    assert login(browser, "vera").status_code == 303
    page = page_of(browser.get("/"))
    assert "<span>vera (viewer)</span>" in page
    assert "/add-collection" not in page
    response = browser.get("/add-collection")
    assert problem_page(response) == {
        "status": 403,
        "error": "Forbidden",
        "detail": "Only a clerk or an admin may do this; you are logged in as"
        " vera, a viewer.",
    }
    token = csrf_token_of(page)
    form = {"collection": "fruit", "member": "apple", "qty": "1", "csrf_token": token}
    assert browser.post("/add-collection", data=form).status_code == 403
    assert stored() == {}


@pytest.mark.parametrize(
    ("method", "path", "next_path"),
    [
        ("GET", "/", "/"),
        ("GET", "/add-collection", "/add-collection"),
        ("POST", "/add-collection", "/add-collection"),
        ("GET", "/?a=1&b=2", "/?a%3D1%26b%3D2"),
    ],
)
def test_pages_send_anonymous_callers_to_log_in(
    browser, stored, method, path, next_path
):
    response = browser.open(path, method=method, data={"collection": "x"})
    assert sent_to_log_in(response, next_path)
    assert stored() == {}


def test_pages_are_open_to_anonymous_callers_when_configured(make_app):
    client = make_app(ANONYMOUS_ACCESS="read").test_client()
    assert client.get("/").status_code == 200
    assert sent_to_log_in(client.get("/add-collection"), "/add-collection")
    page = page_of(client.get("/"))
    assert 'href="/log-in">Log in</a>' in page
    assert "/add-collection" not in page


# --- CSRF on every form ------------------------------------------------------


def logged_in_clerk(browser, make_user) -> str:
    """Log clerk ``alice`` in and return the CSRF token her pages carry."""
    make_user("alice", "clerk")
    assert login(browser, "alice").status_code == 303
    return csrf_token_of(page_of(browser.get("/")))


def another_sessions_token(closed_app) -> str:
    """A valid CSRF token, of another browser's session."""
    other = closed_app.test_client()
    return csrf_token_of(page_of(other.get("/log-in")))


@pytest.mark.parametrize("token", ["missing", "wrong", "other session", "tampered"])
def test_log_in_without_a_valid_csrf_token_is_refused(
    browser, closed_app, make_user, token
):
    make_user("alice", "clerk")
    own = csrf_token_of(page_of(browser.get("/log-in")))
    form = {"name": "alice", "password": PASSWORD}
    tokens = {
        "wrong": "not-a-token",
        "other session": another_sessions_token(closed_app),
        "tampered": own[:-2] + ("AA" if not own.endswith("AA") else "BB"),
    }
    if token != "missing":
        form["csrf_token"] = tokens[token]
    response = browser.post("/log-in", data=form)
    assert response.status_code == 400
    assert problem_page(response) == csrf_refused(CSRF_DETAILS[token])
    assert sent_to_log_in(browser.get("/"))


@pytest.mark.parametrize("token", ["missing", "wrong", "other session"])
def test_log_out_without_a_valid_csrf_token_is_refused(
    browser, closed_app, make_user, token
):
    logged_in_clerk(browser, make_user)
    form = {}
    if token == "wrong":
        form["csrf_token"] = "not-a-token"
    elif token == "other session":
        form["csrf_token"] = another_sessions_token(closed_app)
    response = browser.post("/log-out", data=form)
    assert problem_page(response)["error"] == "Bad request"
    # Still logged in.
    assert browser.get("/").status_code == 200


@pytest.mark.parametrize("token", ["missing", "wrong", "other session"])
def test_add_collection_without_a_valid_csrf_token_is_refused(
    browser, closed_app, make_user, stored, token
):
    logged_in_clerk(browser, make_user)
    form = {"collection": "fruit", "member": "apple", "qty": "3"}
    if token == "wrong":
        form["csrf_token"] = "not-a-token"
    elif token == "other session":
        form["csrf_token"] = another_sessions_token(closed_app)
    response = browser.post("/add-collection", data=form)
    assert problem_page(response) == csrf_refused(CSRF_DETAILS[token])
    assert stored() == {}


def test_add_collection_with_the_csrf_token_works(browser, make_user, stored, rows):
    token = logged_in_clerk(browser, make_user)
    form = {"collection": "fruit", "member": "apple", "qty": "3", "csrf_token": token}
    response = browser.post("/add-collection", data=form)
    assert response.status_code == 303
    assert stored() == {"fruit": {"apple": 3}}
    assert rows("SELECT by FROM movements") == [{"by": "alice"}]


def test_json_api_needs_no_csrf_token_and_takes_no_cookie(browser, make_user, stored):
    logged_in_clerk(browser, make_user)
    # A cross-site form could post this with the browser's cookie: refused,
    # because the API knows only bearer tokens.
    response = browser.post("/stock/fruit", json={"apple": 1})
    assert response.status_code == 401
    assert response.get_json()["error"] == "Authentication required"
    assert stored() == {}


# --- Session fixation ----------------------------------------------------------


def test_log_in_starts_a_new_session(browser, closed_app, make_user, stored):
    make_user("alice", "clerk")
    before_page = page_of(browser.get("/log-in"))
    before_token = csrf_token_of(before_page)
    planted = browser.get_cookie("session").value
    response = browser.post(
        "/log-in",
        data={"name": "alice", "password": PASSWORD, "csrf_token": before_token},
    )
    assert response.status_code == 303
    assert browser.get_cookie("session").value != planted
    # The CSRF token of before the log-in is not one of the new session.
    form = {"collection": "fruit", "member": "apple", "qty": "1"}
    response = browser.post(
        "/add-collection", data={**form, "csrf_token": before_token}
    )
    assert response.status_code == 400
    assert stored() == {}
    # The cookie of before the log-in (say, planted by an attacker) is still
    # a stranger's.
    attacker = closed_app.test_client()
    attacker.set_cookie("session", planted)
    assert sent_to_log_in(attacker.get("/"))
    response = attacker.post("/add-collection", data=form)
    assert sent_to_log_in(response, "/add-collection")
    assert stored() == {}


# --- Open redirects --------------------------------------------------------


@pytest.mark.parametrize(
    "next_target",
    [
        "//evil.example",
        "//evil.example/path",
        "https://evil.example",
        "http://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "http:/x",
        "https:evil.example",
        "evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\nLocation: https://evil.example",
        "\t//evil.example",
        " //evil.example",
        "/\x00/evil.example",
        "/\x1f/evil.example",
        "",
    ],
)
def test_log_in_never_redirects_off_site(browser, make_user, next_target):
    make_user("alice", "clerk")
    response = login(browser, "alice", next=next_target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    # Nor does the form carry it.
    browser.post(
        "/log-out", data={"csrf_token": csrf_token_of(page_of(browser.get("/")))}
    )
    page = page_of(browser.get("/log-in", query_string={"next": next_target}))
    assert 'name="next"' not in page


@pytest.mark.parametrize(
    "next_target", ["/", "/add-collection", "/add-collection?x=1#top", "/a//b"]
)
def test_log_in_follows_any_same_site_path(browser, make_user, next_target):
    make_user("alice", "clerk")
    response = login(browser, "alice", next=next_target)
    assert response.status_code == 303
    assert response.headers["Location"] == next_target


# --- Cookie flags and log-out ----------------------------------------------


def session_cookie_header(response) -> str:
    [cookie] = [
        value
        for value in response.headers.getlist("Set-Cookie")
        if value.startswith("session=")
    ]
    return cookie


def cookie_attributes(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def test_session_cookie_is_http_only_and_same_site_lax(browser, make_user):
    make_user("alice", "clerk")
    header = session_cookie_header(login(browser, "alice"))
    assert "; HttpOnly" in header
    assert "; SameSite=Lax" in header
    assert "; Path=/" in header
    # Plain http in the tests (SESSION_COOKIE_SECURE off).
    assert "secure" not in cookie_attributes(header)


def test_session_cookie_is_secure_when_configured(make_app, make_user):
    make_user("alice", "clerk")
    client = make_app(ANONYMOUS_ACCESS="none", SESSION_COOKIE_SECURE=True).test_client()
    header = session_cookie_header(client.get("/log-in"))
    assert "secure" in cookie_attributes(header)
    assert {"httponly", "samesite"} <= cookie_attributes(header)


def test_production_settings_make_the_session_cookie_secure(
    monkeypatch, make_app, make_user
):
    make_user("alice", "clerk")
    monkeypatch.setenv("STOCKAPP_CONFIG", "production")
    app = make_app(SECRET_KEY="a production secret for this test")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["ANONYMOUS_ACCESS"] == "none"
    client = app.test_client()
    header = session_cookie_header(client.get("/log-in"))
    assert {"secure", "httponly", "samesite"} <= cookie_attributes(header)
    assert "; SameSite=Lax" in header


def test_log_out_ends_the_session(browser, make_user):
    token = logged_in_clerk(browser, make_user)
    response = browser.post("/log-out", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/log-in"
    page = page_of(browser.get("/log-in"))
    assert "Logged out." in page
    assert "<span>alice" not in page
    assert sent_to_log_in(browser.get("/"))
    assert sent_to_log_in(browser.get("/add-collection"), "/add-collection")


NEEDS_HTTPS = (
    "Log-in needs HTTPS here: this server sends its session cookie over HTTPS"
    " only. Use an https:// address, or set SESSION_COOKIE_SECURE=0 on a trusted"
    " network."
)
_ALERT = re.compile(r'<p class="error" role="alert">(.*?)</p>', re.S)


def alert_of(response) -> str | None:
    found = _ALERT.search(page_of(response))
    return None if found is None else html.unescape(found.group(1))


def test_log_in_over_plain_http_with_a_secure_cookie_says_it_needs_https(
    make_app, make_user
):
    make_user("alice", "clerk")
    app = make_app(ANONYMOUS_ACCESS="none", SESSION_COOKIE_SECURE=True)
    plain = app.test_client()
    page = plain.get("/log-in")
    assert page.status_code == 200
    assert alert_of(page) == NEEDS_HTTPS
    # The browser keeps the Secure cookie from a plain-HTTP answer to itself, so
    # the form comes back without its session: the same words, not "CSRF".
    token = csrf_token_of(page_of(page))
    plain.delete_cookie("session")
    response = plain.post(
        "/log-in", data={"name": "alice", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 400
    assert alert_of(response) == NEEDS_HTTPS
    assert sent_to_log_in(plain.get("/"))


def test_log_in_over_https_with_a_secure_cookie_works(make_app, make_user):
    make_user("alice", "clerk")
    app = make_app(ANONYMOUS_ACCESS="none", SESSION_COOKIE_SECURE=True)
    secure = app.test_client()
    page = secure.get("/log-in", base_url="https://localhost")
    assert alert_of(page) is None
    response = secure.post(
        "/log-in",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/log-in"},
        data={
            "name": "alice",
            "password": PASSWORD,
            "csrf_token": csrf_token_of(page_of(page)),
        },
    )
    assert response.status_code == 303
    # A refused token over HTTPS is the usual CSRF refusal.
    refused = secure.post(
        "/log-in",
        base_url="https://localhost",
        headers={"Referer": "https://localhost/log-in"},
        data={"name": "alice", "password": PASSWORD},
    )
    assert problem_page(refused) == csrf_refused(CSRF_DETAILS["missing"])
