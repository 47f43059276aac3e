"""Every route against every kind of caller, generated from the router.

The table below is the oracle: what each endpoint needs, written down here
independently of the declarations in the code. A route missing from it fails
the suite, so a new route cannot skip the matrix.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

import pytest
from helpers import csrf_token_of, problem_page
from sqlalchemy import insert, inspect, text, update

from stockapp import create_app
from stockapp.access import accounts
from stockapp.access.models import ApiToken, User
from stockapp.access.passwords import hash_password
from stockapp.access.validation import TokenRequest
from stockapp.core.clock import utcnow
from stockapp.core.extensions import db
from stockapp.exchange.drafts import ImportDraft
from stockapp.moves import stocktakes
from stockapp.stock import reads, units
from stockapp.webhooks import subscriptions
from stockapp.webhooks.validation import SubscriptionFields

PASSWORD = "matrix password, never stored"
# The code apple of fruit carries.
FRUIT_CODE = "4006381333931"
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


@dataclass(frozen=True)
class Route:
    """One endpoint and method: a request that succeeds for a caller allowed it."""

    path: str
    # public | read | write | user (any user, never anonymous) | admin (a user
    # with the admin scope) | metrics (a user with the metrics or admin scope)
    needs: str
    ok: int
    body: Any = None
    # A form's fields (or a function of the cell giving them); "{apple}" and
    # "{fruit}" stand for the versions of apple and fruit as stored.
    form: Any = None
    page: bool = False
    # The URL names collection "fruit" (a limited token may not see it) and
    # the route may create it.
    collection: bool = False
    creates: bool = False
    # What a token that may not see fruit gets instead, when the route names
    # fruit's stocktake ("{stocktake}") or a form names fruit: the status and
    # the words it says (a problem's detail; a page's text).
    outside: tuple[int, str] | None = None


def token_body(cell: Cell) -> dict[str, Any]:
    return {
        "label": "made in the matrix",
        "scope": "read",
        "collections": sorted(cell.collections or {"fruit"}),
    }


def token_form(cell: Cell) -> dict[str, str]:
    body = token_body(cell)
    return {**body, "collections": "\n".join(body["collections"])}


def member_form(path: str, ok: int = 303, **form: str) -> Route:
    """A form of the collection page that changes fruit's apple."""
    return Route(path, "write", ok, form=form, page=True, collection=True)


MEMBER_PAGE = "/collections/fruit/members/apple"
NO_STOCKTAKE = (404, "There is no stocktake {stocktake}.")
STOCKTAKE = "/stocktakes/{stocktake}"
COUNTING = "/stocktaking/{stocktake}"


def stocktake_api(path: str, needs: str, ok: int, body: Any = None) -> Route:
    """A route of fruit's open stocktake."""
    return Route(path, needs, ok, body=body, outside=NO_STOCKTAKE)


def counting_page(path: str, needs: str, ok: int, form: Any = None) -> Route:
    """A page of fruit's open stocktake, or a form on one."""
    return Route(path, needs, ok, form=form, page=True, outside=NO_STOCKTAKE)


