"""Bad input: a 400 (or 413/415) problem that says what is wrong, and nothing stored."""

import json
from urllib.parse import quote

import pytest
from helpers import invalid_detail

QUANTITY_RULE = "must be a JSON integer from 0 to 9223372036854775807"
BEFORE = {"fruit": {"apple": 30}}

DOTS = "must not be . or .. (clients drop such segments from a URL)"
BAD_NAMES = [
    pytest.param("", "must be 1 to 100 characters long", id="empty"),
    pytest.param("x" * 101, "must be 1 to 100 characters long", id="101-chars"),
    pytest.param(" \t ", "must not be only whitespace", id="whitespace"),
    pytest.param("\u3000", "must not be only whitespace", id="ideographic-space"),
    pytest.param("a/b", "must not contain '/'", id="slash"),
    pytest.param(".", DOTS, id="dot"),
    pytest.param("..", DOTS, id="dot-dot"),
    pytest.param("a\x00b", "must not contain control characters", id="nul"),
    pytest.param("a\nb", "must not contain control characters", id="newline"),
    pytest.param("a\x7f", "must not contain control characters", id="del"),
    pytest.param("a\x85", "must not contain control characters", id="c1-nel"),
    pytest.param(
        "a\ud800",
        "must be valid Unicode (it contains a lone surrogate)",
        id="surrogate",
    ),
]

GOOD_NAMES = ["a", "x" * 100, "🍎" * 100, " padded ", "red apple", "ÉPI", "a.b-c_d"]
GOOD_NAMES += ["...", ".a", "a.", ". ", ".x."]

BAD_QUANTITIES = [
    pytest.param("-1", id="negative"),
    pytest.param("9223372036854775808", id="2^63"),
    pytest.param("-9223372036854775809", id="-2^63-1"),
    pytest.param("1" + "0" * 5000, id="5000-digits"),
    pytest.param("true", id="true"),
    pytest.param("false", id="false"),
    pytest.param("1.0", id="float"),
    pytest.param("1e2", id="exponent"),
    pytest.param('"3"', id="string"),
    pytest.param("[3]", id="array"),
    pytest.param('{"n": 3}', id="object"),
]


def send(client, method, path, raw):
    return client.open(path, method=method, data=raw, content_type="application/json")


def assert_invalid(response, errors):
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["error"] == "Invalid input"
    assert body["title"] == "Bad Request"
    assert body["status"] == 400
    assert body["errors"] == errors
    assert body["detail"] == invalid_detail(errors)


@pytest.mark.parametrize(("name", "why"), BAD_NAMES)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_bad_member_name_in_body_is_rejected(client, seed, stored, method, name, why):
    seed(**BEFORE)
    response = client.open("/stock/fruit", method=method, json={"apple": 1, name: 1})
    assert_invalid(response, {name: f"is not a valid member name: it {why}"})
    assert stored() == BEFORE


# An empty segment or a "/" changes which route matches, and a lone surrogate
# cannot be percent-encoded as UTF-8; those are tested on their own below.
URL_BAD_NAMES = [
    param for param in BAD_NAMES if param.id not in {"empty", "slash", "surrogate"}
]


@pytest.mark.parametrize(("name", "why"), URL_BAD_NAMES)
@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("POST", {}), ("PUT", {}), ("PATCH", {}), ("DELETE", None)],
)
def test_bad_collection_name_in_url_is_rejected(
    client, seed, stored, method, body, name, why
):
    seed(**BEFORE)
    response = client.open(f"/stock/{quote(name)}", method=method, json=body)
    assert_invalid(response, {"collection": why})
    assert stored() == BEFORE


@pytest.mark.parametrize(("name", "why"), URL_BAD_NAMES)
@pytest.mark.parametrize(
    ("method", "body"), [("GET", None), ("PUT", 5), ("DELETE", None)]
)
def test_bad_member_name_in_url_is_rejected(
    client, seed, stored, method, body, name, why
):
    seed(**BEFORE)
    response = client.open(f"/stock/fruit/{quote(name)}", method=method, json=body)
    assert_invalid(response, {"member": why})
    assert stored() == BEFORE


def test_bad_names_in_both_url_parts_are_both_reported(client):
    response = client.get(f"/stock/{'x' * 101}/%20")
    assert_invalid(
        response,
        {
            "collection": "must be 1 to 100 characters long",
            "member": "must not be only whitespace",
        },
    )


