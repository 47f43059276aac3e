"""Random sequences of API calls, each answer checked against an in-memory model.

The model is the HTTP contract restated: the stock (collections in creation order,
each a dict of member quantities in creation order), the movement log, the ETags
seen, and the idempotency keys used. Every rule sends one request, works out from
the model alone the exact answer the contract promises (status, body, headers),
compares, and updates the model; after every step the whole stock, read through
the API and straight from the tables, must equal the model. A refused request
changes neither.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import pytest
from helpers import invalid_detail, problem_body
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from stockapp.core.extensions import db

MAX_QUANTITY = 2**63 - 1
MAX_BODY = 1024 * 1024
QUANTITY_RULE = f"must be a JSON integer from 0 to {MAX_QUANTITY}"
DELTA_RULE = f"must be a non-zero JSON integer from -{MAX_QUANTITY} to {MAX_QUANTITY}"
NULL_SUFFIX = " (null only in PATCH)"
NOT_AN_OBJECT = "must be a JSON object of member name to quantity"
NOT_AN_ADJUSTMENT = "must be a JSON object with a delta"
NOT_A_FIELD = "is not a field of an adjustment (delta, reason)"
REPEATED = "appears more than once in the body"
BAD_KEY = "must be 1 to 255 visible ASCII characters"
BAD_LIMIT = "must be a whole number from 1 to 500"
BAD_CURSOR = "is not a cursor this API gave out"
EMPTY_IF_MATCH = (
    "is empty: send the ETag you read, or * (an unset shell variable is the usual"
    " cause)"
)
ROUTE_NOT_FOUND = (
    "The requested URL was not found on the server. If you entered the URL"
    " manually please check your spelling and try again."
)
MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")

Stock = dict[str, dict[str, int]]
# A resource's key in the tag maps: (collection,) or (collection, member).
Key = tuple[str, ...]


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
    headers: dict[str, str] = field(default_factory=dict)


def problem(status: int, error: str, detail: str, **extra: Any) -> Expected:
    return Expected(status, problem_body(status, error, detail, **extra))


def invalid(errors: dict[str, str]) -> Expected:
    detail = invalid_detail(errors)
    return problem(400, "Invalid input", detail, errors=errors)


def collection_not_found(collection: str) -> Expected:
    return problem(
        404, "Collection not found", f'There is no collection "{collection}".'
    )


def member_not_found(collection: str, member: str) -> Expected:
    return problem(
        404,
        "Member not found",
        f'Collection "{collection}" has no member "{member}".',
    )


def adjustment_refused(
    collection: str, member: str, delta: int, before: int
) -> Expected:
    """The 409 for an adjustment that would leave 0..MAX_QUANTITY."""
    error, limit = (
        ("Insufficient stock", "below 0")
        if delta < 0
        else ("Quantity limit exceeded", f"above {MAX_QUANTITY}")
    )
    detail = (
        f'Adjusting "{member}" in "{collection}" by {delta} would take its'
        f" quantity {before} {limit}; nothing was changed."
    )
    return problem(409, error, detail, quantity=before)


def name_fault(name: str) -> str | None:
    """Why the contract refuses ``name``, or None."""
    if not 1 <= len(name) <= 100:
        return "must be 1 to 100 characters long"
    if name.isspace():
        return "must not be only whitespace"
    if "/" in name:
        return "must not contain '/'"
    if name in (".", ".."):
        return "must not be . or .. (clients drop such segments from a URL)"
    if any(unicodedata.category(char) == "Cc" for char in name):
        return "must not contain control characters"
    if any(unicodedata.category(char) == "Cs" for char in name):
        return "must be valid Unicode (it contains a lone surrogate)"
    return None


def reason_fault(reason: Any) -> str | None:
    if not isinstance(reason, str):
        return "must be a string"
    if len(reason) > 200:
        return "must be at most 200 characters long"
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in reason):
        return "must be valid Unicode without control characters"
    return None


def is_quantity(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_QUANTITY


def is_delta(value: Any) -> bool:
    return type(value) is int and value != 0 and abs(value) <= MAX_QUANTITY


# Strategies -----------------------------------------------------------------------

NAME_POOL = ["fruit", "veg", "apple", "pear", "red apple", " padded ", "ÉPI", "🍎"]
valid_names = st.one_of(
    st.sampled_from(NAME_POOL),
    st.text(
        st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="/"),
        min_size=1,
        max_size=100,
    ).filter(lambda name: not name.isspace() and name not in (".", "..")),
    st.just("x" * 100),
)
# Refused names that reach the view; "/" and "" would route the URL elsewhere.
bad_url_names = st.one_of(
    st.sampled_from(
        ["x" * 101, " ", " \u3000 ", "a\x00b", "a\nb", "\x7f", "a\x85", ".", ".."]
    ),
    st.text(st.characters(categories=("Cc", "Zs")), min_size=1, max_size=5),
)
bad_body_names = st.one_of(bad_url_names, st.sampled_from(["", "a/b", "a\ud800"]))
quantities = st.one_of(
    st.sampled_from([0, 1, MAX_QUANTITY]),
    st.integers(min_value=0, max_value=MAX_QUANTITY),
    st.integers(min_value=0, max_value=50),
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
deltas = st.one_of(
    st.integers(min_value=-40, max_value=40).filter(bool),
    st.sampled_from([MAX_QUANTITY, -MAX_QUANTITY]),
    st.integers(min_value=-MAX_QUANTITY, max_value=MAX_QUANTITY).filter(bool),
)
bad_deltas = st.sampled_from(
    [0, MAX_QUANTITY + 1, -MAX_QUANTITY - 1, 1.0, -2.0, True, "1", None, [1]]
)
reasons = st.one_of(
    st.none(),
    st.sampled_from(["sold", "order 1042", ""]),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=200),
)
bad_reasons = st.sampled_from([5, True, ["sold"], "x" * 201, "a\nb", "\x00", "a\ud800"])
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
# A few keys, so that requests reuse them; and keys the contract refuses.
idempotency_keys = st.sampled_from(["k1", "k2", "~" * 255])
bad_idempotency_keys = st.sampled_from(["", " k", "k 1", "é", "x" * 256, "k\x7f"])
bad_limits = st.sampled_from(["0", "501", "050", "+5", "-1", "5.0", "", "five"])
bad_cursors = st.sampled_from(["", "zz", "YmVmb3JlOg", "before:5", "YWZ0ZXI6NQ"])


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Draw from one of the strategies, each as often as its weight says."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


def insert_faults(
    draw: st.DrawFn, pairs: list[tuple[str, Any]], faults: st.SearchStrategy[Any]
) -> None:
    for fault in draw(st.lists(faults, min_size=1, max_size=3)):
        pairs.insert(draw(st.integers(0, len(pairs))), fault)


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
        insert_faults(draw, pairs, faults)
    media = ["application/json", "application/merge-patch+json"] if patch else None
    content_type = draw(st.sampled_from(media)) if media else "application/json"
    if kind == "type":
        content_type = draw(not_json_typed)
    return Body(pairs=pairs, content_type=content_type)


@st.composite
def adjustment_bodies(draw: st.DrawFn) -> Body:
    kind = draw(
        st.sampled_from(["valid"] * 6 + ["faulty", "not object", "bad json", "type"])
    )
    if kind == "not object":
        return Body(value=draw(not_objects))
    if kind == "bad json":
        return draw(malformed)
    pairs: list[tuple[str, Any]] = [("delta", draw(deltas))]
    if draw(st.booleans()):
        pairs.insert(draw(st.integers(0, 1)), ("reason", draw(reasons)))
    if kind == "faulty":
        if draw(st.booleans()):
            pairs = [pair for pair in pairs if pair[0] != "delta"]
        faults = st.one_of(
            st.tuples(st.just("delta"), st.one_of(deltas, bad_deltas)),
            st.tuples(st.just("reason"), st.one_of(reasons, bad_reasons)),
            st.tuples(st.sampled_from(["qty", "Delta", "x"]), deltas),
        )
        insert_faults(draw, pairs, faults)
    content_type = draw(not_json_typed) if kind == "type" else "application/json"
    return Body(pairs=pairs, content_type=content_type)


# The contract, restated -------------------------------------------------------------


def body_refused(body: Body) -> Expected | None:
    """The 415 or 400 for a body not declared JSON or not well-formed JSON."""
    mimetype = body.content_type
    if not (
        mimetype == "application/json"
        or (mimetype.startswith("application/") and mimetype.endswith("+json"))
    ):
        return problem(
            415,
            "Unsupported media type",
            "The body must be JSON, sent with Content-Type: application/json.",
        )
    if body.malformed is not None:
        return invalid({"body": body.malformed})
    return None


def repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, str]:
    """Each key the body names more than once, in body order."""
    keys = [key for key, _ in pairs]
    return {key: REPEATED for key in dict(pairs) if keys.count(key) > 1}


def stock_body_errors(body: Body, *, allow_null: bool) -> dict[str, str]:
    """The ``errors`` the contract reports for a collection body (empty if valid)."""
    if body.pairs is None:
        return {"body": NOT_AN_OBJECT}
    errors = repeated_keys(body.pairs)
    # Later values of a repeated key win, at the place where it first appeared.
    for key, value in dict(body.pairs).items():
        if key in errors:
            continue
        if why := name_fault(key):
            errors[key] = f"is not a valid member name: it {why}"
        elif value is None and allow_null:
            continue
        elif not is_quantity(value):
            errors[key] = QUANTITY_RULE + ("" if value is not None else NULL_SUFFIX)
    return errors


def adjustment_errors(body: Body) -> dict[str, str]:
    if body.pairs is None:
        return {"body": NOT_AN_ADJUSTMENT}
    errors = repeated_keys(body.pairs)
    values = dict(body.pairs)
    for key in values:
        if key not in ("delta", "reason"):
            errors.setdefault(key, NOT_A_FIELD)
    if "delta" not in values:
        errors["delta"] = "is required"
    elif not is_delta(values["delta"]):
        errors.setdefault("delta", DELTA_RULE)
    reason = values.get("reason")
    if reason is not None and (why := reason_fault(reason)):
        errors.setdefault("reason", why)
    return errors


def precondition_fails(
    condition: tuple[str, str] | None, current: str | None
) -> Expected | None:
    """The 412 when ``condition`` does not hold for a resource tagged ``current``."""
    if condition is None:
        return None
    header, value = condition
    if header == "If-Match":
        holds = current is not None and value in ("*", current)
    else:
        holds = current is None or value not in ("*", current)
    if holds:
        return None
    state = "does not exist" if current is None else f"has ETag {current}"
    return problem(
        412,
        "Precondition failed",
        f"{header} does not hold: the resource {state}; nothing was changed.",
    )


def in_order(stock: Stock) -> list[tuple[str, list[tuple[str, int]]]]:
    """The stock as nested lists, so that comparing also compares the order."""
    return [(name, list(members.items())) for name, members in stock.items()]


# A batch's operations (POST /batch), each as its single route.
MEMBER_OPS = ("adjust", "put_member", "delete_member", "reorder_level")
BATCH_OPS = (*MEMBER_OPS, "put", "patch", "delete")
# A refusal that names a tag the model cannot know: one an earlier operation
# of the same batch gave.
SOME_TAG = re.compile(
    r'If-Match does not hold: the resource has ETag "[\x21\x23-\x7e]*"; nothing'
    r" was changed\."
)


@dataclass
class BatchOp:
    """One operation of a batch, as drawn."""

    op: str
    collection: str
    member: str | None
    body: Body | None
    if_match: str | None

    @property
    def key(self) -> Key:
        """The resource its ``if_match`` is about (what it writes)."""
        if self.member is None:
            return (self.collection,)
        return (self.collection, self.member)

    def text(self) -> str:
        """The operation as JSON text (its body as the single route's would be)."""
        parts = [f'"op": "{self.op}"', f'"collection": {_json(self.collection)}']
        if self.member is not None:
            parts.append(f'"member": {_json(self.member)}')
        if self.body is not None:
            parts.append(f'"body": {self.body.encode().decode()}')
        if self.if_match is not None:
            parts.append(f'"if_match": {_json(self.if_match)}')
        return "{" + ", ".join(parts) + "}"


def embeddable(body: Body) -> bool:
    """Whether ``body`` is a JSON value a batch can carry as an operation's body
    (what is not well-formed JSON, or not sent as JSON, is the request's fault)."""
    return body.raw is None and body.content_type.endswith("json")


@dataclass
class Stored:
    """What an idempotency key holds: the request it was used for, its answer."""

    fingerprint: tuple[str, str, bytes]
    expected: Expected


class StockMachine(RuleBasedStateMachine):
    """Drives the app; subclasses set ``app``, its ``client`` and ``read`` (stored)."""

    app: Any
    client: Any
    read: Any
    # The user whose token every call carries; each movement must name them.
    user: str

    def __init__(self) -> None:
        super().__init__()
        with self.app.app_context():
            for table in ("members", "collections", "movements", "idempotency_keys"):
                db.session.execute(text(f"DELETE FROM {table}"))
            db.session.commit()
        self.stock: Stock = {}
        # (collection, member, kind, before, after, reason), oldest first.
        self.log: list[tuple[str, str, str, int | None, int | None, str | None]] = []
        # The current ETag of each resource, if seen since it last changed.
        self.tags: dict[Key, str | None] = {}
        # Tags each resource had before; it must never show them again.
        self.stale: dict[Key, set[str]] = {}
        # Each member's reorder level, when one was set (by a batch).
        self.levels: dict[Key, int | None] = {}
        self.keys: dict[str, Stored] = {}
        self.last_keyed: tuple[str, list[str], Body, str] | None = None

    # Drawing ------------------------------------------------------------------

    def _collection(
        self, data: st.DataObject, *, bad: bool = True, stocked: bool = False
    ) -> str:
        """Mostly a collection that exists, sometimes a new name or a refused one.

        ``stocked`` prefers collections with members, for the member routes.
        """
        names = [c for c in self.stock if self.stock[c] or not stocked]
        existing = st.sampled_from(names or list(self.stock) or NAME_POOL)
        return data.draw(
            weighted((6, existing), (3, valid_names), (1 if bad else 0, bad_url_names)),
            label="collection",
        )

    def _member(self, data: st.DataObject, collection: str, *, bad: bool = True) -> str:
        """Mostly a member that exists, sometimes a new name or a refused one."""
        members = list(self.stock.get(collection, {}))
        existing = st.sampled_from(members) if members else valid_names
        return data.draw(
            weighted((6, existing), (3, valid_names), (1 if bad else 0, bad_url_names)),
            label="member",
        )

    def _known_members(self) -> list[str]:
        return sorted({m for members in self.stock.values() for m in members})

    def _key(self, data: st.DataObject) -> str | None:
        return data.draw(
            weighted((4, st.none()), (2, idempotency_keys), (1, bad_idempotency_keys)),
            label="Idempotency-Key",
        )

    def _condition(self, data: st.DataObject, key: Key) -> tuple[str, str] | None:
        """Maybe an If-Match or If-None-Match header, with a tag the model knows."""
        current = self._current_tag(key)
        options: list[tuple[str, str] | None] = [None] * 4
        options += [("If-Match", "*"), ("If-None-Match", "*")]
        if current is not None:
            options += [("If-Match", current)] * 2 + [("If-None-Match", current)]
        if self.stale.get(key):
            options.append(("If-Match", sorted(self.stale[key])[0]))
        return data.draw(st.sampled_from(options), label="condition")

    # The ETag model -------------------------------------------------------------

    def _current_tag(self, key: Key) -> str | None:
        """The resource's tag, read through the API if not seen since it changed."""
        if not self._exists(key):
            return None
        if self.tags.get(key) is None:
            path = list(key)
            expected = (
                self.stock[key[0]] if len(key) == 1 else self.stock[key[0]][key[1]]
            )
            response = self._send("GET", path, None, Expected(200, expected))
            self._saw_tag(key, response.headers.get("ETag"))
        return self.tags[key]

    def _exists(self, key: Key) -> bool:
        if len(key) == 1:
            return key[0] in self.stock
        return key[1] in self.stock.get(key[0], {})

    def _saw_tag(self, key: Key, tag: str | None) -> None:
        """``tag`` is the resource's current one: check it against the model."""
        assert tag is not None and re.fullmatch(r'"[\x21\x23-\x7e]*"', tag), tag
        if self.tags.get(key) is not None:
            assert tag == self.tags[key], (key, "ETag changed with no change")
        assert tag not in self.stale.get(key, set()), (key, "ETag came back")
        self.tags[key] = tag

    def _changed(self, key: Key) -> None:
        """The resource changed (or went): its tag, if known, is now stale."""
        if (tag := self.tags.pop(key, None)) is not None:
            self.stale.setdefault(key, set()).add(tag)

    def _write(
        self, collection: str, changes: dict[str, int | None], kind: str
    ) -> bool:
        """Apply ``changes`` (None deletes) to the model and log them, as the app does.

        Returns whether anything changed.
        """
        members = self.stock[collection]
        changed = False
        for member, quantity in changes.items():
            before = members.get(member)
            if before == quantity or (before is None and quantity is None):
                continue
            self.log.append((collection, member, kind, before, quantity, None))
            self._changed((collection, member))
            if quantity is None:
                del members[member]
                # A member made again has no level.
                self.levels.pop((collection, member), None)
            else:
                members[member] = quantity
            changed = True
        if changed:
            self._changed((collection,))
        return changed

    # Sending and checking -----------------------------------------------------

    def _send(
        self,
        method: str,
        path: list[str],
        body: Body | None,
        expected: Expected,
        headers: dict[str, str] | None = None,
        query: str = "",
    ) -> Any:
        url = "/stock/" + "/".join(quote(part, safe="") for part in path) + query
        kwargs: dict[str, Any] = {"headers": headers or {}}
        if body is not None:
            kwargs |= {"data": body.encode(), "content_type": body.content_type}
        response = self.client.open(url, method=method, **kwargs)
        where = f"{method} {url} {headers or ''}"
        assert response.status_code == expected.status, (where, response.get_data())
        if expected.status in (204, 304):
            assert response.get_data() == b"", where
        elif expected.status >= 400:
            assert response.content_type == "application/problem+json", where
            assert response.get_json() == expected.body, where
        else:
            assert response.content_type == "application/json", where
            assert response.get_json() == expected.body, where
        for name, value in expected.headers.items():
            assert response.headers.get(name) == value, (where, name)
        if "Idempotent-Replayed" not in expected.headers:
            assert "Idempotent-Replayed" not in response.headers, where
        location = response.headers.get("Location")
        if expected.location is None:
            assert location is None, where
        else:
            # Percent-encoded ASCII that decodes to the new resource's path.
            assert location is not None and location.isascii(), where
            assert " " not in location and unquote(location) == expected.location
        return response

    def _check_names(self, **names: str) -> Expected | None:
        errors = {key: why for key, name in names.items() if (why := name_fault(name))}
        return invalid(errors) if errors else None

    def _keyed(
        self,
        method: str,
        path: list[str],
        body: Body,
        key: str | None,
        view: Any,
    ) -> None:
        """Send a POST that takes an Idempotency-Key, as the contract handles it.

        ``view()`` works out the answer as if no key were sent: the expected
        answer, the other request headers to send, and for a success a callback
        that applies the change to the model and returns the response headers a
        replay must repeat.
        """
        headers = {} if key is None else {"Idempotency-Key": key}
        fingerprint = (method, "/stock/" + "/".join(path), body.encode())
        if key is not None and not re.fullmatch(r"[\x21-\x7e]{1,255}", key):
            self._send(
                method, path, body, invalid({"Idempotency-Key": BAD_KEY}), headers
            )
            return
        stored = self.keys.get(key) if key is not None else None
        if stored is not None:
            if stored.fingerprint == fingerprint:
                replay = Expected(
                    stored.expected.status,
                    stored.expected.body,
                    stored.expected.location,
                    {**stored.expected.headers, "Idempotent-Replayed": "true"},
                )
                self._send(method, path, body, replay, headers)
            else:
                self._send(
                    method,
                    path,
                    body,
                    problem(
                        422,
                        "Idempotency key reused",
                        f'Idempotency-Key "{key}" was used for a different request;'
                        " nothing was changed.",
                    ),
                    headers,
                )
            return
        expected, apply, other_headers = view()
        response = self._send(
            method, path, body, expected, {**headers, **other_headers}
        )
        if expected.status < 300:
            expected.headers = apply(response)
            if key is not None:
                self.keys[key] = Stored(fingerprint, expected)
                self.last_keyed = (method, path, body, key)

    # Rules: collections -------------------------------------------------------

    @rule(data=st.data())
    def create_collection(self, data: st.DataObject) -> None:
        name = self._collection(data)
        body = data.draw(stock_bodies(self._known_members(), patch=False))

        def view() -> tuple[Expected, Any]:
            expected = self._check_names(collection=name) or body_refused(body)
            if expected is None and (
                errors := stock_body_errors(body, allow_null=False)
            ):
                expected = invalid(errors)
            if expected is None and name in self.stock:
                expected = problem(
                    400,
                    "Collection already exists",
                    f'A collection named "{name}" already exists; nothing was changed.',
                )
            if expected is not None:
                return expected, None, {}

            def apply(response: Any) -> dict[str, str]:
                self.stock[name] = {}
                self._changed((name,))
                self._write(name, dict(body.pairs or []), "create")
                tag = response.headers.get("ETag")
                self._saw_tag((name,), tag)
                return {"Location": response.headers["Location"], "ETag": tag}

            created = {"message": "Collection created"}
            return Expected(201, created, f"/stock/{name}"), apply, {}

        self._keyed("POST", [name], body, self._key(data), view)

    def _upsert_collection(self, data: st.DataObject, method: str) -> None:
        patch = method == "PATCH"
        name = self._collection(data)
        body = data.draw(stock_bodies(self._known_members(), patch=patch))
        expected = self._check_names(collection=name) or body_refused(body)
        if expected is None and (errors := stock_body_errors(body, allow_null=patch)):
            expected = invalid(errors)
        condition = None
        if expected is None:
            condition = self._condition(data, (name,))
            expected = precondition_fails(condition, self._current_tag((name,)))
        created = name not in self.stock
        if expected is None and created:
            expected = Expected(
                201, {"message": "Collection created"}, f"/stock/{name}"
            )
        elif expected is None:
            message = "Collection updated" if patch else "Collection replaced"
            expected = Expected(200, {"message": message})
        headers = dict([condition]) if condition else {}
        response = self._send(method, [name], body, expected, headers)
        if expected.status >= 300:
            return
        if created:
            self.stock[name] = {}
            self._changed((name,))
        members = dict(body.pairs or [])
        if patch:
            changes = members
        else:
            gone = {
                member: None for member in self.stock[name] if member not in members
            }
            changes = {**gone, **members}
        self._write(name, changes, "update" if patch else "replace")
        self._saw_tag((name,), response.headers.get("ETag"))

    @rule(data=st.data())
    def replace_collection(self, data: st.DataObject) -> None:
        self._upsert_collection(data, "PUT")

    @rule(data=st.data())
    def update_collection(self, data: st.DataObject) -> None:
        self._upsert_collection(data, "PATCH")

    @rule(data=st.data())
    def delete_collection(self, data: st.DataObject) -> None:
        name = self._collection(data)
        expected = self._check_names(collection=name)
        if expected is None and name not in self.stock:
            expected = collection_not_found(name)
        condition = None
        if expected is None:
            condition = self._condition(data, (name,))
            expected = precondition_fails(condition, self._current_tag((name,)))
        headers = dict([condition]) if condition else {}
        self._send("DELETE", [name], None, expected or Expected(204), headers)
        if expected is None:
            self._write(name, dict.fromkeys(self.stock[name]), "delete")
            del self.stock[name]
            self._changed((name,))

    @rule(data=st.data())
    def get_collection(self, data: st.DataObject) -> None:
        name = self._collection(data)
        expected = self._check_names(collection=name)
        if expected is None and name not in self.stock:
            expected = problem(404, "Not found", f'There is no collection "{name}".')
        if expected is not None:
            self._send("GET", [name], None, expected)
            return
        self._get_tagged(data, (name,), self.stock[name])

    def _get_tagged(self, data: st.DataObject, key: Key, body: Any) -> None:
        """GET a collection or member that exists, maybe with If-None-Match."""
        current = self.tags.get(key)
        options = [None, '"0"', "*"] + ([current] * 2 if current else [])
        if_none_match = data.draw(st.sampled_from(options), label="If-None-Match")
        headers = {"If-None-Match": if_none_match} if if_none_match else {}
        if if_none_match == "*" or (if_none_match and if_none_match == current):
            expected = Expected(304)
        else:
            expected = Expected(200, body)
        response = self._send("GET", list(key), None, expected, headers)
        self._saw_tag(key, response.headers.get("ETag"))

    # Rules: members -----------------------------------------------------------

    @rule(data=st.data())
    def put_member(self, data: st.DataObject) -> None:
        collection = self._collection(data, stocked=True)
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
        expected = expected or body_refused(body)
        if expected is None and not is_quantity(body.value):
            expected = invalid({"body": QUANTITY_RULE})
        if expected is None and collection not in self.stock:
            expected = collection_not_found(collection)
        condition = None
        key = (collection, member)
        if expected is None:
            condition = self._condition(data, key)
            expected = precondition_fails(condition, self._current_tag(key))
        created = member not in self.stock.get(collection, {})
        if expected is None and created:
            location = f"/stock/{collection}/{member}"
            expected = Expected(201, {"message": "Member created"}, location)
        elif expected is None:
            expected = Expected(200, {"message": "Member replaced"})
        headers = dict([condition]) if condition else {}
        response = self._send("PUT", [collection, member], body, expected, headers)
        if expected.status < 300:
            self._write(collection, {member: body.value}, "replace")
            self._saw_tag(key, response.headers.get("ETag"))

    @rule(data=st.data())
    def delete_member(self, data: st.DataObject) -> None:
        collection = self._collection(data, stocked=True)
        member = self._member(data, collection)
        key = (collection, member)
        expected = self._check_names(collection=collection, member=member)
        if expected is None and collection not in self.stock:
            expected = collection_not_found(collection)
        if expected is None and member not in self.stock[collection]:
            expected = member_not_found(collection, member)
        condition = None
        if expected is None:
            condition = self._condition(data, key)
            expected = precondition_fails(condition, self._current_tag(key))
        headers = dict([condition]) if condition else {}
        path = [collection, member]
        self._send("DELETE", path, None, expected or Expected(204), headers)
        if expected is None:
            self._write(collection, {member: None}, "delete")

    @rule(data=st.data())
    def get_member(self, data: st.DataObject) -> None:
        collection = self._collection(data, stocked=True)
        member = self._member(data, collection)
        expected = self._check_names(collection=collection, member=member)
        if expected is None and member not in self.stock.get(collection, {}):
            expected = problem(
                404,
                "Not found",
                f'There is no member "{member}" in collection "{collection}".',
            )
        if expected is not None:
            self._send("GET", [collection, member], None, expected)
            return
        self._get_tagged(data, (collection, member), self.stock[collection][member])

    # Rules: inventory moves -----------------------------------------------------

    @rule(data=st.data())
    def adjust_member(self, data: st.DataObject) -> None:
        collection = self._collection(data, stocked=True)
        member = self._member(data, collection)
        body = data.draw(adjustment_bodies())
        key = (collection, member)

        def view() -> tuple[Expected, Any, dict[str, str]]:
            expected = self._check_names(collection=collection, member=member)
            expected = expected or body_refused(body)
            if expected is None and (errors := adjustment_errors(body)):
                expected = invalid(errors)
            if expected is None and collection not in self.stock:
                expected = collection_not_found(collection)
            if expected is None and member not in self.stock[collection]:
                expected = member_not_found(collection, member)
            condition = None
            if expected is None:
                condition = self._condition(data, key)
                expected = precondition_fails(condition, self._current_tag(key))
            headers = dict([condition]) if condition else {}
            if expected is not None:
                return expected, None, headers
            values = dict(body.pairs or [])
            delta, reason = values["delta"], values.get("reason")
            before = self.stock[collection][member]
            if not 0 <= before + delta <= MAX_QUANTITY:
                refused = adjustment_refused(collection, member, delta, before)
                return refused, None, headers

            def apply(response: Any) -> dict[str, str]:
                self.stock[collection][member] = before + delta
                self.log.append(
                    (collection, member, "adjust", before, before + delta, reason)
                )
                self._changed(key)
                self._changed((collection,))
                self._saw_tag(key, response.headers.get("ETag"))
                return {"ETag": response.headers["ETag"]}

            return Expected(200, {"quantity": before + delta}), apply, headers

        path = [collection, member, "adjustments"]
        self._keyed("POST", path, body, self._key(data), view)

    @rule()
    def retry_the_last_keyed_request(self) -> None:
        """The same POST with the same key and body: the first answer, replayed."""
        if self.last_keyed is None:
            return
        method, path, body, key = self.last_keyed
        stored = self.keys[key]
        replay = Expected(
            stored.expected.status,
            stored.expected.body,
            stored.expected.location,
            {**stored.expected.headers, "Idempotent-Replayed": "true"},
        )
        self._send(method, path, body, replay, {"Idempotency-Key": key})

    @rule(data=st.data())
    def read_history(self, data: st.DataObject) -> None:
        collection = self._collection(data)
        member = self._member(data, collection) if data.draw(st.booleans()) else None
        path = [collection] + ([member] if member is not None else []) + ["history"]
        limit = data.draw(
            weighted((3, st.none()), (4, st.integers(1, 4).map(str)), (1, bad_limits)),
            label="limit",
        )
        cursor = data.draw(weighted((9, st.none()), (1, bad_cursors)), label="cursor")
        names = {"collection": collection}
        if member is not None:
            names["member"] = member
        expected = self._check_names(**names)
        if expected is None:
            errors = {}
            if limit is not None and not (
                limit.isdigit() and str(int(limit)) == limit and 1 <= int(limit) <= 500
            ):
                errors["limit"] = BAD_LIMIT
            if cursor is not None:
                errors["cursor"] = BAD_CURSOR
            expected = invalid(errors) if errors else None
        params = {"limit": limit, "cursor": cursor}
        query = "&".join(
            f"{k}={quote(v, safe='')}" for k, v in params.items() if v is not None
        )
        query = f"?{query}" if query else ""
        if expected is not None:
            self._send("GET", path, None, expected, query=query)
            return
        wanted = [
            entry
            for entry in reversed(self.log)
            if entry[0] == collection and (member is None or entry[1] == member)
        ]
        page_size = int(limit) if limit is not None else 50
        seen: list[dict[str, Any]] = []
        url = "/stock/" + "/".join(quote(part, safe="") for part in path) + query
        while True:
            response = self.client.get(url)
            assert response.status_code == 200, (url, response.get_data())
            page = response.get_json()["movements"]
            start = len(seen)
            assert len(page) == min(page_size, len(wanted) - start), url
            seen += page
            link = response.headers.get("Link")
            if len(seen) == len(wanted):
                assert link is None, url
                break
            match = re.fullmatch(r'<([^>]+)>; rel="next"', link or "")
            assert match, (url, link)
            url = match[1]
        got = [
            (
                m["collection"],
                m["member"],
                m["kind"],
                m["before"],
                m["after"],
                m["reason"],
            )
            for m in seen
        ]
        assert got == wanted, url
        assert {m["by"] for m in seen} <= {self.user}, url
        ids = [m["id"] for m in seen]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
        moments = [m["at"] for m in seen]
        assert all(MOMENT.fullmatch(at) for at in moments)
        assert moments == sorted(moments, reverse=True)

    # Rules: batches ---------------------------------------------------------------

    @rule(data=st.data())
    def send_batch(self, data: st.DataObject) -> None:
        """A few operations drawn as the single routes' rules draw them, in one
        POST /batch: each answered as its route would be, in order, or the first
        refused one's problem with its index, and nothing stored."""
        count = data.draw(st.integers(1, 4), label="operations")
        # Mostly operations their routes would read without fault, so that
        # batches run (and are refused for what is stored) as often as not.
        clean = data.draw(st.sampled_from([True, True, True, False]), label="clean")
        operations = [self._batch_operation(data, clean=clean) for _ in range(count)]
        text = '{"operations": [' + ", ".join(op.text() for op in operations) + "]}"
        saved = self._model_state()
        refused = self._batch_refused_when_read(operations)
        results: list[tuple[int, Any, Key | None]] = []
        if refused is None:
            refused, results = self._run_batch_on_model(operations)
        # The model is changed only by what the answer shows was stored.
        self._restore_model(saved)
        response = self.client.post(
            "/batch", data=text.encode(), content_type="application/json"
        )
        where = f"POST /batch {text[:2000]}"
        got = response.get_json()
        if refused is not None:
            assert response.status_code == refused.status, (where, got)
            assert response.content_type == "application/problem+json", where
            expected = dict(refused.body)
            if isinstance(expected["detail"], re.Pattern):
                assert expected.pop("detail").fullmatch(got.pop("detail")), where
            assert got == expected, where
            return
        assert response.status_code == 200, (where, got)
        assert response.content_type == "application/json", where
        assert list(got) == ["batch", "results"], where
        assert re.fullmatch(r"[0-9a-f-]{36}", got["batch"]), where
        answers = got["results"]
        assert [(a["status"], a["body"]) for a in answers] == [
            (status, body) for status, body, _ in results
        ], where
        assert ["etag" in a for a in answers] == [
            key is not None for _, _, key in results
        ], where
        # Stored: the model runs the batch again, now checking each ETag.
        again, _ = self._run_batch_on_model(
            operations, [a.get("etag") for a in answers]
        )
        assert again is None

    def _batch_operation(self, data: st.DataObject, *, clean: bool) -> BatchOp:
        """An operation drawn as its single route's rule draws its request;
        ``clean``: one its route would read without fault (it may still be
        refused for what is stored)."""
        op = data.draw(st.sampled_from(BATCH_OPS), label="op")
        member_op = op in MEMBER_OPS
        if clean and self.stock and op not in ("put", "patch"):
            # What must exist mostly does: only put and patch make a collection.
            existing = st.sampled_from(list(self.stock))
            collection = data.draw(
                weighted((9, existing), (1, valid_names)), label="collection"
            )
        else:
            collection = self._collection(data, bad=not clean, stocked=member_op)
        member = self._member(data, collection, bad=not clean) if member_op else None
        body = None
        if op == "adjust":
            bodies = adjustment_bodies().filter(embeddable)
            if clean:
                bodies = bodies.filter(lambda body: not adjustment_errors(body))
            body = data.draw(bodies)
        elif op in ("put", "patch"):
            patch = op == "patch"
            bodies = stock_bodies(self._known_members(), patch=patch)
            bodies = bodies.filter(embeddable)
            if clean:
                bodies = bodies.filter(
                    lambda body: not stock_body_errors(body, allow_null=patch)
                )
            body = data.draw(bodies)
        elif op in ("put_member", "reorder_level"):
            values = [(4, quantities), (0 if clean else 1, bad_quantities)]
            if op == "reorder_level":
                values.append((1, st.none()))
            body = Body(value=data.draw(weighted(*values), label="body"))
        operation = BatchOp(op, collection, member, body, None)
        key = operation.key
        options: list[str | None] = [None] * 6 + ["*"] + ([] if clean else [""])
        if not any(name_fault(name) for name in key):
            if current := self._current_tag(key):
                options += [current] * 2
            if self.stale.get(key):
                options.append(sorted(self.stale[key])[0])
        operation.if_match = data.draw(st.sampled_from(options), label="if_match")
        return operation

    def _batch_refused_when_read(self, operations: list[BatchOp]) -> Expected | None:
        """The first operation whose names, body or if_match its route would
        refuse (400, with its index): all are read before any runs."""
        for index, operation in enumerate(operations):
            names = {"collection": operation.collection}
            if operation.member is not None:
                names["member"] = operation.member
            errors = {key: why for key, n in names.items() if (why := name_fault(n))}
            body = operation.body
            if not errors and body is not None:
                if operation.op == "adjust":
                    errors = adjustment_errors(body)
                elif operation.op in ("put", "patch"):
                    errors = stock_body_errors(body, allow_null=operation.op == "patch")
                elif not (
                    is_quantity(body.value)
                    or (operation.op == "reorder_level" and body.value is None)
                ):
                    errors = {"body": QUANTITY_RULE}
            if not errors and operation.if_match == "":
                errors = {"If-Match": EMPTY_IF_MATCH}
            if errors:
                detail = invalid_detail(errors)
                return problem(400, "Invalid input", detail, errors=errors, index=index)
        return None

    def _model_state(self) -> tuple[Any, ...]:
        """A copy of the model, to run a batch on and then put back."""
        return (
            {name: dict(members) for name, members in self.stock.items()},
            list(self.log),
            dict(self.tags),
            {key: set(tags) for key, tags in self.stale.items()},
            dict(self.levels),
        )

    def _restore_model(self, state: tuple[Any, ...]) -> None:
        self.stock, self.log, self.tags, self.stale, self.levels = state

    def _run_batch_on_model(
        self, operations: list[BatchOp], etags: list[str | None] | None = None
    ) -> tuple[Expected | None, list[tuple[int, Any, Key | None]]]:
        """Run the operations on the model in order, as the single routes would
        change it: each one's (status, body, the key its ETag is of), or the
        first refusal with its index. With ``etags``, the batch was stored:
        each ETag it answered is checked as a single route's would be."""
        results = []
        for index, operation in enumerate(operations):
            refused, result = self._batch_step(operation)
            if refused is not None:
                refused.body["index"] = index
                return refused, results
            assert result is not None
            results.append(result)
            key = result[2]
            if etags is not None and key is not None:
                self._saw_tag(key, etags[index])
        return None, results

    def _batch_step(
        self, operation: BatchOp
    ) -> tuple[Expected | None, tuple[int, Any, Key | None] | None]:
        op, collection, member = operation.op, operation.collection, operation.member
        key = operation.key
        if op != "put" and op != "patch" and collection not in self.stock:
            return collection_not_found(collection), None
        if op in ("adjust", "delete_member", "reorder_level") and (
            member not in self.stock[collection]
        ):
            return member_not_found(collection, member), None
        if operation.if_match is not None:
            exists = self._exists(key)
            current = self.tags.get(key) if exists else None
            if not exists or operation.if_match not in ("*", current):
                if exists and current is None:
                    # Its tag is one an earlier operation of the batch gave.
                    refused = problem(412, "Precondition failed", "")
                    refused.body["detail"] = SOME_TAG
                    return refused, None
                condition = ("If-Match", operation.if_match)
                return precondition_fails(condition, current), None
        body = operation.body
        if op == "adjust":
            assert body is not None
            values = dict(body.pairs or [])
            delta, reason = values["delta"], values.get("reason")
            before = self.stock[collection][member]
            if not 0 <= before + delta <= MAX_QUANTITY:
                return adjustment_refused(collection, member, delta, before), None
            self.stock[collection][member] = before + delta
            self.log.append(
                (collection, member, "adjust", before, before + delta, reason)
            )
            self._changed(key)
            self._changed((collection,))
            return None, (200, {"quantity": before + delta}, key)
        if op == "put_member":
            assert body is not None
            created = member not in self.stock[collection]
            self._write(collection, {member: body.value}, "replace")
            if created:
                return None, (201, {"message": "Member created"}, key)
            return None, (200, {"message": "Member replaced"}, key)
        if op == "delete_member":
            self._write(collection, {member: None}, "delete")
            return None, (204, None, None)
        if op == "reorder_level":
            assert body is not None
            # A level is part of the member: its ETag changes with it, and a
            # change is logged (kind "level", the quantity untouched).
            if self.levels.get(key) != body.value:
                self._changed(key)
                quantity = self.stock[collection][member]
                self.log.append((collection, member, "level", quantity, quantity, None))
            self.levels[key] = body.value
            message = (
                "Reorder level cleared" if body.value is None else "Reorder level set"
            )
            return None, (200, {"message": message}, key)
        if op == "delete":
            self._write(collection, dict.fromkeys(self.stock[collection]), "delete")
            del self.stock[collection]
            self._changed(key)
            return None, (204, None, None)
        assert body is not None
        created = collection not in self.stock
        if created:
            self.stock[collection] = {}
            self._changed(key)
        members = dict(body.pairs or [])
        if op == "patch":
            changes = members
        else:
            gone = {m: None for m in self.stock[collection] if m not in members}
            changes = {**gone, **members}
        self._write(collection, changes, "update" if op == "patch" else "replace")
        if created:
            return None, (201, {"message": "Collection created"}, key)
        message = "Collection updated" if op == "patch" else "Collection replaced"
        return None, (200, {"message": message}, key)

    # Rules: what every route refuses alike ----------------------------------------

    @rule(data=st.data())
    def send_what_routing_and_guards_refuse(self, data: st.DataObject) -> None:
        method = data.draw(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]))
        if method != "GET" and data.draw(st.booleans()):
            # Refused from Content-Length alone, whatever the URL.
            body = Body(raw=b"{" + b" " * MAX_BODY + b"}")
            detail = f"The body may be at most {MAX_BODY} bytes."
            expected = problem(413, "Request entity too large", detail)
            self._send(method, [self._collection(data)], body, expected)
            return
        # An empty name leaves a URL that no route takes.
        path = data.draw(
            st.sampled_from([[""], [self._collection(data, bad=False), ""]])
        )
        body = Body(value={}) if method in ("POST", "PUT", "PATCH") else None
        self._send(method, path, body, problem(404, "Not found", ROUTE_NOT_FOUND))

    # After every step ---------------------------------------------------------

    @invariant()
    def stock_is_the_model(self) -> None:
        response = self.client.get("/stock")
        assert response.status_code == 200, response.get_json()
        assert in_order(response.get_json()) == in_order(self.stock)
        assert in_order(self.read()) == in_order(self.stock)


@pytest.mark.slow
def test_random_call_sequences_follow_the_contract(
    make_app, make_user, make_token, stored
):
    # A server that lets nobody in without a token, driven with a clerk's.
    app = make_app(ANONYMOUS_ACCESS="none")
    make_user("clerk", "clerk")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token('clerk', 'write')}"
    machine = type(
        "Machine",
        (StockMachine,),
        {
            "app": app,
            "client": client,
            "read": staticmethod(stored),
            "user": "clerk",
        },
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=300,
            stateful_step_count=40,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