IMPORTED = b"collection,member,quantity\r\nfruit,apple,3\r\n"


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "static"): Route("/static/style.css", "public", 200),
    ("GET", "docs.openapi_json"): Route("/openapi.json", "public", 200),
    ("GET", "docs.docs"): Route("/docs", "public", 200),
    ("GET", "docs.docs_asset"): Route("/docs/assets/swagger-ui.css", "public", 200),
    ("GET", "health.healthz"): Route("/healthz", "public", 200),
    ("GET", "health.readyz"): Route("/readyz", "public", 200),
    ("GET", "metrics.metrics"): Route("/metrics", "metrics", 200),
    ("GET", "api.get_text"): Route("/get-text", "public", 200),
    ("GET", "api.query_string"): Route("/qs?a=1", "public", 200),
    ("GET", "access_pages.log_in"): Route("/log-in", "public", 200, page=True),
    ("POST", "access_pages.submit_log_in"): Route(
        "/log-in",
        "public",
        303,
        form={"name": "alice", "password": PASSWORD},
        page=True,
    ),
    ("POST", "access_pages.log_out"): Route(
        "/log-out", "public", 303, form={}, page=True
    ),
    ("GET", "pages.index"): Route("/", "read", 200, page=True),
    ("GET", "pages.add_collection"): Route("/add-collection", "write", 200, page=True),
    ("POST", "pages.submit_collection"): Route(
        "/add-collection",
        "write",
        303,
        form={"collection": "veg", "member": "leek", "qty": "3"},
        page=True,
    ),
    ("GET", "trend_pages.collection_trend"): Route(
        "/collections/fruit/trend", "read", 200, page=True, collection=True
    ),
    ("GET", "history_pages.collection_history"): Route(
        "/collections/fruit/history", "read", 200, page=True, collection=True
    ),
    ("GET", "history_pages.member_history"): Route(
        "/collections/fruit/members/apple/history",
        "read",
        200,
        page=True,
        collection=True,
    ),
    ("GET", "collection_pages.collection"): Route(
        "/collections/fruit", "read", 200, page=True, collection=True
    ),
    ("POST", "collection_pages.add_member"): member_form(
        "/collections/fruit/members", member="pear", qty="2"
    ),
    ("POST", "collection_pages.set_quantity"): member_form(
        f"{MEMBER_PAGE}/quantity", qty="5", version="{apple}"
    ),
    ("POST", "collection_pages.adjust"): member_form(
        f"{MEMBER_PAGE}/adjustments", amount="1", direction="take", version="{apple}"
    ),
    ("POST", "collection_pages.set_reorder_level"): member_form(
        f"{MEMBER_PAGE}/reorder-level", level="5", version="{apple}"
    ),
    ("POST", "collection_pages.set_code"): member_form(
        f"{MEMBER_PAGE}/code", code="SHELF-A7", version="{apple}"
    ),
    # A typed code opens the page of the one member carrying it.
    ("GET", "scan_pages.scan"): Route(
        f"/scan?code={FRUIT_CODE}",
        "read",
        303,
        page=True,
        outside=(404, f"No member carries the code {FRUIT_CODE}"),
    ),
    ("GET", "collection_pages.confirm_member_deletion"): Route(
        f"{MEMBER_PAGE}/delete", "write", 200, page=True, collection=True
    ),
    ("POST", "collection_pages.delete_member"): member_form(
        f"{MEMBER_PAGE}/delete", version="{apple}"
    ),
    ("GET", "collection_pages.member"): Route(
        MEMBER_PAGE, "read", 200, page=True, collection=True
    ),
    # Labels: a member's, and a sheet of them (its stylesheet names no stock).
    ("GET", "labels.member_label"): Route(
        "/stock/fruit/apple/label.svg", "read", 200, collection=True
    ),
    ("GET", "label_pages.sheet"): Route(
        "/collections/fruit/labels", "read", 200, page=True, collection=True
    ),
    ("GET", "label_pages.page_size"): Route("/labels/sheets/a4-3x8.css", "public", 200),
    # Deleting a whole collection from the pages is an admin's.
    ("GET", "collection_pages.confirm_collection_deletion"): Route(
        "/collections/fruit/delete", "admin", 200, page=True, collection=True
    ),
    ("POST", "collection_pages.delete_collection"): Route(
        "/collections/fruit/delete",
        "admin",
        303,
        form={"confirm": "fruit", "version": "{fruit}"},
        page=True,
        collection=True,
    ),
    ("POST", "account_pages.create_token"): Route(
        "/tokens/new", "user", 201, form=token_form, page=True
    ),
    ("POST", "account_pages.revoke_token"): Route(
        "/tokens/{own}/revoke", "user", 303, form={}, page=True
    ),
    ("GET", "account_pages.users"): Route("/users", "admin", 200, page=True),
    ("GET", "api.list_stock"): Route("/stock", "read", 200),
    ("GET", "exports.export_csv"): Route("/export.csv", "read", 200),
    ("GET", "exports.export_json"): Route("/export.json", "read", 200),
    ("GET", "import_pages.import_form"): Route("/import", "write", 200, page=True),
    ("GET", "import_pages.download_csv"): Route(
        "/download/stock.csv", "read", 200, page=True
    ),
    ("GET", "import_pages.download_json"): Route(
        "/download/stock.json", "read", 200, page=True
    ),
    ("GET", "low_stock_pages.download_low_stock"): Route(
        "/download/low-stock.csv", "read", 200, page=True
    ),
    ("POST", "import_pages.submit_import"): Route(
        "/import",
        "write",
        303,
        form=lambda cell: {"file": (io.BytesIO(IMPORTED), "stock.csv")},
        page=True,
        collection=True,
        creates=True,
    ),
    # The caller's own draft: a file its dry run kept.
    ("GET", "import_pages.preview_draft"): Route(
        "/import/drafts/{draft}",
        "write",
        200,
        page=True,
        collection=True,
        creates=True,
    ),
    ("POST", "import_pages.submit_draft"): Route(
        "/import/drafts/{draft}",
        "write",
        303,
        form={},
        page=True,
        collection=True,
        creates=True,
    ),
    ("POST", "imports.create_import"): Route(
        "/imports",
        "write",
        200,
        body={"fruit": {"apple": 3}},
        collection=True,
        creates=True,
    ),
    ("GET", "api.get_collection"): Route("/stock/fruit", "read", 200, collection=True),
    ("GET", "api.get_member"): Route(
        "/stock/fruit/apple", "read", 200, collection=True
    ),
    ("GET", "history_api.collection_history"): Route(
        "/stock/fruit/history", "read", 200, collection=True
    ),
    ("GET", "history_api.member_history"): Route(
        "/stock/fruit/apple/history", "read", 200, collection=True
    ),
    ("POST", "api.create_collection"): Route(
        "/stock/fig", "write", 201, body={"ripe": 1}, collection=True, creates=True
    ),
    ("PUT", "api.replace_collection"): Route(
        "/stock/fruit", "write", 200, body={"apple": 1}, collection=True, creates=True
    ),
    ("PATCH", "api.update_collection"): Route(
        "/stock/fruit", "write", 200, body={"pear": 2}, collection=True, creates=True
    ),
    ("DELETE", "api.delete_collection"): Route(
        "/stock/fruit", "write", 204, collection=True
    ),
    ("PUT", "api.put_member"): Route(
        "/stock/fruit/apple", "write", 200, body=5, collection=True
    ),
    ("DELETE", "api.delete_member"): Route(
        "/stock/fruit/apple", "write", 204, collection=True
    ),
    ("POST", "api.adjust_member"): Route(
        "/stock/fruit/apple/adjustments",
        "write",
        200,
        body={"delta": -1},
        collection=True,
    ),
    ("GET", "reorder.get_reorder_level"): Route(
        "/stock/fruit/apple/reorder-level", "read", 200, collection=True
    ),
    ("PUT", "reorder.put_reorder_level"): Route(
        "/stock/fruit/apple/reorder-level", "write", 200, body=5, collection=True
    ),
    ("GET", "reorder.low_stock"): Route("/low-stock", "read", 200),
    ("GET", "codes.get_code"): Route(
        "/stock/fruit/apple/code", "read", 200, collection=True
    ),
    ("PUT", "codes.put_code"): Route(
        "/stock/fruit/apple/code", "write", 200, body="SHELF-A7", collection=True
    ),
    ("POST", "codes.make_code"): Route(
        "/stock/fruit/apple/code", "write", 409, collection=True
    ),
    # A token that may not see fruit finds none of its members.
    ("GET", "codes.find_code"): Route(
        f"/codes/{FRUIT_CODE}",
        "read",
        200,
        outside=(404, f'There is no member with the code "{FRUIT_CODE}".'),
    ),
    ("GET", "trends_api.get_member_series"): Route(
        "/stock/fruit/apple/series", "read", 200, collection=True
    ),
    ("GET", "trends_api.get_collection_series"): Route(
        "/stock/fruit/series", "read", 200, collection=True
    ),
    ("GET", "access_api.me"): Route("/me", "user", 200),
    ("GET", "access_api.list_tokens"): Route("/tokens", "user", 200),
    ("POST", "access_api.create_token"): Route("/tokens", "user", 201, body=token_body),
    ("GET", "access_api.get_token"): Route("/tokens/{own}", "user", 200),
    ("DELETE", "access_api.revoke_token"): Route("/tokens/{own}", "user", 204),
    ("GET", "webhooks_api.list_webhooks"): Route("/webhooks", "admin", 200),
    ("POST", "webhooks_api.create_webhook"): Route(
        "/webhooks",
        "admin",
        201,
        body={"url": "https://hooks.example/stock", "events": ["member.low"]},
    ),
    ("GET", "webhooks_api.get_webhook"): Route("/webhooks/{hook}", "admin", 200),
    ("PATCH", "webhooks_api.update_webhook"): Route(
        "/webhooks/{hook}", "admin", 200, body={"enabled": False}
    ),
    ("DELETE", "webhooks_api.delete_webhook"): Route("/webhooks/{hook}", "admin", 204),
    ("POST", "webhooks_api.rotate_webhook_secret"): Route(
        "/webhooks/{hook}/rotate-secret", "admin", 200
    ),
    ("POST", "webhooks_api.ping_webhook"): Route("/webhooks/{hook}/ping", "admin", 202),
    ("GET", "webhooks_api.list_webhook_deliveries"): Route(
        "/webhooks/{hook}/deliveries", "admin", 200
    ),
    ("POST", "webhooks_api.redeliver_webhook"): Route(
        "/webhooks/{hook}/deliveries/{delivery}/redeliver", "admin", 202
    ),
    ("POST", "batch_api.run_batch"): Route(
        "/batch",
        "write",
        200,
        body={
            "operations": [
                {
                    "op": "adjust",
                    "collection": "fruit",
                    "member": "apple",
                    "body": {"delta": 1},
                }
            ]
        },
        collection=True,
    ),
    ("POST", "transfer_api.create_transfer"): Route(
        "/transfers",
        "write",
        200,
        body={
            "from": {"collection": "fruit", "member": "apple"},
            "to": {"collection": "fruit", "member": "pear"},
            "quantity": 1,
        },
        collection=True,
    ),
    ("POST", "transfer_pages.move"): member_form(
        f"{MEMBER_PAGE}/move",
        collection="fruit",
        member="pear",
        quantity="1",
        reason="",
    ),
    ("GET", "transfer_pages.move_form"): Route(
        f"{MEMBER_PAGE}/move", "write", 200, page=True, collection=True
    ),
    ("POST", "stocktake_api.create_stocktake"): Route(
        "/stocktakes", "write", 201, body={"collection": "fruit"}, collection=True
    ),
    ("GET", "stocktake_api.list_stocktakes"): Route("/stocktakes", "read", 200),
    ("GET", "stocktake_api.get_stocktake"): stocktake_api(STOCKTAKE, "read", 200),
    ("PUT", "stocktake_api.count_stocktake_member"): stocktake_api(
        f"{STOCKTAKE}/counts/apple", "write", 201, {"quantity": 3}
    ),
    ("POST", "stocktake_api.commit_stocktake"): stocktake_api(
        f"{STOCKTAKE}/commit", "write", 200
    ),
    ("POST", "stocktake_api.cancel_stocktake"): stocktake_api(
        f"{STOCKTAKE}/cancel", "write", 200
    ),
    ("GET", "stocktake_pages.stocktakes_page"): Route(
        "/stocktaking", "read", 200, page=True
    ),
    ("POST", "stocktake_pages.open_count"): Route(
        "/stocktaking",
        "write",
        303,
        form={"collection": "fruit", "note": ""},
        page=True,
        outside=(409, "fruit does not exist"),
    ),
    ("GET", "stocktake_pages.count_page"): counting_page(COUNTING, "read", 200),
    ("POST", "stocktake_pages.save_count"): counting_page(
        f"{COUNTING}/members/apple/count", "write", 303, {"quantity": "3"}
    ),
    ("GET", "stocktake_pages.review_page"): counting_page(
        f"{COUNTING}/review", "read", 200
    ),
    ("POST", "stocktake_pages.commit"): counting_page(
        f"{COUNTING}/commit", "write", 303, {"uncounted": "leave", "checked": "yes"}
    ),
    ("GET", "stocktake_pages.confirm_cancel"): counting_page(
        f"{COUNTING}/cancel", "write", 200
    ),
    ("POST", "stocktake_pages.cancel"): counting_page(
        f"{COUNTING}/cancel", "write", 303, {}
    ),
    ("GET", "webhook_pages.subscriptions_page"): Route(
        "/webhook-subscriptions", "admin", 200, page=True
    ),
    ("POST", "webhook_pages.create_subscription"): Route(
        "/webhook-subscriptions",
        "admin",
        201,
        form={"url": "https://hooks.example/page", "events": "member.low"},
        page=True,
    ),
    ("GET", "webhook_pages.subscription_page"): Route(
        "/webhook-subscriptions/{hook}", "admin", 200, page=True
    ),
    ("POST", "webhook_pages.ping"): Route(
        "/webhook-subscriptions/{hook}/ping", "admin", 303, form={}, page=True
    ),
    ("POST", "webhook_pages.set_enabled"): Route(
        "/webhook-subscriptions/{hook}/enabled",
        "admin",
        303,
        form={"enabled": "0"},
        page=True,
    ),
    ("POST", "webhook_pages.rotate_secret"): Route(
        "/webhook-subscriptions/{hook}/rotate-secret", "admin", 200, form={}, page=True
    ),
    ("GET", "webhook_pages.confirm_deletion"): Route(
        "/webhook-subscriptions/{hook}/delete", "admin", 200, page=True
    ),
    ("POST", "webhook_pages.delete_subscription"): Route(
        "/webhook-subscriptions/{hook}/delete", "admin", 303, form={}, page=True
    ),
    ("POST", "webhook_pages.redeliver"): Route(
        "/webhook-subscriptions/{hook}/deliveries/{delivery}/redeliver",
        "admin",
        303,
        form={},
        page=True,
    ),
}