@pytest.mark.parametrize("path", ["/stock/", "/stock//apple", "/stock/fruit/"])
def test_empty_url_segment_matches_no_route(client, seed, stored, path):
    seed(**BEFORE)
    response = client.put(path, json=1)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not found"
    assert stored() == BEFORE


def test_encoded_slash_in_a_name_cannot_reach_a_write(client, seed, stored):
    seed(**BEFORE)
    # The server decodes %2F before routing, so "a/b/c" has one segment too many.
    response = client.put("/stock/a%2Fb/c", json=1)
    assert response.status_code == 404
    assert stored() == BEFORE


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_edge_names_are_accepted(client, stored, name):
    response = client.post(f"/stock/{name}", json={name: 1})
    assert response.status_code == 201
    assert stored() == {name: {name: 1}}
    assert client.get(f"/stock/{name}/{name}").get_json() == 1


@pytest.mark.parametrize("raw", BAD_QUANTITIES)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_bad_quantity_in_collection_body_is_rejected(client, seed, stored, method, raw):
    seed(**BEFORE)
    response = send(client, method, "/stock/fruit", f'{{"apple": 5, "pear": {raw}}}')
    assert_invalid(response, {"pear": QUANTITY_RULE})
    assert stored() == BEFORE


@pytest.mark.parametrize("raw", BAD_QUANTITIES)
def test_bad_member_body_is_rejected(client, seed, stored, raw):
    seed(**BEFORE)
    response = send(client, "PUT", "/stock/fruit/apple", raw)
    assert_invalid(response, {"body": QUANTITY_RULE})
    assert stored() == BEFORE


def test_null_member_body_is_rejected(client, seed, stored):
    seed(**BEFORE)
    assert_invalid(
        send(client, "PUT", "/stock/fruit/apple", "null"), {"body": QUANTITY_RULE}
    )
    assert stored() == BEFORE


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_null_quantity_is_only_for_patch(client, seed, stored, method):
    seed(**BEFORE)
    response = client.open("/stock/fruit", method=method, json={"apple": None})
    assert_invalid(response, {"apple": f"{QUANTITY_RULE} (null only in PATCH)"})
    assert stored() == BEFORE


@pytest.mark.parametrize("quantity", [0, 2**63 - 1])
def test_quantity_range_ends_are_accepted(client, stored, quantity):
    assert client.post("/stock/fruit", json={"apple": quantity}).status_code == 201
    assert stored() == {"fruit": {"apple": quantity}}


def test_every_bad_key_is_reported(client, stored):
    response = send(
        client, "POST", "/stock/fruit", '{"a": -1, "b": 2, "c": "x", "": 1}'
    )
    assert_invalid(
        response,
        {
            "a": QUANTITY_RULE,
            "c": QUANTITY_RULE,
            "": "is not a valid member name: it must be 1 to 100 characters long",
        },
    )
    assert stored() == {}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_duplicate_key_is_rejected(client, seed, stored, method):
    seed(**BEFORE)
    response = send(
        client, method, "/stock/fruit", '{"apple": 1, "pear": 2, "apple": 3}'
    )
    assert_invalid(response, {"apple": "appears more than once in the body"})
    assert stored() == BEFORE


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("[]", id="array"),
        pytest.param("3", id="integer"),
        pytest.param('"fruit"', id="string"),
        pytest.param("null", id="null"),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_collection_body_must_be_an_object(client, seed, stored, method, raw):
    seed(**BEFORE)
    response = send(client, method, "/stock/fruit", raw)
    assert_invalid(
        response, {"body": "must be a JSON object of member name to quantity"}
    )
    assert stored() == BEFORE


MALFORMED = [
    pytest.param(
        b"", "is not valid JSON: Expecting value: line 1 column 1 (char 0)", id="empty"
    ),
    pytest.param(
        b"{",
        "is not valid JSON: Expecting property name enclosed in double quotes:"
        " line 1 column 2 (char 1)",
        id="truncated",
    ),
    pytest.param(
        b'{"a": NaN}', "is not valid JSON: NaN is not a JSON number", id="nan"
    ),
    pytest.param(
        b'{"a": Infinity}',
        "is not valid JSON: Infinity is not a JSON number",
        id="infinity",
    ),
    pytest.param(
        b'{"a": -Infinity}',
        "is not valid JSON: -Infinity is not a JSON number",
        id="minus-infinity",
    ),
    pytest.param(b'{"\xff": 1}', "is not valid UTF-8 (byte 2)", id="bad-utf8"),
    pytest.param(
        b"\xef\xbb\xbf{}",
        "is not valid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig):"
        " line 1 column 1 (char 0)",
        id="bom",
    ),
    pytest.param(
        b"[" * 100_000 + b"]" * 100_000, "is nested too deeply", id="deep-array"
    ),
    pytest.param(
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "is nested too deeply",
        id="deep-object",
    ),
    pytest.param(
        b"{} {}",
        "is not valid JSON: Extra data: line 1 column 4 (char 3)",
        id="trailing",
    ),
]


