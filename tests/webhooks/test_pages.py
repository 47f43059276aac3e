"""The admins' webhooks page: the list, the add form, a subscription's page and
each of its buttons, as a browser posts them (tests/webhooks/conftest.py)."""

from __future__ import annotations

import html
import re

import pytest
from helpers import bearer, csrf_token_of, login, problem_page

from stockapp.core.cursors import MAX_ID
from stockapp.webhooks.models import EVENT_TYPES

LIST = "/webhook-subscriptions"
_SECRET = re.compile(r'<textarea id="new-secret"[^>]*>(whsec_[^<]+)</textarea>')
_FLASH = re.compile(r'<p class="flash success" role="status">(.*?)</p>', re.S)
_ROW = re.compile(r'<tr class="(\w+)">(.*?)</tr>', re.S)
_CELL = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
_TAG = re.compile(r"<[^>]+>")
WEBHOOK_TABLES = (
    "webhook_subscriptions",
    "webhook_subscription_collections",
    "webhook_deliveries",
    "webhook_attempts",
)


@pytest.fixture
def browse(app, make_user):
    """A browser logged in as a new user: ``browse("ada")`` (an admin unless
    ``role`` says otherwise)."""

    def log_in(name: str, role: str = "admin"):
        make_user(name, role)
        browser = app.test_client()
        assert login(browser, name).status_code == 303
        return browser

    return log_in


@pytest.fixture
def ada(browse):
    """An admin's browser."""
    return browse("ada")


def text_of(fragment: str) -> str:
    """What a fragment of a page says, without its tags, spaces squeezed."""
    return " ".join(html.unescape(_TAG.sub("", fragment)).split())


def post(browser, path: str, data: dict | None = None, **kwargs):
    """Post a form with the CSRF token of the browser's session (the log-in
    page gives it to anyone)."""
    page = browser.get("/log-in").get_data(as_text=True)
    form = {**(data or {}), "csrf_token": csrf_token_of(page)}
    return browser.post(path, data=form, **kwargs)


def add(browser, **fields):
    """Submit the add form; the response."""
    return post(browser, LIST, fields)


def notice(browser, response) -> str:
    """Follow a form's 303 to its page; the notice it shows."""
    assert response.status_code == 303
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    found = _FLASH.search(page)
    assert found is not None, page
    return html.unescape(found.group(1))


def delivery_rows(page: str) -> list[tuple[str, ...]]:
    """The deliveries table: each row's state class, then its cells' text."""
    table = page.partition('<table class="deliveries"')[2].partition("</table>")[0]
    body = table.partition("<tbody>")[2]
    return [
        (state, *(text_of(cell) for cell in _CELL.findall(row)))
        for state, row in _ROW.findall(body)
    ]


def deliveries(client, admin, subscription_id: int = 1) -> list[dict]:
    response = client.get(f"/webhooks/{subscription_id}/deliveries", headers=admin)
    assert response.status_code == 200
    return response.get_json()["deliveries"]


def stored_text(rows) -> str:
    """Every value of every webhook table, as text."""
    return "\n".join(
        str(value)
        for table in WEBHOOK_TABLES
        for row in rows(f"SELECT * FROM {table}")
        for value in row.values()
    )


# --- The list and the add form ---------------------------------------------------


def test_an_admin_finds_the_page_in_the_nav_and_an_empty_list(ada):
    home = ada.get("/").get_data(as_text=True)
    assert '<a href="/users">Users</a>' in home
    assert '<a href="/webhook-subscriptions">Webhooks</a>' in home
    response = ada.get(LIST)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Webhooks</h1>" in page
    assert '<p class="empty">No subscriptions yet.</p>' in page
    # With nothing listed the form is open; every event has its checkbox,
    # none ticked, and "wait for earlier events" is ticked.
    assert '<details class="add-hook" open>' in page
    assert re.findall(r'name="events" value="([^"]+)"(?: checked)?', page) == list(
        EVENT_TYPES
    )
    assert 'name="events" value="movement.created" checked' not in page
    assert 'name="ordered" value="1" aria-describedby="ordered-hint" checked' in page