@dataclass(frozen=True)
class Cell:
    """One kind of caller."""

    # ANONYMOUS_ACCESS of the app.
    anonymous_access: str = "none"
    # The caller's user role and token scope; None: no token is sent.
    role: str | None = None
    scope: str | None = None
    collections: frozenset[str] | None = None
    # expired | revoked | disabled: a token that must not work.
    broken: str | None = None
    # The role the user was given after the token was made (demoted).
    role_now: str | None = None

    @property
    def granted(self) -> str | None:
        """The scope the token works with: never more than its user's role now
        allows (written out, not computed by the code under test)."""
        if self.role_now is None:
            return self.scope
        return {("metrics", "clerk"): None}[(self.scope, self.role_now)]


CELLS = {
    "anonymous, ANONYMOUS_ACCESS=none": Cell("none"),
    "anonymous, ANONYMOUS_ACCESS=read": Cell("read"),
    "anonymous, ANONYMOUS_ACCESS=write": Cell("write"),
    "viewer, read token": Cell(role="viewer", scope="read"),
    "clerk, write token": Cell(role="clerk", scope="write"),
    "admin, admin token": Cell(role="admin", scope="admin"),
    "admin, read token": Cell(role="admin", scope="read"),
    "admin, metrics token": Cell(role="admin", scope="metrics"),
    "metrics token of an admin made a clerk since": Cell(
        role="admin", scope="metrics", role_now="clerk"
    ),
    "expired token": Cell(role="clerk", scope="write", broken="expired"),
    "revoked token": Cell(role="clerk", scope="write", broken="revoked"),
    "disabled user": Cell(role="clerk", scope="write", broken="disabled"),
    "token limited to another collection": Cell(
        role="clerk", scope="write", collections=frozenset({"other"})
    ),
    "token limited to fruit and veg": Cell(
        role="clerk", scope="write", collections=frozenset({"fruit", "veg", "fig"})
    ),
    "broken token under ANONYMOUS_ACCESS=write": Cell(
        "write", role="clerk", scope="write", broken="revoked"
    ),
}


