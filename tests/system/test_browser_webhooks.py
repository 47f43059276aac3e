"""The admins' webhooks page in a real browser (tests/browser.py): an admin
subscribes a receiver on loopback, pings it, turns it off and on, sends an event
again, rotates its secret and deletes it, by clicking and typing, at every width.

What the person sees is checked, then what the receiver got and what is stored,
read back through the JSON API.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from browser import FOLDED_HEADER_BELOW, HEIGHT, WIDTHS, looks_right, notice, press
from flask import Flask
from gunicorn_server import Server
from helpers import bearer, log_in_as
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from stockapp import create_app
from stockapp.core.extensions import db
from stockapp.webhooks.worker import Worker

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Nothing listens on loopback's port 9 (discard): every attempt there fails.
DEAD_URL = "http://127.0.0.1:9/stock/hooks/a-receiver-that-is-down-for-maintenance"


# Fixtures: the site and the test's own app may send to loopback -------------


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    """The app the worker runs in here, allowed to send to the receiver below."""
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "WEBHOOKS_ALLOW_PRIVATE": True}
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def site(database_url: str, make_user, tmp_path: Path) -> Iterator[Server]:
    """As tests/conftest.py's ``site``, and taking receivers on loopback."""
    for role in ("admin", "clerk", "viewer"):
        make_user(role, role)
    server = Server(
        database_url,
        tmp_path / "gunicorn.log",
        workers=2,
        env={"ANONYMOUS_ACCESS": "none", "WEBHOOKS_ALLOW_PRIVATE": "1"},
    )
    server.start()
    yield server
    server.stop()


