"""Member codes: PUT/GET/POST /stock/<c>/<m>/code and GET /codes/<code>."""

from __future__ import annotations

import pytest
from helpers import bearer

from stockapp.stock.codes import check_digit, code_problem, made_code

CODE = "/stock/fruit/apple/code"
EAN = "4006381333931"
JSON = {"Content-Type": "application/json"}


def put_code(client, body: str, path: str = CODE, **headers: str):
    """PUT a raw JSON body (``null`` included, which ``json=`` cannot send)."""
    return client.put(path, data=body, headers={**JSON, **headers})


def stored_codes(rows) -> dict[str, str | None]:
    found = rows("SELECT name, code FROM members ORDER BY id")
    return {row["name"]: row["code"] for row in found}


@pytest.mark.parametrize(
    "code",
    [
        "4006381333931",  # EAN-13
        "036000291452",  # UPC-A
        "96385074",  # EAN-8
        "2000000000008",  # one of stockapp's own
        "SHELF-A7",  # Code 128 text
        "12345",  # digits, but no GTIN's length: text
        "x" * 48,
        "!~",
    ],
)
def test_a_good_code_is_taken(code):
    assert code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "why"),
    [
        (
            "4006381333932",
            "is not a valid EAN-13: its check digit is 2, it should be 1",
        ),
        ("036000291453", "is not a valid UPC-A: its check digit is 3, it should be 2"),
        ("96385075", "is not a valid EAN-8: its check digit is 5, it should be 4"),
        ("", "must be 1 to 48 printable ASCII characters, without spaces or '/'"),
        ("x" * 49, "must be 1 to 48 printable ASCII characters, without spaces or '/'"),
        ("a b", "must be 1 to 48 printable ASCII characters, without spaces or '/'"),
        ("a/b", "must be 1 to 48 printable ASCII characters, without spaces or '/'"),
        ("äpfel", "must be 1 to 48 printable ASCII characters, without spaces or '/'"),
        ("a\nb", "must be 1 to 48 printable ASCII characters, without spaces or '/'"),
    ],
)
def test_a_bad_code_is_refused_saying_why(code, why):
    assert code_problem(code) == why


def test_a_made_code_is_a_valid_ean_13_of_stockapps_own():
    made = {made_code() for _ in range(200)}
    assert len(made) == 200
    for code in made:
        assert len(code) == 13 and code.isdigit() and code.startswith("20")
        assert int(code[-1]) == check_digit(code[:-1])
        assert code_problem(code) is None


def test_a_member_has_no_code_until_one_is_set(client, seed):
    seed(fruit={"apple": 3})
    response = client.get(CODE)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "null\n"
    assert response.headers["ETag"] == client.get("/stock/fruit/apple").headers["ETag"]


def test_setting_a_code_stores_it_changes_the_tag_and_logs_it(client, seed, rows):
    seed(fruit={"apple": 3, "pear": 9})
    before = client.get("/stock/fruit/apple").headers["ETag"]
    response = put_code(client, f'"{EAN}"')
    assert response.status_code == 200
    assert response.get_json() == {"message": "Code set"}
    assert response.headers["ETag"] != before
    assert client.get(CODE).get_json() == EAN
    assert client.get(CODE).headers["ETag"] == response.headers["ETag"]
    assert stored_codes(rows) == {"apple": EAN, "pear": None}
    # The quantity is untouched; the change is a movement of kind "code".
    assert client.get("/stock/fruit").get_json() == {"apple": 3, "pear": 9}
    (logged, *_) = client.get("/stock/fruit/apple/history").get_json()["movements"]
    assert {k: v for k, v in logged.items() if k not in ("id", "at")} == {
        "collection": "fruit",
        "member": "apple",
        "kind": "code",
        "before": 3,
        "after": 3,
        "reason": None,
        "by": None,
        "code_before": None,
        "code_after": EAN,
    }


def test_null_clears_the_code_and_the_same_code_again_changes_nothing(
    client, seed, rows
):
    seed(fruit={"apple": 3})
    first = put_code(client, f'"{EAN}"')
    again = put_code(client, f'"{EAN}"')
    assert again.status_code == 200
    assert again.headers["ETag"] == first.headers["ETag"]
    cleared = put_code(client, "null")
    assert cleared.status_code == 200
    assert cleared.get_json() == {"message": "Code cleared"}
    assert stored_codes(rows) == {"apple": None}
    logged = rows(
        "SELECT code_before, code_after FROM movements WHERE kind = 'code' ORDER BY id"
    )
    assert logged == [
        {"code_before": None, "code_after": EAN},
        {"code_before": EAN, "code_after": None},
    ]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            '"4006381333932"',
            "is not a valid EAN-13: its check digit is 2, it should be 1",
        ),
        ("5", "must be a string or null"),
        ('["x"]', "must be a string or null"),
        ('"a b"', "must be 1 to 48 printable ASCII characters, without spaces or '/'"),
    ],
)
def test_a_bad_code_body_is_refused_and_nothing_changes(client, seed, rows, body, why):
    seed(fruit={"apple": 3})
    response = put_code(client, body)
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"code": why}
    assert stored_codes(rows) == {"apple": None}