# What each scope allows, written out here rather than asked of the code.
COVERS = {
    None: set(),
    "read": {"read"},
    "write": {"read", "write"},
    "admin": {"read", "write", "admin", "metrics"},
    "metrics": {"metrics"},
}


def covers(granted: str | None, needed: str) -> bool:
    return needed in COVERS[granted]


def expected_status(route: Route, cell: Cell) -> int:
    """What the contract says ``cell`` gets from ``route``."""
    if cell.broken:
        # A presented token is always checked, even where none is needed.
        return 401
    if route.needs == "public":
        return route.ok
    if cell.role is None:
        allowed = route.needs not in ("user", "admin", "metrics") and covers(
            None if cell.anonymous_access == "none" else cell.anonymous_access,
            route.needs,
        )
        if not allowed:
            return 303 if route.page else 401
        return route.ok
    needed = "read" if route.needs == "user" else route.needs
    if not covers(cell.granted, needed):
        return 403
    outside = cell.collections is not None and "fruit" not in cell.collections
    if route.outside and outside:
        return route.outside[0]
    if route.collection and outside:
        return 403 if route.creates else 404
    form = route.form
    if isinstance(form, dict) and "collection" in form and cell.collections:
        return route.ok if form["collection"] in cell.collections else 403
    return route.ok


