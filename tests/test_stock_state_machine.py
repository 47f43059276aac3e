"""Random sequences of API calls, each answer checked against an in-memory model.

The model is the HTTP contract restated: a dict of collections (in creation order)
of dicts of member quantities (in creation order). Every rule sends one request,
works out from the model alone the exact answer the contract promises, compares,
and updates the model; after every step the whole stock, read through the API and
straight from the tables, must equal the model. A refused request changes neither.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from stockapp.extensions import db

MAX_QUANTITY = 2**63 - 1
MAX_BODY = 1024 * 1024
QUANTITY_RULE = f"must be a JSON integer from 0 to {MAX_QUANTITY}"
NOT_AN_OBJECT = "must be a JSON object of member name to quantity"
ROUTE_NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL"
    " manually please check your spelling and try again."
)
TITLES = {
    400: "Bad Request",
    404: "Not Found",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
}

Stock = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Raw:
    """A JSON value sent as this exact text (the value Python would read from it)."""

    text: str


@dataclass
class Body:
    """A request body: JSON built from ``value`` or ``pairs``, or ``raw`` bytes."""

    value: Any = None
    # An object as (key, value) pairs, so a key can appear twice.
    pairs: list[tuple[str, Any]] | None = None
    raw: bytes | None = None
    # What the app reports for a body that is not well-formed JSON.
    malformed: str | None = None
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.pairs is not None:
            items = ", ".join(f"{json.dumps(k)}: {_json(v)}" for k, v in self.pairs)
            return f"{{{items}}}".encode()
        return _json(self.value).encode()


def _json(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    # ensure_ascii writes a lone surrogate as a \ud800 escape, as a client would.
    return json.dumps(value)


@dataclass
class Expected:
    status: int
    body: Any = None
    location: str | None = None
    changes: list[tuple[str, Any]] = field(default_factory=list)


def problem(status: int, error: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "about:blank",
        "title": TITLES[status],
        "status": status,
        "detail": detail,
        "error": error,
        **extra,
    }


def invalid(errors: dict[str, str]) -> Expected:
    detail = "; ".join(f"{key}: {why}" for key, why in errors.items())
    return Expected(400, problem(400, "Invalid input", detail, errors=errors))


def name_fault(name: str) -> str | None:
    """Why the contract refuses ``name``, or None."""
    if not 1 <= len(name) <= 100:
        return "must be 1 to 100 characters long"
    if name.isspace():
        return "must not be only whitespace"
    if "/" in name:
        return "must not contain '/'"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "must not contain control characters"
    if any(unicodedata.category(char) == "Cs" for char in name):
        return "must be valid Unicode (it contains a lone surrogate)"
    return None


def is_quantity(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_QUANTITY


# Strategies -----------------------------------------------------------------------

NAME_POOL = ["fruit", "veg", "apple", "pear", "red apple", " padded ", "ÉPI", "🍎"]
valid_names = st.one_of(
    st.sampled_from(NAME_POOL),
    st.text(
        st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="/"),
        min_size=1,
        max_size=100,
    ).filter(lambda name: not name.isspace()),
    st.just("x" * 100),
)
# Refused names that reach the view; "/" and "" would route the URL elsewhere.
bad_url_names = st.one_of(
    st.sampled_from(["x" * 101, " ", " \u3000 ", "a\x00b", "a\nb", "\x7f", "a\x85"]),
    st.text(st.characters(categories=("Cc", "Zs")), min_size=1, max_size=5),
)
bad_body_names = st.one_of(bad_url_names, st.sampled_from(["", "a/b", "a\ud800"]))
quantities = st.one_of(
    st.sampled_from([0, 1, MAX_QUANTITY]),
    st.integers(min_value=0, max_value=MAX_QUANTITY),
)
bad_quantities = st.sampled_from(
    [
        -1,
        MAX_QUANTITY + 1,
        -(2**63) - 1,
        Raw("1" + "0" * 5000),
        True,
        False,
        1.0,
        2.5,
        Raw("1e2"),
        "3",
        [3],
        {"n": 3},
    ]
)
not_objects = st.sampled_from([[], [{"apple": 1}], 3, "apple", True, None])
# Bodies that are not well-formed JSON, with what the app says of each.
MALFORMED = [
    (b"", "is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
    (
        b"{",
        "is not valid JSON: Expecting property name enclosed in double quotes:"
        " line 1 column 2 (char 1)",
    ),
    (
        b'{"a": 1,}',
        "is not valid JSON: Expecting property name enclosed in double quotes:"
        " line 1 column 9 (char 8)",
    ),
    (b'{"a": NaN}', "is not valid JSON: NaN is not a JSON number"),
    (b'{"a": -Infinity}', "is not valid JSON: -Infinity is not a JSON number"),
    (b"\xff", "is not valid UTF-8 (byte 0)"),
    (b'{"a": 1} x', "is not valid JSON: Extra data: line 1 column 10 (char 9)"),
    (b"[" * 100_000, "is nested too deeply"),
]
malformed = st.sampled_from(MALFORMED).map(lambda m: Body(raw=m[0], malformed=m[1]))
not_json_typed = st.sampled_from(
    ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Draw from one of the strategies, each as often as its weight says."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


@st.composite
def stock_bodies(draw: st.DrawFn, known: list[str], *, patch: bool) -> Body:
    """A collection body, valid more often than not, sometimes subtly wrong."""
    names = st.one_of(valid_names, st.sampled_from(known)) if known else valid_names
    values = st.one_of(quantities, st.none()) if patch else quantities
    kind = draw(
        st.sampled_from(["valid"] * 6 + ["faulty", "not object", "bad json", "type"])
    )
    if kind == "not object":
        return Body(value=draw(not_objects))
    if kind == "bad json":
        return draw(malformed)
    pairs = draw(
        st.lists(st.tuples(names, values), max_size=5, unique_by=lambda p: p[0])
    )
    if kind == "faulty":
        faults = st.one_of(
            st.tuples(bad_body_names, st.one_of(quantities, bad_quantities)),
            st.tuples(names, bad_quantities),
            st.tuples(names, st.none()),
            # The same key again.
            st.sampled_from(pairs).map(lambda p: (p[0], 1)) if pairs else st.nothing(),
        )
        for fault in draw(st.lists(faults, min_size=1, max_size=3)):
            pairs.insert(draw(st.integers(0, len(pairs))), fault)
    media = ["application/json", "application/merge-patch+json"] if patch else None
    content_type = draw(st.sampled_from(media)) if media else "application/json"
    if kind == "type":
        content_type = draw(not_json_typed)
    return Body(pairs=pairs, content_type=content_type)


# The contract, restated -------------------------------------------------------------


def body_fault(body: Body) -> dict[str, str] | None:
    """The ``errors`` of a body that is not well-formed JSON, or None."""
    if body.malformed is not None:
        return {"body": body.malformed}
    return None


def stock_body_errors(body: Body, *, allow_null: bool) -> dict[str, str]:
    """The ``errors`` the contract reports for a collection body (empty if valid)."""
    if body.pairs is None:
        return {"body": NOT_AN_OBJECT}
    # Later values of a repeated key win, at the place where it first appeared.
    values = dict(body.pairs)
    keys = [key for key, _ in body.pairs]
    # Repeated keys first, in body order; then the other faults, in body order.
    errors = {
        key: "appears more than once in the body"
        for key in values
        if keys.count(key) > 1
    }
    for key, value in values.items():
        if key in errors:
            continue
        if why := name_fault(key):
            errors[key] = f"is not a valid member name: it {why}"
        elif value is None and allow_null:
            continue
        elif not is_quantity(value):
            errors[key] = QUANTITY_RULE + ("" if value is not None else NULL_SUFFIX)
    return errors


NULL_SUFFIX = " (null only in PATCH)"


def media_type_refused(body: Body) -> Expected | None:
    mimetype = body.content_type
    if mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    ):
        return None
    return Expected(
        415,
        problem(
            415,
            "Unsupported media type",
            "The body must be JSON, sent with Content-Type: application/json.",
        ),
    )


def collection_location(name: str) -> str:
    return f"/stock/{name}"


def member_location(collection: str, member: str) -> str:
    return f"/stock/{collection}/{member}"


class StockMachine(RuleBasedStateMachine):
    """Drives the app through ``client``; subclasses set ``client`` and ``read``."""

    client: Any
    read: Any
    app: Any

    def __init__(self) -> None:
        super().__init__()
        with self.app.app_context():
            db.session.execute(text("DELETE FROM members"))
            db.session.execute(text("DELETE FROM collections"))
            db.session.commit()
        self.stock: Stock = {}

    # Drawing names ------------------------------------------------------------

    def _collection(self, data: st.DataObject, *, bad: bool = True) -> str:
        """Mostly a collection that exists, sometimes a new name or a refused one."""
        existing = st.sampled_from(list(self.stock)) if self.stock else valid_names
        return data.draw(
            weighted((6, existing), (3, valid_names), (1 if bad else 0, bad_url_names)),
            label="collection",
        )

    def _member(self, data: st.DataObject, collection: str) -> str:
        """Mostly a member that exists, sometimes a new name or a refused one."""
        members = list(self.stock.get(collection, {}))
        existing = st.sampled_from(members) if members else valid_names
        return data.draw(
            weighted((6, existing), (3, valid_names), (1, bad_url_names)),
            label="member",
        )

    def _known_members(self) -> list[str]:
        return sorted({m for members in self.stock.values() for m in members})

    # Sending and checking -----------------------------------------------------

    def _send(
        self, method: str, path: list[str], body: Body | None, expected: Expected
    ) -> None:
        url = "/stock/" + "/".join(quote(part, safe="") for part in path)
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs = {"data": body.encode(), "content_type": body.content_type}
        response = self.client.open(url, method=method, **kwargs)
        where = f"{method} {url}"
        assert response.status_code == expected.status, (where, response.get_data())
        if expected.status == 204:
            assert response.get_data() == b"", where
        elif expected.status >= 400:
            assert response.content_type == "application/problem+json", where
            assert response.get_json() == expected.body, where
        else:
            assert response.content_type == "application/json", where
            assert response.get_json() == expected.body, where
        location = response.headers.get("Location")
        if expected.location is None:
            assert location is None, where
        else:
            # Percent-encoded ASCII that decodes to the new resource's path.
            assert location is not None and location.isascii(), where
            assert " " not in location and unquote(location) == expected.location
            assert self.client.get(location).status_code == 200, where

    def _check_names(self, **names: str) -> Expected | None:
        errors = {key: why for key, name in names.items() if (why := name_fault(name))}
        return invalid(errors) if errors else None

    def _checked_body(self, body: Body) -> Expected | None:
        """The 415 or 400 for a body that is not JSON-typed or not well-formed JSON."""
        if refused := media_type_refused(body):
            return refused
        if errors := body_fault(body):
            return invalid(errors)
        return None

    # Rules: collections -------------------------------------------------------

    @rule(data=st.data())
    def create_collection(self, data: st.DataObject) -> None:
        name = self._collection(data)
        body = data.draw(stock_bodies(self._known_members(), patch=False))
        expected = self._check_names(collection=name) or self._checked_body(body)
        if expected is None and (errors := stock_body_errors(body, allow_null=False)):
            expected = invalid(errors)
        if expected is None and name in self.stock:
            expected = Expected(
                400,
                problem(
                    400,
                    "Collection already exists",
                    f'A collection named "{name}" already exists; nothing was changed.',
                ),
            )
        if expected is None:
            expected = Expected(
                201, {"message": "Collection created"}, collection_location(name)
            )
        self._send("POST", [name], body, expected)
        if expected.status == 201:
            self.stock[name] = dict(body.pairs or [])

    @rule(data=st.data())
    def replace_collection(self, data: st.DataObject) -> None:
        name = self._collection(data)
        body = data.draw(stock_bodies(self._known_members(), patch=False))
        expected = self._check_names(collection=name) or self._checked_body(body)
        if expected is None and (errors := stock_body_errors(body, allow_null=False)):
            expected = invalid(errors)
        members = dict(body.pairs or [])
        if expected is None and name in self.stock:
            expected = Expected(200, {"message": "Collection replaced"})
        elif expected is None:
            expected = Expected(
                201, {"message": "Collection created"}, collection_location(name)
            )
        self._send("PUT", [name], body, expected)
        if expected.status in (200, 201):
            current = self.stock.get(name, {})
            # Kept members keep their place; new ones follow in body order.
            kept = {m: members[m] for m in current if m in members}
            self.stock[name] = {**kept, **members}

    @rule(data=st.data())
    def update_collection(self, data: st.DataObject) -> None:
        name = self._collection(data)
        body = data.draw(stock_bodies(self._known_members(), patch=True))
        expected = self._check_names(collection=name) or self._checked_body(body)
        if expected is None and (errors := stock_body_errors(body, allow_null=True)):
            expected = invalid(errors)
        if expected is None and name in self.stock:
            expected = Expected(200, {"message": "Collection updated"})
        elif expected is None:
            expected = Expected(
                201, {"message": "Collection created"}, collection_location(name)
            )
        self._send("PATCH", [name], body, expected)
        if expected.status in (200, 201):
            members = self.stock.setdefault(name, {})
            for member, quantity in dict(body.pairs or []).items():
                if quantity is None:
                    members.pop(member, None)
                else:
                    members[member] = quantity

    @rule(data=st.data())
    def delete_collection(self, data: st.DataObject) -> None:
        name = self._collection(data)
        expected = self._check_names(collection=name)
        if expected is None and name not in self.stock:
            expected = Expected(
                404,
                problem(
                    404, "Collection not found", f'There is no collection "{name}".'
                ),
            )
        self._send("DELETE", [name], None, expected or Expected(204))
        if expected is None:
            del self.stock[name]

    @rule(data=st.data())
    def get_collection(self, data: st.DataObject) -> None:
        name = self._collection(data)
        expected = self._check_names(collection=name)
        if expected is None and name not in self.stock:
            expected = Expected(
                404, problem(404, "Not found", f'There is no collection "{name}".')
            )
        self._send("GET", [name], None, expected or Expected(200, self.stock[name]))

    # Rules: members -----------------------------------------------------------

    @rule(data=st.data())
    def put_member(self, data: st.DataObject) -> None:
        collection = self._collection(data)
        member = self._member(data, collection)
        kind = data.draw(st.sampled_from(["valid"] * 4 + ["bad", "bad json", "type"]))
        if kind == "bad json":
            body = data.draw(malformed)
        elif kind == "type":
            body = Body(value=1, content_type=data.draw(not_json_typed))
        else:
            body = Body(
                value=data.draw(quantities if kind == "valid" else bad_quantities)
            )
        expected = self._check_names(collection=collection, member=member)
        expected = expected or self._checked_body(body)
        if expected is None and not is_quantity(body.value):
            expected = invalid({"body": QUANTITY_RULE})
        if expected is None and collection not in self.stock:
            expected = Expected(
                404,
                problem(
                    404,
                    "Collection not found",
                    f'There is no collection "{collection}".',
                ),
            )
        if expected is None and member in self.stock[collection]:
            expected = Expected(200, {"message": "Member replaced"})
        elif expected is None:
            expected = Expected(
                201,
                {"message": "Member created"},
                member_location(collection, member),
            )
        self._send("PUT", [collection, member], body, expected)
        if expected.status in (200, 201):
            self.stock[collection][member] = body.value

    @rule(data=st.data())
    def delete_member(self, data: st.DataObject) -> None:
        collection = self._collection(data)
        member = self._member(data, collection)
        expected = self._check_names(collection=collection, member=member)
        if expected is None and collection not in self.stock:
            expected = Expected(
                404,
                problem(
                    404,
                    "Collection not found",
                    f'There is no collection "{collection}".',
                ),
            )
        if expected is None and member not in self.stock[collection]:
            expected = Expected(
                404,
                problem(
                    404,
                    "Member not found",
                    f'Collection "{collection}" has no member "{member}".',
                ),
            )
        self._send("DELETE", [collection, member], None, expected or Expected(204))
        if expected is None:
            del self.stock[collection][member]

    @rule(data=st.data())
    def get_member(self, data: st.DataObject) -> None:
        collection = self._collection(data)
        member = self._member(data, collection)
        expected = self._check_names(collection=collection, member=member)
        if expected is None and member not in self.stock.get(collection, {}):
            expected = Expected(
                404,
                problem(
                    404,
                    "Not found",
                    f'There is no member "{member}" in collection "{collection}".',
                ),
            )
        quantity = self.stock.get(collection, {}).get(member)
        self._send(
            "GET", [collection, member], None, expected or Expected(200, quantity)
        )

    # Rules: what every route refuses alike ----------------------------------------

    @rule(data=st.data())
    def send_what_routing_and_guards_refuse(self, data: st.DataObject) -> None:
        method = data.draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
        if method != "GET" and data.draw(st.booleans()):
            # Refused from Content-Length alone, whatever the URL.
            body = Body(raw=b"{" + b" " * MAX_BODY + b"}")
            detail = f"The body may be at most {MAX_BODY} bytes."
            expected = Expected(413, problem(413, "Request entity too large", detail))
            self._send(method, [self._collection(data)], body, expected)
            return
        # An empty name leaves a URL that no route takes.
        path = data.draw(
            st.sampled_from([[""], [self._collection(data, bad=False), ""]])
        )
        body = Body(value={}) if method in ("POST", "PUT", "PATCH") else None
        expected = Expected(404, problem(404, "Not found", ROUTE_NOT_FOUND))
        self._send(method, path, body, expected)

    # After every step ---------------------------------------------------------

    @invariant()
    def stock_is_the_model(self) -> None:
        response = self.client.get("/stock")
        assert response.status_code == 200
        assert in_order(response.get_json()) == in_order(self.stock)
        assert in_order(self.read()) == in_order(self.stock)


def in_order(stock: Stock) -> list[tuple[str, list[tuple[str, int]]]]:
    """The stock as nested lists, so that comparing also compares the order."""
    return [(name, list(members.items())) for name, members in stock.items()]


@pytest.mark.slow
def test_random_call_sequences_follow_the_contract(app, client, stored):
    machine = type(
        "Machine",
        (StockMachine,),
        {"app": app, "client": client, "read": staticmethod(stored)},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=150,
            stateful_step_count=40,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