def test_a_new_subscription_shows_its_secret_once(ada, client, admin, rows):
    response = add(
        ada,
        url="https://hooks.example/stock",
        events=["member.low", "movement.created"],
        collections="fruit\r\n\r\n veg \n",
        description="  the shop's robot ",
        ordered="1",
    )
    assert response.status_code == 201
    assert response.headers["Location"] == "/webhook-subscriptions/1"
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = _SECRET.search(page).group(1)
    assert '<h2 id="secret-heading">Subscription 1 created</h2>' in page
    assert "Copy its signing secret now: it is not shown again." in page
    assert 'data-copy="new-secret"' in page
    assert "copy.js" in page
    # Stored as the form said, read back through the API.
    made = client.get("/webhooks/1", headers=admin).get_json()
    del made["created_at"]
    assert made == {
        "id": 1,
        "url": "https://hooks.example/stock",
        "description": "the shop's robot",
        # In the order of EVENT_TYPES, whatever order the form gave.
        "events": ["movement.created", "member.low"],
        "collections": ["fruit", "veg"],
        "ordered": True,
        "enabled": True,
        "disabled_reason": None,
        "failing_since": None,
        "previous_secret_until": None,
    }
    # Never again: not on its page, not in the database.
    again = ada.get("/webhook-subscriptions/1")
    assert again.status_code == 200
    assert again.headers["Cache-Control"] == "private, no-cache"
    assert "new-secret" not in again.get_data(as_text=True)
    stored = stored_text(rows)
    assert secret not in stored
    assert secret.removeprefix("whsec_") not in stored


def test_the_secret_shown_is_the_one_that_signs(ada, admin, client, receiver, deliver):
    page = add(ada, url=receiver.url, events="movement.created", ordered="1")
    receiver.secrets.append(_SECRET.search(page.get_data(as_text=True)).group(1))
    assert notice(ada, post(ada, "/webhook-subscriptions/1/ping")) == (
        "Ping queued as delivery 1: the worker sends it shortly."
    )
    assert deliver() == 1
    assert [received.verified for received in receiver.received] == [True]
    assert receiver.events()[0]["type"] == "ping"
    assert receiver.events()[0]["by"] == "ada"


@pytest.mark.parametrize(("ticked", "ordered"), [({"ordered": "1"}, True), ({}, False)])
def test_the_wait_box_makes_an_ordered_subscription(
    ada, client, admin, ticked, ordered
):
    response = add(ada, url="https://hooks.example/a", events="member.low", **ticked)
    assert response.status_code == 201
    made = client.get("/webhooks/1", headers=admin).get_json()
    assert (made["ordered"], made["collections"], made["description"]) == (
        ordered,
        None,
        None,
    )


GOOD = {"url": "https://hooks.example/stock", "events": "member.low"}


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"url": ""}, "url", "URL must be 1 to 2048 characters"),
        (
            {"url": "ftp://hooks.example/"},
            "url",
            "URL must be an absolute https or http URL with a host name",
        ),
        (
            {"url": "https://user:pw@hooks.example/"},
            "url",
            "URL must not carry a user name or password",
        ),
        ({"events": []}, "events", "Events must have at least one ticked"),
        (
            {"events": "member.gone"},
            "events",
            "Events must be a list of one or more of movement.created, member.low,"
            " member.restocked, collection.deleted",
        ),
        (
            {"events": ["member.low", "member.low"]},
            "events",
            "Events names an event more than once",
        ),
        (
            {"collections": "a/b"},
            "collections",
            "Only these collections holds 'a/b', which",
        ),
        (
            {"collections": "fruit\nfruit"},
            "collections",
            "Only these collections names a collection more than once",
        ),
        (
            {"description": "x" * 201},
            "description",
            "Description must be a string of at most 200 characters",
        ),
    ],
)
def test_a_bad_field_is_told_beside_it_and_nothing_is_made(
    ada, rows, form, field, message
):
    response = add(ada, **{**GOOD, **form})
    assert response.status_code == 400
    page = html.unescape(response.get_data(as_text=True))
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, re.S)
    assert error is not None and error.group(1).startswith(message), page
    assert "new-secret" not in page
    assert '<details class="add-hook" open>' in page
    assert rows("SELECT id FROM webhook_subscriptions") == []