def router_endpoints(app) -> set[tuple[str, str]]:
    return {
        (method, rule.endpoint)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - IMPLICIT_METHODS
    }


def test_every_route_is_in_the_matrix(app):
    assert router_endpoints(app) == set(ROUTES)


class Caller:
    """The app, its stock, and the caller of one cell, with what it was given."""

    def __init__(self, database_url: str, cell: Cell) -> None:
        self.app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "ANONYMOUS_ACCESS": cell.anonymous_access,
            }
        )
        self.client = self.app.test_client()
        self.secrets: list[str] = [PASSWORD]
        self.headers: dict[str, str] = {}
        self.own_token = 0
        with self.app.app_context():
            # The one who logs in on /log-in, and the owner of another token.
            self._user("alice", "clerk")
            other = accounts.create_token(TokenRequest("alice's", "read"), "alice")
            self.secrets.append(other.secret)
            self.own_token = other.token["id"]
            if cell.role is not None:
                self._give_token(cell)
            units.create_collection("fruit", {"apple": 30})
            # apple carries a code (found by /codes/<code>; so no other is
            # made for it: 409 to whoever may ask).
            units.set_code("fruit", "apple", FRUIT_CODE)
            # A webhook subscription, with one delivery (a ping) to send again.
            hook = subscriptions.create_subscription(
                SubscriptionFields("https://hooks.example/stock", ("member.low",))
            )
            self.secrets.append(hook.secret)
            self.hook = hook.subscription["id"]
            self.delivery = subscriptions.ping(self.hook, None)["id"]
            # An open count of fruit.
            self.stocktake = stocktakes.open_stocktake("fruit", None, by="alice")
            # A file the caller tried (a dry run), kept to import.
            self.draft = "d" * 43
            owner = None if cell.role is None else "caller"
            db.session.execute(
                insert(ImportDraft).values(
                    token=self.draft,
                    owner=owner,
                    content=IMPORTED,
                    file_format="csv",
                    mode="merge",
                    created_at=utcnow(),
                )
            )
            db.session.commit()
            self.versions = {
                "fruit": reads.collection_page("fruit", 0, None)[1],
                "apple": reads.member_quantity("fruit", "apple")[1],
            }

    def _user(self, name: str, role: str) -> None:
        db.session.execute(
            insert(User).values(
                name=name,
                role=role,
                password_hash=password_hash(),
                created_at=utcnow(),
            )
        )
        db.session.commit()

    def _give_token(self, cell: Cell) -> None:
        self._user("caller", cell.role)
        collections = None if cell.collections is None else sorted(cell.collections)
        new = accounts.create_token(
            TokenRequest("matrix", cell.scope, None, collections), "caller"
        )
        self.secrets.append(new.secret)
        self.own_token = new.token["id"]
        self.headers = {"Authorization": f"Bearer {new.secret}"}
        if cell.broken == "expired":
            self._set(ApiToken, new.token["id"], expires_at=utcnow() - timedelta(1))
        elif cell.broken == "revoked":
            accounts.revoke_token(new.token["id"])
        elif cell.broken == "disabled":
            accounts.set_disabled("caller", True)
        if cell.role_now is not None:
            accounts.set_role("caller", cell.role_now)

    def _set(self, model: Any, row_id: int, **values: Any) -> None:
        db.session.execute(update(model).where(model.id == row_id).values(**values))
        db.session.commit()

    def path(self, route: Route) -> str:
        """The route's path, with the ids of what this caller was given."""
        return self.named(route.path)

    def named(self, text: str) -> str:
        """``text`` with the ids of what this caller was given."""
        return text.format(
            own=self.own_token,
            hook=self.hook,
            delivery=self.delivery,
            stocktake=self.stocktake,
            draft=self.draft,
        )

    def call(self, method: str, route: Route, cell: Cell) -> Any:
        path = self.path(route)
        kwargs: dict[str, Any] = {"headers": dict(self.headers)}
        body = route.body(cell) if callable(route.body) else route.body
        if body is not None:
            kwargs["json"] = body
        if route.form is not None:
            form = route.form(cell) if callable(route.form) else route.form
            form = {
                key: value.format(**self.versions) if isinstance(value, str) else value
                for key, value in form.items()
            }
            # The form's CSRF token, fetched as a browser would (without the
            # Authorization header, which a broken token would make a 401).
            page = self.client.get("/log-in").get_data(as_text=True)
            kwargs["data"] = {**form, "csrf_token": csrf_token_of(page)}
        return self.client.open(path, method=method, **kwargs)

    def stored_text(self) -> str:
        """Every value of every table, as text."""
        with self.app.app_context():
            values = []
            for table in inspect(db.engine).get_table_names():
                rows = db.session.execute(text(f'SELECT * FROM "{table}"'))
                values += [str(value) for row in rows for value in row]
            db.session.rollback()
            return "\n".join(values)

    def close(self) -> None:
        with self.app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("cell_name", CELLS)