class Receiver:
    """A receiver on loopback that answers 200 and keeps what it got."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[tuple[dict[str, str], bytes]] = []


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {key.lower(): value for key, value in self.headers.items()}
            state["receiver"].received.append((headers, body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["receiver"] = Receiver(f"http://127.0.0.1:{server.server_port}/hook")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()
    thread.join()


# Helpers --------------------------------------------------------------------


@contextmanager
def admin_tab(chromium, site, width: int) -> Iterator[Any]:
    """A tab of its own at ``width``, the admin logged in, allowed the clipboard."""
    origin = f"http://127.0.0.1:{site.port}"
    context = chromium.new_context(
        base_url=origin, viewport={"width": width, "height": HEIGHT}
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    try:
        page = context.new_page()
        log_in_as(page, "admin")
        # (On a phone the header's "who" is folded into its menu.)
        expect(page.get_by_role("status")).to_have_text("Logged in as admin (admin).")
        yield page
    finally:
        context.close()


def drain(app: Flask) -> int:
    """Run the worker until nothing is due, as ``flask webhooks deliver`` does."""
    with app.app_context():
        return Worker().drain()


def delivery_rows(page):
    return page.locator("table.deliveries tbody tr")


# The test -------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_an_admin_subscribes_pings_disables_redelivers_and_deletes(
    chromium, site, app, make_token, receiver, width
):
    token = bearer(make_token("admin", "admin"))

    def api(method: str, path: str, body: Any = None) -> Any:
        reply = site.request(method, path, body, headers=token)
        assert reply.status < 300, (method, path, reply.status, reply.body)
        return reply.json() if reply.body else None

    # One subscription already there, failing: a receiver that is down.
    api(
        "POST",
        "/webhooks",
        {
            "url": DEAD_URL,
            "events": ["member.low", "member.restocked"],
            "collections": ["shelf", "back-room-spares"],
            "description": "the reorder robot of the back room, down this week",
        },
    )
    api("POST", "/webhooks/1/ping")
    assert drain(app) == 1
    # Turned off, so that its retry never joins the worker's runs below.
    api("PATCH", "/webhooks/1", {"enabled": False})

    with admin_tab(chromium, site, width) as page:
        if width < FOLDED_HEADER_BELOW:  # a phone: the header's links are in its menu
            page.get_by_role("link", name="Menu", exact=True).click()
        page.get_by_role("link", name="Webhooks", exact=True).click()
        expect(page).to_have_url("/webhook-subscriptions")
        expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
        listed = page.get_by_role("list", name="Subscriptions").get_by_role("listitem")
        expect(listed).to_have_count(1)
        expect(listed).to_contain_text("Failing since")
        looks_right(page, "webhooks-list", width)

        # The form is folded away below a subscription: open it, forget the events.
        page.get_by_text("Add a subscription", exact=True).click()
        page.get_by_label("URL", exact=True).fill(receiver.url)
        assert press(page, page.get_by_role("button", name="Add subscription")) == 400
        expect(page.locator("#events-error")).to_have_text(
            "Events must have at least one ticked"
        )
        expect(page.get_by_label("URL", exact=True)).to_have_value(receiver.url)
        looks_right(page, "webhooks-refused", width)

        page.get_by_role("checkbox", name=re.compile(r"^movement\.created")).check()
        page.get_by_role("checkbox", name=re.compile(r"^member\.low")).check()
        page.get_by_label("Only these collections").fill("shelf\nbench")
        page.get_by_label("Description").fill("the shop's stock screen")
        expect(page.get_by_label("Wait for earlier events")).to_be_checked()
        assert press(page, page.get_by_role("button", name="Add subscription")) == 201

        # The secret, once, with its Copy button.
        expect(
            page.get_by_role("heading", name="Subscription 2 created")
        ).to_be_visible()
        expect(page.get_by_text("it is not shown again")).to_be_visible()
        shown = page.get_by_label("The signing secret")
        expect(shown).to_have_attribute("readonly", "")
        secret = shown.input_value()
        assert secret.startswith("whsec_")
        # The button's script is deferred: a click before it runs does nothing.
        page.wait_for_load_state("load")
        page.get_by_role("button", name="Copy", exact=True).click()
        expect(page.locator("#copy-status")).to_have_text("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == secret
        looks_right(page, "webhooks-created", width)
        made = api("GET", "/webhooks/2")
        assert (made["events"], made["collections"], made["ordered"]) == (
            ["movement.created", "member.low"],
            ["bench", "shelf"],
            True,
        )

        # Its own page, from the list.
        page.get_by_role("link", name="All webhooks").click()
        page.get_by_role("link", name=receiver.url).click()
        expect(page).to_have_url("/webhook-subscriptions/2")
        expect(page.get_by_text("No deliveries yet. Ping sends one.")).to_be_visible()
        expect(shown).to_have_count(0)

        # Ping: queued, then sent by the worker, signed with the secret shown.
        assert press(page, page.get_by_role("button", name="Ping")) == 303
        expect(notice(page)).to_have_text(
            "Ping queued as delivery 2: the worker sends it shortly."
        )
        expect(delivery_rows(page)).to_have_count(1)
        expect(delivery_rows(page).first).to_contain_text("pending")
        assert drain(app) == 1
        page.reload()
        row = delivery_rows(page).first
        expect(row).to_contain_text("2: ping")
        expect(row).to_contain_text("HTTP 200")
        expect(row.locator("[data-label=State]")).to_have_text("delivered")
        headers, body = receiver.received[0]
        assert Webhook(secret).verify(body, headers)["type"] == "ping"
        looks_right(page, "webhooks-subscription", width)

        # Off, and on again.
        assert press(page, page.get_by_role("button", name="Disable")) == 303
        expect(notice(page)).to_have_text(
            "Subscription 2 disabled: nothing is sent to it until it is enabled again."
        )
        expect(page.get_by_text("Disabled: Disabled by an admin.")).to_be_visible()
        assert api("GET", "/webhooks/2")["enabled"] is False
        assert press(page, page.get_by_role("button", name="Enable")) == 303
        expect(notice(page)).to_have_text(
            "Subscription 2 enabled: its waiting events go out again."
        )
        assert api("GET", "/webhooks/2")["enabled"] is True

        # The ping again: the same event, a new delivery.
        redeliver = page.get_by_role("button", name="Redeliver delivery 2")
        assert press(page, redeliver) == 303
        expect(notice(page)).to_have_text(
            "Delivery 2 queued again as delivery 3, with the same event id."
        )
        assert drain(app) == 1
        page.reload()
        expect(delivery_rows(page)).to_have_count(2)
        expect(delivery_rows(page).first).to_contain_text("3: ping")
        expect(delivery_rows(page).first).to_contain_text("HTTP 200")
        first, again = (headers["webhook-id"] for headers, _ in receiver.received)
        assert again == first

        # A new secret, once; the old one keeps signing for a day.
        assert press(page, page.get_by_role("button", name="Rotate secret")) == 200
        expect(page.get_by_role("heading", name="New signing secret")).to_be_visible()
        expect(page.get_by_text("keeps signing beside it for 24 hours")).to_be_visible()
        assert page.get_by_label("The signing secret").input_value() not in (
            "",
            secret,
        )
        looks_right(page, "webhooks-rotated", width)

        # Deleting asks first.
        page.get_by_role("link", name="Delete subscription…").click()
        expect(page).to_have_url("/webhook-subscriptions/2/delete")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Delete webhook subscription 2?"
        )
        looks_right(page, "webhooks-delete", width)
        assert api("GET", "/webhooks/2")["id"] == 2
        delete = page.get_by_role("button", name="Delete subscription 2")
        assert press(page, delete) == 303
        expect(page).to_have_url("/webhook-subscriptions")
        expect(notice(page)).to_have_text(
            "Subscription 2 deleted, with its undelivered events and its log."
        )
        expect(listed).to_have_count(1)
        assert [hook["id"] for hook in api("GET", "/webhooks")["webhooks"]] == [1]

        # The one that is down: its failed attempt and the error.
        page.get_by_role("link", name=DEAD_URL).click()
        row = delivery_rows(page).first
        expect(row.locator("[data-label=State]")).to_have_text("pending")
        expect(row.locator('[data-label="Last attempt"]')).to_have_text("retrying")
        error = api("GET", "/webhooks/1/deliveries")["deliveries"][0]["last_attempt"]
        expect(row.locator("[data-label=Answer]")).to_have_text(error["error"])
        looks_right(page, "webhooks-failing", width)
