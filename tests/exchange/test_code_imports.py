"""Member codes in exports and imports: the CSV's optional ``code`` column, and
JSON members given as ``{"quantity": n, "code": ...}``."""

from __future__ import annotations

import json

import pytest

CSV = "text/csv"
HEADER = "collection,member,quantity,code\r\n"
OLD_HEADER = "collection,member,quantity\r\n"
EAN = "4006381333931"
UPC = "036000291452"


def post_csv(client, text: str, query: str = ""):
    return client.post(f"/imports{query}", data=text.encode(), content_type=CSV)


def post_json(client, document, query: str = ""):
    return client.post(
        f"/imports{query}", data=json.dumps(document), content_type="application/json"
    )


def put_code(client, path: str, code: str | None):
    return client.put(
        f"/stock/{path}/code",
        data=json.dumps(code),
        headers={"Content-Type": "application/json"},
    )


@pytest.fixture
def codes(rows):
    """Each member's (quantity, code), by collection then member."""

    def read() -> dict[str, dict[str, tuple[int, str | None]]]:
        found: dict[str, dict[str, tuple[int, str | None]]] = {}
        for row in rows(
            "SELECT c.name AS collection, m.name AS member, m.quantity, m.code"
            " FROM members m JOIN collections c ON c.id = m.collection_id"
            " ORDER BY m.id"
        ):
            found.setdefault(row["collection"], {})[row["member"]] = (
                row["quantity"],
                row["code"],
            )
        return found

    return read


@pytest.fixture
def code_movements(rows):
    return lambda: [
        (row["member"], row["code_before"], row["code_after"])
        for row in rows(
            "SELECT member, code_before, code_after FROM movements"
            " WHERE kind = 'code' ORDER BY id"
        )
    ]


@pytest.fixture
def coded(client, seed):
    """fruit: apple (EAN), pear (SHELF-1), kiwi (no code)."""
    seed(fruit={"apple": 30, "pear": 2, "kiwi": 5})
    assert put_code(client, "fruit/apple", EAN).status_code == 200
    assert put_code(client, "fruit/pear", "SHELF-1").status_code == 200


def test_the_csv_export_carries_each_members_code(client, coded):
    text = client.get("/export.csv").get_data(as_text=True)
    assert text == (
        HEADER + f"fruit,apple,30,{EAN}\r\nfruit,pear,2,SHELF-1\r\nfruit,kiwi,5,\r\n"
    )


def test_a_spreadsheet_safe_export_defuses_a_code_too(client, seed):
    seed(sheet={"a": 1})
    assert put_code(client, "sheet/a", "=1+1").status_code == 200
    text = client.get("/export.csv?spreadsheet_safe=1").get_data(as_text=True)
    assert text == HEADER + "sheet,a,1,'=1+1\r\n"


def test_the_json_export_stays_the_stock_document(client, coded):
    assert client.get("/export.json").get_json() == {
        "fruit": {"apple": 30, "pear": 2, "kiwi": 5}
    }


def test_an_old_file_without_codes_leaves_the_codes_alone(
    client, coded, codes, code_movements
):
    response = post_csv(client, OLD_HEADER + "fruit,apple,31\r\nfruit,kiwi,6\r\n")
    assert response.status_code == 200
    assert response.get_json()["totals"]["codes"] == 0
    assert codes() == {
        "fruit": {"apple": (31, EAN), "pear": (2, "SHELF-1"), "kiwi": (6, None)}
    }
    assert len(code_movements()) == 2  # the two PUTs of the fixture


def test_a_file_with_codes_sets_and_clears_them_and_logs_each(
    client, coded, codes, code_movements, rows
):
    response = post_csv(
        client,
        HEADER + f"fruit,apple,30,\r\nfruit,kiwi,5,{UPC}\r\nfruit,fig,1,FIG\r\n",
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["totals"] == {
        "added": 1,
        "changed": 0,
        "unchanged": 2,
        "removed": 0,
        "codes": 3,
        "created": 0,
    }
    assert codes() == {
        "fruit": {
            "apple": (30, None),
            "pear": (2, "SHELF-1"),  # not in the file: kept
            "kiwi": (5, UPC),
            "fig": (1, "FIG"),
        }
    }
    assert code_movements()[2:] == [
        ("apple", EAN, None),
        ("kiwi", None, UPC),
        ("fig", None, "FIG"),
    ]
    # The member's version (its ETag) changed with its code.
    etag = client.get("/stock/fruit/kiwi/code").headers["ETag"]
    assert client.get("/stock/fruit/kiwi/code").get_json() == UPC
    assert etag
    assert rows("SELECT count(*) AS n FROM movements WHERE kind = 'code'") == [{"n": 5}]


def test_codes_may_change_hands_in_one_file(client, coded, codes):
    response = post_csv(
        client, HEADER + f"fruit,apple,30,SHELF-1\r\nfruit,pear,2,{EAN}\r\n"
    )
    assert response.status_code == 200, response.get_json()
    assert codes()["fruit"]["apple"] == (30, "SHELF-1")
    assert codes()["fruit"]["pear"] == (2, EAN)


@pytest.mark.parametrize("dry_run", ["false", "true"])
def test_a_code_another_member_keeps_refuses_the_whole_import(
    client, coded, codes, dry_run
):
    before = codes()
    response = post_csv(
        client,
        HEADER + f"fruit,kiwi,9,{EAN}\r\nfruit,fig,1,\r\n",
        f"?dry_run={dry_run}",
    )
    assert response.status_code == 409
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "error": "Code taken",
        "detail": f'The code "{EAN}" is carried by apple in fruit: a code names one'
        " member of a collection. Nothing was changed.",
    }
    assert codes() == before