@pytest.mark.parametrize(
    ("method", "endpoint"), sorted(ROUTES), ids=lambda part: str(part)
)
def test_route_answers_each_kind_of_caller_as_the_contract_says(
    database_url, method, endpoint, cell_name
):
    cell = CELLS[cell_name]
    route = ROUTES[(method, endpoint)]
    caller = Caller(database_url, cell)
    try:
        response = caller.call(method, route, cell)
        # Static files are streamed from an open file.
        response.close()
        expected = expected_status(route, cell)
        assert response.status_code == expected, response.get_data(as_text=True)
        check_refusal(response, expected, route, cell, caller)
        # The database never holds a plaintext token or password.
        stored = caller.stored_text()
        assert not [secret for secret in caller.secrets if secret in stored]
    finally:
        caller.close()


def check_refusal(
    response: Any, status: int, route: Route, cell: Cell, caller: Caller
) -> None:
    """A refusal says why in the contract's words, and nothing more: as
    problem+json, or on a page (as a page) for a browser's session or token."""
    if status == route.ok:
        return
    path = caller.path(route)
    if route.outside and status == route.outside[0] and cell.collections:
        words = caller.named(route.outside[1])
        if route.page:
            assert words in html.unescape(response.get_data(as_text=True))
        else:
            assert response.get_json()["detail"] == words
        return
    if status == 303:
        assert response.headers["Location"] == f"/log-in?next={path}"
        return
    # The tokens page answers a token wider than its maker on the page.
    too_wide = route.path == "/tokens/new" and status == 403 and cell.collections
    if too_wide:
        error, detail = "", ""
    else:
        error, detail = refusal_of(response, route)
    if status == 401 and cell.broken:
        assert error == "Invalid token"
        assert response.headers["WWW-Authenticate"] == (
            'Bearer realm="stockapp", error="invalid_token"'
        )
    elif status == 401:
        assert error == "Authentication required"
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="stockapp"'
    elif too_wide:
        page = response.get_data(as_text=True)
        assert "<h1>API tokens</h1>" in page
        assert "only make tokens limited to some of the same" in page
    elif status == 403:
        assert error == "Forbidden"
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    else:
        assert (status, error, detail) == (
            404,
            "Not found",
            'There is no collection "fruit".',
        )


def refusal_of(response: Any, route: Route) -> tuple[str, str]:
    """The ``error`` and ``detail`` of a refusal, from its problem+json or page."""
    if route.page:
        shown = problem_page(response)
    else:
        shown = response.get_json()
    assert shown["status"] == response.status_code
    return shown["error"], shown["detail"]


def test_a_route_that_declares_nothing_is_refused(database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    response = app.test_client().get("/undeclared")
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)