def test_a_code_names_one_member_of_a_collection(client, seed, rows):
    seed(fruit={"apple": 3, "pear": 9}, veg={"leek": 1})
    assert put_code(client, f'"{EAN}"').status_code == 200
    taken = put_code(client, f'"{EAN}"', path="/stock/fruit/pear/code")
    assert taken.status_code == 409
    assert taken.get_json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "error": "Code taken",
        "detail": f'The code "{EAN}" is carried by apple in fruit: a code names one'
        " member of a collection. Nothing was changed.",
    }
    # ... but another collection may carry it too: the scan finds both.
    assert put_code(client, f'"{EAN}"', path="/stock/veg/leek/code").status_code == 200
    assert stored_codes(rows) == {"apple": EAN, "pear": None, "leek": EAN}
    found = client.get(f"/codes/{EAN}")
    assert found.status_code == 200
    assert found.get_json() == {
        "code": EAN,
        "members": [
            {"collection": "fruit", "member": "apple", "quantity": 3},
            {"collection": "veg", "member": "leek", "quantity": 1},
        ],
    }


def test_a_code_nobody_carries_is_404_and_a_bad_one_400(client, seed):
    seed(fruit={"apple": 3})
    missing = client.get(f"/codes/{EAN}")
    assert missing.status_code == 404
    assert missing.get_json()["detail"] == f'There is no member with the code "{EAN}".'
    bad = client.get("/codes/4006381333932")
    assert bad.status_code == 400
    assert bad.get_json()["errors"] == {
        "code": "is not a valid EAN-13: its check digit is 2, it should be 1"
    }


def test_a_limited_token_finds_only_its_collections_members(
    client, seed, make_user, make_token
):
    seed(fruit={"apple": 3}, veg={"leek": 1})
    put_code(client, f'"{EAN}"')
    put_code(client, f'"{EAN}"', path="/stock/veg/leek/code")
    make_user("ann", "clerk")
    veg_only = bearer(make_token("ann", "read", collections=["veg"]))
    found = client.get(f"/codes/{EAN}", headers=veg_only)
    assert found.get_json()["members"] == [
        {"collection": "veg", "member": "leek", "quantity": 1}
    ]
    fruit_only = bearer(make_token("ann", "read", collections=["fruit"]))
    client.put("/stock/veg/leek/code", data="null", headers=JSON)
    assert client.get(f"/codes/{EAN}", headers=fruit_only).status_code == 200
    nothing = bearer(make_token("ann", "read", collections=["veg"]))
    assert client.get(f"/codes/{EAN}", headers=nothing).status_code == 404


def test_stockapp_makes_a_code_once(client, seed, rows):
    seed(fruit={"apple": 3})
    made = client.post(CODE)
    assert made.status_code == 201
    code = made.get_json()["code"]
    assert code_problem(code) is None and code.startswith("20")
    assert stored_codes(rows) == {"apple": code}
    assert made.headers["ETag"] == client.get(CODE).headers["ETag"]
    again = client.post(CODE)
    assert again.status_code == 409
    assert again.get_json()["error"] == "Member has a code"
    assert stored_codes(rows) == {"apple": code}


def test_if_match_guards_the_code(client, seed, rows):
    seed(fruit={"apple": 3})
    stale = put_code(client, f'"{EAN}"', **{"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stored_codes(rows) == {"apple": None}
    current = client.get(CODE).headers["ETag"]
    assert put_code(client, f'"{EAN}"', **{"If-Match": current}).status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [("/stock/nothing/apple/code", 404), ("/stock/fruit/nothing/code", 404)],
)
def test_a_code_for_what_is_not_there_is_404(client, seed, rows, path, status):
    seed(fruit={"apple": 3})
    assert client.get(path).status_code == status
    assert put_code(client, f'"{EAN}"', path=path).status_code == status
    assert client.post(path).status_code == status
    assert stored_codes(rows) == {"apple": None}


def test_a_deleted_member_takes_its_code_away(client, seed, rows):
    seed(fruit={"apple": 3})
    put_code(client, f'"{EAN}"')
    assert client.delete("/stock/fruit/apple").status_code == 204
    assert client.get(f"/codes/{EAN}").status_code == 404
    # Made again, it has no code, and another member may take the code.
    client.put("/stock/fruit/apple", json=1)
    assert client.get(CODE).get_json() is None
    assert (
        put_code(client, f'"{EAN}"', path="/stock/fruit/apple/code").status_code == 200
    )


@pytest.mark.sqlite_only
def test_a_code_is_found_through_its_index_never_a_scan(app):
    from stockapp.core.extensions import db
    from stockapp.stock.statements import MEMBERS_WITH_CODE

    with app.app_context():
        sql = str(MEMBERS_WITH_CODE.compile(dialect=db.engine.dialect))
        with db.engine.connect() as connection:
            plan = " | ".join(
                row[-1]
                for row in connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {sql}", (1,) * sql.count("?")
                )
            )
    assert "USING INDEX uq_members_code_collection_id (code=?)" in plan, plan
    assert "SCAN members" not in plan, plan
