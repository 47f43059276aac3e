"""Importing stock: POST /imports and ``flask stock import``, all or nothing."""

from __future__ import annotations

import io
import json

import pytest
from helpers import bearer

CSV = "text/csv"
HEADER = "collection,member,quantity\r\n"


def post_csv(client, text: str | bytes, query: str = "", **kwargs):
    body = text.encode() if isinstance(text, str) else text
    return client.post(f"/imports{query}", data=body, content_type=CSV, **kwargs)


@pytest.fixture
def movements(rows):
    return lambda: rows(
        'SELECT collection, member, kind, "before", "after", by FROM movements'
        " WHERE kind = 'import' ORDER BY id"
    )


def test_a_merge_sets_the_listed_quantities_and_keeps_the_rest(
    client, seed, stored, movements
):
    seed(fruit={"apple": 30, "pear": 2})
    response = post_csv(
        client,
        HEADER + "fruit,apple,31\r\nfruit,kiwi,4\r\nveg,leek,1\r\nfruit,pear,2\r\n",
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "mode": "merge",
        "dry_run": False,
        "totals": {
            "added": 2,
            "changed": 1,
            "unchanged": 1,
            "removed": 0,
            "codes": 0,
            "created": 1,
        },
        "collections": [
            {
                "collection": "fruit",
                "created": False,
                "added": 1,
                "changed": 1,
                "unchanged": 1,
                "removed": 0,
                "codes": 0,
            },
            {
                "collection": "veg",
                "created": True,
                "added": 1,
                "changed": 0,
                "unchanged": 0,
                "removed": 0,
                "codes": 0,
            },
        ],
    }
    assert stored() == {
        "fruit": {"apple": 31, "pear": 2, "kiwi": 4},
        "veg": {"leek": 1},
    }
    assert movements() == [
        {
            "collection": "fruit",
            "member": "apple",
            "kind": "import",
            "before": 30,
            "after": 31,
            "by": None,
        },
        {
            "collection": "fruit",
            "member": "kiwi",
            "kind": "import",
            "before": None,
            "after": 4,
            "by": None,
        },
        {
            "collection": "veg",
            "member": "leek",
            "kind": "import",
            "before": None,
            "after": 1,
            "by": None,
        },
    ]


def test_a_replace_makes_each_named_collection_hold_only_its_rows(
    client, seed, stored, movements
):
    seed(fruit={"apple": 30, "pear": 2}, veg={"leek": 1})
    response = post_csv(client, HEADER + "fruit,apple,30\r\n", "?mode=replace")
    assert response.status_code == 200
    assert response.get_json()["totals"] == {
        "added": 0,
        "changed": 0,
        "unchanged": 1,
        "removed": 1,
        "codes": 0,
        "created": 0,
    }
    # veg is not in the file: untouched.
    assert stored() == {"fruit": {"apple": 30}, "veg": {"leek": 1}}
    assert [(m["member"], m["after"]) for m in movements()] == [("pear", None)]