@pytest.mark.parametrize(("raw", "why"), MALFORMED)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_malformed_json_is_rejected(client, seed, stored, method, raw, why):
    seed(**BEFORE)
    assert_invalid(send(client, method, "/stock/fruit", raw), {"body": why})
    assert stored() == BEFORE


@pytest.mark.parametrize(("raw", "why"), MALFORMED)
def test_malformed_member_body_is_rejected(client, seed, stored, raw, why):
    seed(**BEFORE)
    assert_invalid(send(client, "PUT", "/stock/fruit/apple", raw), {"body": why})
    assert stored() == BEFORE


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/stock/fruit"),
        ("PUT", "/stock/fruit"),
        ("PATCH", "/stock/fruit"),
        ("PUT", "/stock/fruit/apple"),
    ],
)
@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded"]
)
def test_body_that_is_not_json_typed_is_unsupported(
    client, seed, stored, method, path, content_type
):
    seed(**BEFORE)
    response = client.open(path, method=method, data="5", content_type=content_type)
    assert response.status_code == 415
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Unsupported Media Type",
        "status": 415,
        "detail": "The body must be JSON, sent with Content-Type: application/json.",
        "error": "Unsupported media type",
    }
    assert stored() == BEFORE


def test_body_over_the_limit_is_too_large(client, seed, stored):
    seed(**BEFORE)
    raw = '{"apple": 1, "pad": "' + "x" * (1024 * 1024) + '"}'
    response = send(client, "PUT", "/stock/fruit", raw)
    assert response.status_code == 413
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Request Entity Too Large",
        "status": 413,
        "detail": "The body may be at most 1048576 bytes.",
        "error": "Request entity too large",
    }
    assert stored() == BEFORE


def test_body_limit_is_configurable(database_url):
    from stockapp import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "MAX_CONTENT_LENGTH": 10}
    )
    client = app.test_client()
    assert client.post("/stock/a", json={}).status_code == 201
    assert client.post("/stock/b", json={"apple": 1}).status_code == 413


def test_body_just_under_the_limit_is_accepted(client, stored):
    members = {f"m{i:05}": i for i in range(50_000)}
    response = client.put("/stock/big", json=members)
    assert response.status_code == 201
    assert stored() == {"big": members}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_bad_body_is_rejected_whether_or_not_the_collection_exists(client, method):
    for path in ("/stock/fruit", "/stock/absent"):
        response = send(client, method, path, '{"apple": -1}')
        assert_invalid(response, {"apple": QUANTITY_RULE})


def test_many_bad_names_are_each_listed_once_and_capped(client, stored):
    names = [f"{number:04}" + "x" * 996 for number in range(150)]
    raw = json.dumps({name: 1 for name in names}).encode()
    response = send(client, "PUT", "/stock/fruit", raw)
    assert response.status_code == 400
    why = "is not a valid member name: it must be 1 to 100 characters long"
    listed = {name[:100] + "…": why for name in names[:100]}
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": f"{names[0][:100]}…: {why} (and 149 more: see errors)",
        "error": "Invalid input",
        "errors": listed,
        "more_errors": 50,
    }
    # The answer is bounded, not a multiple of the body.
    assert len(response.get_data()) < len(raw) / 5
    assert stored() == {}


def test_two_bad_keys_are_each_listed_once(client, stored):
    response = send(client, "PUT", "/stock/fruit", b'{"a/b": 1, "ok": -1}')
    body = response.get_json()
    assert body["errors"] == {
        "a/b": "is not a valid member name: it must not contain '/'",
        "ok": QUANTITY_RULE,
    }
    assert body["detail"] == (
        "a/b: is not a valid member name: it must not contain '/'"
        " (and 1 more: see errors)"
    )
    assert "more_errors" not in body