def test_a_refused_form_comes_back_as_it_was_typed(ada):
    response = add(
        ada,
        url="ftp://hooks.example/",
        events=["member.low", "collection.deleted"],
        collections="fruit\r\nveg",
        description="the <robot>",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'id="url" name="url" type="url" value="ftp://hooks.example/"' in page
    assert 'aria-invalid="true" aria-describedby="url-error"' in page
    assert re.findall(r'name="events" value="([^"]+)" checked', page) == [
        "member.low",
        "collection.deleted",
    ]
    assert ">fruit\r\nveg</textarea>" in page
    assert 'value="the &lt;robot&gt;"' in page
    # Unticked, it stays unticked.
    assert 'aria-describedby="ordered-hint">' in page


def test_a_field_that_is_fine_is_not_marked(ada):
    page = add(ada, url="https://hooks.example/", events=[]).get_data(as_text=True)
    assert 'id="events-error"' in page
    assert 'id="url-error"' not in page
    assert '<fieldset class="events invalid" aria-describedby="events-error">' in page


def test_without_private_targets_the_page_refuses_a_loopback_url(make_app, make_user):
    app = make_app()
    make_user("ada", "admin")
    browser = app.test_client()
    login(browser, "ada")
    page = browser.get(LIST).get_data(as_text=True)
    assert "Where the events are sent: an https URL on a public address." in page
    response = browser.post(
        LIST,
        data={
            "url": "https://127.0.0.1/hook",
            "events": "member.low",
            "csrf_token": csrf_token_of(page),
        },
    )
    assert response.status_code == 400
    assert (
        '<p class="error" id="url-error">URL names a loopback address (127.0.0.1)</p>'
        in response.get_data(as_text=True)
    )


def test_the_list_shows_each_subscription_and_its_state(ada, client, admin, rows):
    for body in (
        {"url": "https://a.example/hook", "events": ["member.low"]},
        {
            "url": "https://b.example/hook",
            "events": ["movement.created", "collection.deleted"],
            "collections": ["fruit", "veg"],
            "description": "the shop",
        },
    ):
        assert client.post("/webhooks", json=body, headers=admin).status_code == 201
    client.patch("/webhooks/2", json={"enabled": False}, headers=admin)
    rows(
        "UPDATE webhook_subscriptions SET failing_since = '2030-01-02 03:04:05.000000'"
        " WHERE id = 2"
    )
    page = ada.get(LIST).get_data(as_text=True)
    # Something listed: the form is folded away.
    assert '<details class="add-hook">' in page
    items = re.findall(r"<li class=\"(\w+)\">(.*?)</li>", page, re.S)
    assert [(state, text_of(item)) for state, item in items] == [
        (
            "enabled",
            "https://a.example/hook (subscription 1) member.low; every collection."
            " Enabled.",
        ),
        (
            "disabled",
            "https://b.example/hook (subscription 2) the shop"
            " movement.created, collection.deleted; only fruit, veg."
            " Disabled: Disabled by an admin. Failing since 2030-01-02 03:04:05 UTC.",
        ),
    ]
    assert 'href="/webhook-subscriptions/1"' in page
    assert 'href="/webhook-subscriptions/2"' in page


# --- A subscription's page and its buttons ---------------------------------------


def test_the_page_shows_the_subscription_and_its_deliveries(
    ada, client, admin, subscribe, receiver, deliver
):
    subscribe(events=["member.low"], collections=["fruit"], description="robot")
    answers = iter([200, 503])
    receiver.answer = lambda _received: next(answers)
    for _ in range(2):
        client.post("/webhooks/1/ping", headers=admin)
        deliver()
    # A third waits behind the one being retried (the subscription is ordered).
    client.post("/webhooks/1/ping", headers=admin)
    page = ada.get("/webhook-subscriptions/1").get_data(as_text=True)
    assert "<h1>Webhook subscription 1</h1>" in page
    settings = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page, re.S)
    shown = {name: text_of(value) for name, value in settings}
    assert shown.pop("Made").endswith(" UTC")
    assert shown.pop("Failing since").endswith(" UTC")
    assert shown == {
        "URL": receiver.url,
        "Description": "robot",
        "Events": "member.low",
        "Collections": "fruit",
        "Order": "A later event waits for earlier ones",
        "State": "Enabled.",
    }
    known = deliveries(client, admin)
    shown = delivery_rows(page)
    # Each row without its latency (the 8th cell), then the latencies.
    assert [row[:7] + row[8:] for row in shown] == [
        ("pending", "3: ping", "pending", "0", _when(known[0]), "—", "—", ""),
        (
            "pending",
            "2: ping",
            "pending",
            "1",
            _when(known[1]),
            "retrying",
            "HTTP 503",
            "",
        ),
        (
            "delivered",
            "1: ping",
            "delivered",
            "1",
            _when(known[2]),
            "delivered",
            "HTTP 200",
            "Redeliver delivery 1",
        ),
    ]
    latencies = [row[7] for row in shown]
    assert latencies[0] == "—"
    assert [latency.endswith(" ms") for latency in latencies[1:]] == [True, True]
    assert latencies[2] == f"{known[2]['last_attempt']['latency_ms']} ms"
    # Only a finished delivery can be sent again.
    assert page.count("/redeliver") == 1