def test_a_dry_run_reports_and_stores_nothing(client, seed, stored, movements):
    seed(fruit={"apple": 30, "pear": 2})
    response = post_csv(
        client, HEADER + "fruit,apple,1\r\n", "?mode=replace&dry_run=true"
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["dry_run"] is True
    assert body["totals"] == {
        "added": 0,
        "changed": 1,
        "unchanged": 0,
        "removed": 1,
        "codes": 0,
        "created": 0,
    }
    assert stored() == {"fruit": {"apple": 30, "pear": 2}}
    assert movements() == []


def test_every_bad_row_is_reported_with_its_line_and_nothing_is_stored(
    client, seed, stored, movements
):
    seed(fruit={"apple": 30})
    text = (
        HEADER
        + "fruit,apple,5\r\n"  # 2: fine on its own
        + "fruit,pear,-1\r\n"  # 3
        + "fruit,a/b,1\r\n"  # 4
        + ",kiwi,1\r\n"  # 5
        + "fruit,fig\r\n"  # 6
        + "fruit,apple,6\r\n"  # 7: repeats line 2
        + '"multi\r\nline",x,1\r\n'  # 8-9: a control character in a name
        + "fruit,plum,99999999999999999999\r\n"  # 10
        + "veg,leek,1,extra\r\n"  # 11
    )
    response = post_csv(client, text)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    rule = "must be a whole number from 0 to 9223372036854775807"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": "8 bad rows; nothing was imported.",
        "error": "Invalid import",
        "problems": [
            {"line": 3, "error": f'quantity "-1" for pear in fruit {rule}'},
            {"line": 4, "error": "member \"a/b\" in fruit must not contain '/'"},
            {"line": 5, "error": 'collection "" must be 1 to 100 characters long'},
            {"line": 6, "error": "has 2 fields, not 3 (collection,member,quantity)"},
            {"line": 7, "error": "apple in fruit repeats line 2"},
            {
                "line": 8,
                "error": 'collection "multi\\r\\nline" must not contain control'
                " characters",
            },
            {
                "line": 10,
                "error": f'quantity "99999999999999999999" for plum in fruit {rule}',
            },
            {"line": 11, "error": "has 4 fields, not 3 (collection,member,quantity)"},
        ],
        "more_problems": 0,
    }
    assert stored() == {"fruit": {"apple": 30}}
    assert movements() == []


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        (b"", [{"line": 1, "error": "is empty: the header is missing"}]),
        (
            b"name,count\r\nfruit,1\r\n",
            [
                {
                    "line": 1,
                    "error": "must be the header collection,member,quantity,code"
                    " (or, without codes, collection,member,quantity)",
                },
                {
                    "line": 2,
                    "error": "has 2 fields, not 4 (collection,member,quantity,code)",
                },
            ],
        ),
        (
            HEADER.encode() + b"fruit,apple,1\r\nfruit,caf\xe9,1\r\n",
            [{"line": 3, "error": "is not valid UTF-8 (byte 52)"}],
        ),
        (
            HEADER.encode() + b'fruit,"apple,1\r\n',
            [{"line": 2, "error": "is not valid CSV: unexpected end of data"}],
        ),
    ],
)
def test_a_file_that_is_not_the_format_is_refused(client, stored, body, problems):
    response = post_csv(client, body)
    assert response.status_code == 400
    assert response.get_json()["problems"] == problems
    assert stored() == {}


def test_a_byte_order_mark_and_lf_line_ends_are_accepted(client, stored):
    body = "\ufeffcollection,member,quantity\nfruit,apple,3\n".encode()
    assert post_csv(client, body).status_code == 200
    assert stored() == {"fruit": {"apple": 3}}


def test_at_most_100_bad_rows_are_listed(client, stored):
    text = HEADER + "".join(f"fruit,m{n},x\r\n" for n in range(150))
    body = post_csv(client, text).get_json()
    assert len(body["problems"]) == 100
    assert body["more_problems"] == 50
    assert body["detail"] == "150 bad rows; nothing was imported."