def test_in_replace_mode_a_removed_member_gives_its_code_up(client, coded, codes):
    response = post_csv(client, HEADER + f"fruit,kiwi,9,{EAN}\r\n", "?mode=replace")
    assert response.status_code == 200
    assert codes() == {"fruit": {"kiwi": (9, EAN)}}


def test_the_same_code_may_go_to_another_collection(client, coded, codes):
    response = post_csv(client, HEADER + f"veg,leek,1,{EAN}\r\n")
    assert response.status_code == 200
    assert codes()["veg"] == {"leek": (1, EAN)}


def test_a_dry_run_counts_the_codes_and_stores_nothing(client, coded, codes):
    before = codes()
    response = post_csv(
        client, HEADER + "fruit,apple,30,NEW\r\nveg,leek,1,LEEK\r\n", "?dry_run=true"
    )
    assert response.status_code == 200
    assert [entry["codes"] for entry in response.get_json()["collections"]] == [1, 1]
    assert codes() == before


@pytest.mark.parametrize(
    ("rows_text", "errors"),
    [
        (
            "fruit,apple,1,4006381333932\r\n",
            [
                'Line 2: code "4006381333932" for apple in fruit is not a valid'
                " EAN-13: its check digit is 2, it should be 1"
            ],
        ),
        (
            "fruit,apple,1,has space\r\n",
            [
                'Line 2: code "has space" for apple in fruit must be 1 to 48'
                " printable ASCII characters, without spaces or '/'"
            ],
        ),
        (
            "fruit,apple,1,A\r\nfruit,pear,2,A\r\nveg,leek,1,A\r\n",
            [
                'Line 3: code "A" for pear in fruit is apple\'s (line 2): a code'
                " names one member"
            ],
        ),
        (
            "fruit,apple,1\r\n",
            ["Line 2: has 3 fields, not 4 (collection,member,quantity,code)"],
        ),
        (
            "fruit,apple,1,A,B\r\n",
            ["Line 2: has 5 fields, not 4 (collection,member,quantity,code)"],
        ),
    ],
)
def test_a_bad_code_refuses_the_file(client, coded, codes, rows_text, errors):
    before = codes()
    response = post_csv(client, HEADER + rows_text)
    assert response.status_code == 400
    problems = response.get_json()["problems"]
    assert [f"Line {p['line']}: {p['error']}" for p in problems] == errors
    assert codes() == before


def test_a_json_member_may_carry_its_code(client, coded, codes, code_movements):
    response = post_json(
        client,
        {"fruit": {"apple": {"quantity": 3, "code": None}, "kiwi": 7}},
    )
    assert response.status_code == 200
    assert response.get_json()["totals"]["codes"] == 1
    response = post_json(client, {"veg": {"leek": {"quantity": 1, "code": UPC}}})
    assert response.status_code == 200
    assert codes() == {
        "fruit": {"apple": (3, None), "pear": (2, "SHELF-1"), "kiwi": (7, None)},
        "veg": {"leek": (1, UPC)},
    }
    assert code_movements()[2:] == [("apple", EAN, None), ("leek", None, UPC)]


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        (
            {"quantity": 1, "code": 5},
            "code for apple in fruit must be a string or null",
        ),
        (
            {"code": "A"},
            "apple in fruit: an object must have a quantity and may have a code,"
            " nothing else",
        ),
        (
            {"quantity": 1, "code": "A", "colour": "red"},
            "apple in fruit: an object must have a quantity and may have a code,"
            " nothing else",
        ),
        (
            {"quantity": -1, "code": "A"},
            "quantity -1 for apple in fruit must be a JSON integer from 0 to"
            " 9223372036854775807",
        ),
        (
            {"quantity": 1, "code": "036000291453"},
            'code "036000291453" for apple in fruit is not a valid UPC-A: its check'
            " digit is 3, it should be 2",
        ),
    ],
)
def test_a_bad_json_member_is_refused(client, coded, codes, entry, error):
    before = codes()
    response = post_json(client, {"fruit": {"apple": entry}})
    assert response.status_code == 400
    [problem] = response.get_json()["problems"]
    assert problem == {"line": None, "error": error}
    assert codes() == before


def test_a_json_code_given_twice_in_a_collection_is_refused(client, coded):
    response = post_json(
        client,
        {
            "fruit": {
                "a": {"quantity": 1, "code": "X"},
                "b": {"quantity": 1, "code": "X"},
            }
        },
    )
    assert response.status_code == 400
    assert response.get_json()["problems"] == [
        {
            "line": None,
            "error": 'code "X" for b in fruit is a\'s (an earlier entry): a code'
            " names one member",
        }
    ]


def test_export_then_import_into_an_empty_database_keeps_the_codes(
    client, coded, databases, tmp_path
):
    from stockapp import create_app
    from stockapp.core.extensions import db

    exported = client.get("/export.csv").get_data()
    url = databases.create(tmp_path, migrated=True)
    other = create_app({"SQLALCHEMY_DATABASE_URI": url})
    try:
        imported = other.test_client().post("/imports", data=exported, content_type=CSV)
        assert imported.status_code == 200
        assert imported.get_json()["totals"]["codes"] == 2
        assert other.test_client().get("/export.csv").get_data() == exported
        found = other.test_client().get(f"/codes/{EAN}").get_json()
        assert found == client.get(f"/codes/{EAN}").get_json()
    finally:
        with other.app_context():
            db.engine.dispose()
        databases.drop(url)


def test_the_summary_says_how_many_codes_changed(runner, coded, tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text(HEADER + "fruit,apple,30,\r\nfruit,kiwi,5,K1\r\n")
    result = runner.invoke(args=["stock", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Imported 1 collection (0 new): 0 members added, 0 changed, 2 unchanged,"
        " 0 removed; 2 codes set or cleared.\n"
    )