def _when(delivery: dict) -> str:
    return delivery["created_at"][:19].replace("T", " ") + " UTC"


def test_an_attempt_without_an_answer_shows_its_error(ada, client, admin, deliver):
    # Nothing listens on port 9 (discard) of loopback.
    body = {"url": "http://127.0.0.1:9/hook", "events": ["member.low"]}
    assert client.post("/webhooks", json=body, headers=admin).status_code == 201
    client.post("/webhooks/1/ping", headers=admin)
    deliver()
    error = deliveries(client, admin)[0]["last_attempt"]["error"]
    assert error
    rows = delivery_rows(ada.get("/webhook-subscriptions/1").get_data(as_text=True))
    assert rows[0][5:7] == ("retrying", error)


def test_no_deliveries_yet_says_so(ada, subscribe):
    subscribe()
    page = ada.get("/webhook-subscriptions/1").get_data(as_text=True)
    assert '<p class="empty">No deliveries yet. Ping sends one.</p>' in page
    assert "<table" not in page


def test_ping_queues_a_ping_the_receiver_gets(ada, client, admin, subscribe, deliver):
    subscribe()
    response = post(ada, "/webhook-subscriptions/1/ping")
    assert response.headers["Location"] == "/webhook-subscriptions/1"
    assert notice(ada, response) == (
        "Ping queued as delivery 1: the worker sends it shortly."
    )
    assert [(d["type"], d["state"]) for d in deliveries(client, admin)] == [
        ("ping", "pending")
    ]


def test_a_ping_to_a_disabled_subscription_says_it_waits(
    ada, client, admin, subscribe, deliver
):
    subscribe()
    client.patch("/webhooks/1", json={"enabled": False}, headers=admin)
    response = post(ada, "/webhook-subscriptions/1/ping")
    assert notice(ada, response) == (
        "Ping queued as delivery 1: it waits until the subscription is enabled again."
    )
    assert deliver() == 0


def test_disable_and_enable_again(ada, client, admin, subscribe):
    subscribe()
    response = post(ada, "/webhook-subscriptions/1/enabled", {"enabled": "0"})
    assert response.headers["Location"] == "/webhook-subscriptions/1"
    assert notice(ada, response) == (
        "Subscription 1 disabled: nothing is sent to it until it is enabled again."
    )
    made = client.get("/webhooks/1", headers=admin).get_json()
    assert (made["enabled"], made["disabled_reason"]) == (
        False,
        "Disabled by an admin.",
    )
    page = ada.get("/webhook-subscriptions/1").get_data(as_text=True)
    assert '<input type="hidden" name="enabled" value="1">' in page
    assert '<button type="submit">Enable</button>' in page
    assert "Disabled</span>: Disabled by an admin." in page

    response = post(ada, "/webhook-subscriptions/1/enabled", {"enabled": "1"})
    assert notice(ada, response) == (
        "Subscription 1 enabled: its waiting events go out again."
    )
    made = client.get("/webhooks/1", headers=admin).get_json()
    assert (made["enabled"], made["disabled_reason"]) == (True, None)
    page = ada.get("/webhook-subscriptions/1").get_data(as_text=True)
    assert '<button type="submit">Disable</button>' in page


@pytest.mark.parametrize("value", ["", "2", "true"])
def test_enabled_must_be_one_or_zero(ada, client, admin, subscribe, value):
    subscribe()
    response = post(ada, "/webhook-subscriptions/1/enabled", {"enabled": value})
    assert problem_page(response) == {
        "status": 400,
        "error": "Invalid input",
        "detail": "enabled: must be 1 (enable) or 0 (disable)",
    }
    assert client.get("/webhooks/1", headers=admin).get_json()["enabled"] is True