def test_a_json_import_takes_the_stock_document(client, seed, stored):
    seed(fruit={"apple": 30})
    response = client.post(
        "/imports?mode=replace", json={"fruit": {"pear": 1}, "veg": {}}
    )
    assert response.status_code == 200
    assert stored() == {"fruit": {"pear": 1}, "veg": {}}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"[1]", "must be a JSON object of collections"),
        (b'{"fruit": 3}', "fruit: must be an object of members"),
        (
            b'{"fruit": {"apple": -1}}',
            "quantity -1 for apple in fruit must be a JSON integer from 0 to"
            " 9223372036854775807",
        ),
        (
            b'{"fruit": {"apple": "3"}}',
            'quantity "3" for apple in fruit must be a JSON integer from 0 to'
            " 9223372036854775807",
        ),
        (b'{"fruit": {"a/b": 1}}', "member \"a/b\" in fruit must not contain '/'"),
        (b'{"a/b": {}}', "collection \"a/b\" must not contain '/'"),
        # A bad name and a bad value at once (the fuzzer found a 500 here).
        (
            b'{"a\\u009b": ""}',
            'collection "a\\x9b" must not contain control characters',
        ),
        (b'{"fruit": {"x": 1, "x": 2}}', "fruit: 'x' appears more than once"),
        (b"{", "is not valid JSON"),
    ],
)
def test_a_bad_json_import_is_refused(client, stored, body, error):
    response = client.post("/imports", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["problems"][0]["error"].startswith(error)
    assert stored() == {}


def test_a_file_upload_from_a_form_is_imported(client, stored):
    upload = (io.BytesIO((HEADER + "fruit,apple,3\r\n").encode()), "stock.csv")
    response = client.post(
        "/imports",
        data={"file": upload, "mode": "merge", "dry_run": "false"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    assert stored() == {"fruit": {"apple": 3}}


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("?mode=overwrite", {"mode": "must be one of merge, replace"}),
        ("?dry_run=yes", {"dry_run": "must be true or false"}),
    ],
)
def test_bad_options_are_refused(client, stored, query, errors):
    response = post_csv(client, HEADER + "fruit,apple,1\r\n", query)
    assert response.status_code == 400
    assert response.get_json()["errors"] == errors
    assert stored() == {}


def test_other_media_types_are_refused(client, stored):
    response = client.post("/imports", data="x", content_type="text/plain")
    assert response.status_code == 415
    assert stored() == {}


def test_a_body_past_the_import_limit_is_refused(make_app, stored):
    client = make_app(IMPORT_MAX_BYTES=100).test_client()
    response = post_csv(client, HEADER + "fruit,apple,1\r\n" * 10)
    assert response.status_code == 413
    assert stored() == {}


def test_imports_take_more_than_the_usual_body_limit(make_app, stored):
    client = make_app(MAX_CONTENT_LENGTH=100).test_client()
    text = HEADER + "".join(f"fruit,m{n},{n}\r\n" for n in range(50))
    assert post_csv(client, text).status_code == 200
    assert len(stored()["fruit"]) == 50


def test_an_import_names_who_made_it_and_respects_token_limits(
    make_app, make_user, make_token, stored, movements
):
    make_user("alice", "clerk")
    limited = make_token("alice", "write", collections=["fruit"])
    client = make_app(ANONYMOUS_ACCESS="none").test_client()
    refused = post_csv(client, HEADER + "veg,leek,1\r\n", headers=bearer(limited))
    assert refused.status_code == 403
    assert stored() == {}
    assert (
        post_csv(
            client, HEADER + "fruit,apple,1\r\n", headers=bearer(limited)
        ).status_code
        == 200
    )
    assert [m["by"] for m in movements()] == ["alice"]


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_export_then_import_into_an_empty_database_gives_the_same_stock(
    client, seed, databases, tmp_path, export_format
):
    from stockapp import create_app
    from stockapp.core.extensions import db

    seed(fruit={"apple": 30, 'a, "b"': 2, "caf\u00e9": 7}, veg={"leek": 0})
    exported = client.get(f"/export.{export_format}").get_data()
    url = databases.create(tmp_path, migrated=True)
    other = create_app({"SQLALCHEMY_DATABASE_URI": url})
    try:
        imported = other.test_client().post(
            "/imports",
            data=exported,
            content_type=CSV if export_format == "csv" else "application/json",
        )
        assert imported.status_code == 200
        assert imported.get_json()["totals"]["added"] == 4
        again = other.test_client().get(f"/export.{export_format}").get_data()
        assert again == exported
    finally:
        with other.app_context():
            db.engine.dispose()
        databases.drop(url)


def test_the_cli_imports_a_file_and_reports(runner, client, tmp_path, stored):
    path = tmp_path / "stock.csv"
    path.write_text(HEADER + "fruit,apple,3\r\nveg,leek,1\r\n", newline="")
    result = runner.invoke(args=["stock", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Imported 2 collections (2 new): 2 members added, 0 changed, 0 unchanged,"
        " 0 removed.\n"
    )
    assert stored() == {"fruit": {"apple": 3}, "veg": {"leek": 1}}
    path.write_text(json.dumps({"fruit": {"apple": 4}}))
    json_path = path.with_suffix(".json")
    path.rename(json_path)
    result = runner.invoke(args=["stock", "import", "--dry-run", str(json_path)])
    assert result.exit_code == 0, result.output
    assert result.output == (
        "Would import 1 collection (0 new): 0 members added, 1 changed,"
        " 0 unchanged, 0 removed.\n"
    )
    assert stored() == {"fruit": {"apple": 3}, "veg": {"leek": 1}}


def test_the_cli_lists_every_bad_row_and_stores_nothing(runner, tmp_path, stored):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "fruit,apple,x\r\nfruit,a/b,1\r\n", newline="")
    result = runner.invoke(args=["stock", "import", str(path)])
    assert result.exit_code == 1
    assert (
        'line 2: quantity "x" for apple in fruit must be a whole number from 0 to'
        " 9223372036854775807\n" in result.output
    )
    assert "line 3: member \"a/b\" in fruit must not contain '/'\n" in result.output
    assert "2 bad rows; nothing was imported." in result.output
    assert stored() == {}