def test_rotating_shows_the_new_secret_once_and_both_sign(
    ada, client, admin, subscribe, receiver, deliver, rows
):
    old = subscribe()["secret"]
    response = post(ada, "/webhook-subscriptions/1/rotate-secret")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    new = _SECRET.search(page).group(1)
    assert new != old
    until = client.get("/webhooks/1", headers=admin).get_json()["previous_secret_until"]
    shown_until = until[:19].replace("T", " ")
    assert (
        "Copy it now: it is not shown again. The old secret keeps signing beside it"
        f" for 24 hours, until {shown_until} UTC, so the receiver can switch over"
        " without losing an event."
    ) in text_of(page)
    assert "new-secret" not in ada.get("/webhook-subscriptions/1").get_data(
        as_text=True
    )
    assert new not in stored_text(rows)
    # A receiver that knows only the new secret verifies the next event, and
    # one that knows only the old one still does (for 24 hours).
    receiver.secrets[:] = [new]
    client.post("/webhooks/1/ping", headers=admin)
    deliver()
    assert [received.verified for received in receiver.received] == [True]
    receiver.secrets[:] = [old]
    assert receiver.verify(receiver.received[0].headers, receiver.received[0].body)


def test_redeliver_sends_the_same_event_again(
    ada, client, admin, subscribe, receiver, deliver
):
    subscribe()
    client.post("/webhooks/1/ping", headers=admin)
    deliver()
    response = post(ada, "/webhook-subscriptions/1/deliveries/1/redeliver")
    assert response.headers["Location"] == "/webhook-subscriptions/1"
    assert notice(ada, response) == (
        "Delivery 1 queued again as delivery 2, with the same event id."
    )
    deliver()
    first, again = receiver.events()
    assert again == first
    assert [d["state"] for d in deliveries(client, admin)] == [
        "delivered",
        "delivered",
    ]


def test_deleting_asks_first_then_deletes_with_the_log(
    ada, client, admin, subscribe, rows
):
    subscribe(description="the robot")
    client.post("/webhooks/1/ping", headers=admin)
    page = ada.get("/webhook-subscriptions/1").get_data(as_text=True)
    assert 'href="/webhook-subscriptions/1/delete">Delete subscription…</a>' in page
    confirm = ada.get("/webhook-subscriptions/1/delete")
    assert confirm.status_code == 200
    shown = confirm.get_data(as_text=True)
    assert "<h1>Delete webhook subscription 1?</h1>" in shown
    assert 'action="/webhook-subscriptions/1/delete"' in shown
    # Asking deletes nothing.
    assert client.get("/webhooks/1", headers=admin).status_code == 200

    response = post(ada, "/webhook-subscriptions/1/delete")
    assert response.headers["Location"] == LIST
    assert notice(ada, response) == (
        "Subscription 1 deleted, with its undelivered events and its log."
    )
    assert client.get("/webhooks/1", headers=admin).status_code == 404
    assert rows("SELECT id FROM webhook_deliveries") == []
    assert "No subscriptions yet." in ada.get(LIST).get_data(as_text=True)


# --- What is not there -------------------------------------------------------------

NO_SUBSCRIPTION = {
    "status": 404,
    "error": "Subscription not found",
    "detail": "There is no webhook subscription 9.",
}
NO_DELIVERY = {
    "status": 404,
    "error": "Delivery not found",
    "detail": "Subscription 1 has no delivery 9.",
}


@pytest.mark.parametrize(
    ("method", "path", "form", "expected"),
    [
        ("GET", "/webhook-subscriptions/9", None, NO_SUBSCRIPTION),
        ("GET", "/webhook-subscriptions/9/delete", None, NO_SUBSCRIPTION),
        ("POST", "/webhook-subscriptions/9/ping", {}, NO_SUBSCRIPTION),
        ("POST", "/webhook-subscriptions/9/enabled", {"enabled": "0"}, NO_SUBSCRIPTION),
        ("POST", "/webhook-subscriptions/9/rotate-secret", {}, NO_SUBSCRIPTION),
        ("POST", "/webhook-subscriptions/9/delete", {}, NO_SUBSCRIPTION),
        ("POST", "/webhook-subscriptions/1/deliveries/9/redeliver", {}, NO_DELIVERY),
    ],
)
def test_what_is_not_there_is_a_404_page(ada, subscribe, method, path, form, expected):
    subscribe()
    if method == "GET":
        response = ada.get(path)
    else:
        response = post(ada, path, form)
    assert problem_page(response) == expected


def test_an_id_too_large_routes_nowhere(ada):
    # As every route's: the router answers before any page is chosen.
    response = ada.get(f"/webhook-subscriptions/{MAX_ID + 1}")
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not found"
    assert ada.get(f"/webhook-subscriptions/{MAX_ID}").status_code == 404


# --- Who may ------------------------------------------------------------------------

FORMS = {
    LIST: {**GOOD},
    "/webhook-subscriptions/1/ping": {},
    "/webhook-subscriptions/1/enabled": {"enabled": "0"},
    "/webhook-subscriptions/1/rotate-secret": {},
    "/webhook-subscriptions/1/deliveries/1/redeliver": {},
    "/webhook-subscriptions/1/delete": {},
}
PAGES = (LIST, "/webhook-subscriptions/1", "/webhook-subscriptions/1/delete")


@pytest.fixture
def hooked(client, admin, subscribe, deliver):
    """One subscription (1) with one delivered ping (delivery 1)."""
    subscribe()
    client.post("/webhooks/1/ping", headers=admin)
    deliver()


def unchanged(rows) -> str:
    return "\n".join(
        str(row) for table in WEBHOOK_TABLES for row in rows(f"SELECT * FROM {table}")
    )


@pytest.mark.parametrize("path", sorted(FORMS))
def test_each_form_needs_its_csrf_token(ada, hooked, rows, path):
    before = unchanged(rows)
    response = ada.post(path, data=FORMS[path])
    assert problem_page(response) == {
        "status": 400,
        "error": "Bad request",
        "detail": "The CSRF token is missing.",
    }
    assert unchanged(rows) == before


@pytest.mark.parametrize("role", ["clerk", "viewer"])
def test_a_clerk_or_viewer_sees_no_link_and_is_refused(browse, hooked, rows, role):
    browser = browse("vera", role)
    assert "/webhook-subscriptions" not in browser.get("/").get_data(as_text=True)
    refused = {
        "status": 403,
        "error": "Forbidden",
        "detail": f"Only an admin may do this; you are logged in as vera, a {role}.",
    }
    for path in PAGES:
        assert problem_page(browser.get(path)) == refused
    before = unchanged(rows)
    for path, form in FORMS.items():
        assert problem_page(post(browser, path, form)) == refused
    assert unchanged(rows) == before


def test_anonymous_is_sent_to_log_in(client, hooked, rows):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"] == f"/log-in?next={path}"
    before = unchanged(rows)
    for path, form in FORMS.items():
        response = post(client, path, form)
        assert response.status_code == 303
        assert response.headers["Location"] == f"/log-in?next={path}"
    assert unchanged(rows) == before


def test_an_admin_token_limited_to_collections_is_refused(
    client, hooked, make_token, rows
):
    limited = {**bearer(make_token("root", "admin", ["fruit"])), "Accept": "text/html"}
    home = client.get("/", headers=limited).get_data(as_text=True)
    assert '<a href="/users">Users</a>' in home
    assert "/webhook-subscriptions" not in home
    refused = {
        "status": 403,
        "error": "Forbidden",
        "detail": "Webhooks need an admin token that is not limited to some"
        " collections.",
    }
    for path in PAGES:
        response = client.get(path, headers=limited)
        assert problem_page(response) == refused
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    before = unchanged(rows)
    for path, form in FORMS.items():
        assert problem_page(post(client, path, form, headers=limited)) == refused
    assert unchanged(rows) == before
    # The API refuses it with the same guard.
    response = client.get(
        "/webhooks", headers={"Authorization": limited["Authorization"]}
    )
    assert response.status_code == 403
    assert response.get_json()["detail"] == refused["detail"]


def test_an_unlimited_admin_token_may_use_the_page(client, hooked, admin):
    response = client.get("/webhook-subscriptions/1", headers=admin)
    assert response.status_code == 200
    assert delivery_rows(response.get_data(as_text=True))[0][2] == "delivered"
