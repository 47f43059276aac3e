"""Exporting the stock as CSV and JSON, over HTTP and with ``flask stock export``."""

from __future__ import annotations

import csv
import io
import json

import pytest
from helpers import bearer

STOCK = {
    "fruit": {"apple": 30, "pear": 0},
    "empty": {},
    'odd, "quoted"': {"new\u00e9 line, comma": 5, '"q"': 7},
}


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_the_csv_export_is_rfc_4180_in_creation_order(client, seed):
    seed(**STOCK)
    response = client.get("/export.csv")
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"stock.csv\"; filename*=UTF-8''stock.csv"
    )
    assert response.is_streamed
    body = response.get_data()
    assert body.decode("utf-8") == (
        "collection,member,quantity,code\r\n"
        "fruit,apple,30,\r\n"
        "fruit,pear,0,\r\n"
        '"odd, ""quoted""","new\u00e9 line, comma",5,\r\n'
        '"odd, ""quoted""","""q""",7,\r\n'
    )
    # No byte-order mark; an empty collection has no row.
    assert not body.startswith(b"\xef\xbb\xbf")


def test_the_json_export_is_the_stock_document(client, seed):
    seed(**STOCK)
    response = client.get("/export.json")
    assert response.status_code == 200
    assert response.content_type == "application/json; charset=utf-8"
    assert json.loads(response.get_data()) == STOCK
    assert response.get_data() == client.get("/stock").get_data()


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_one_collection_is_exported_alone(client, seed, export_format):
    seed(**STOCK)
    response = client.get(f"/export.{export_format}?collection=fruit")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="fruit.{export_format}";'
        f" filename*=UTF-8''fruit.{export_format}"
    )
    text = response.get_data(as_text=True)
    if export_format == "csv":
        assert parse_csv(text) == [
            ["collection", "member", "quantity", "code"],
            ["fruit", "apple", "30", ""],
            ["fruit", "pear", "0", ""],
        ]
    else:
        assert json.loads(text) == {"fruit": STOCK["fruit"]}


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_a_missing_or_bad_collection_is_refused(client, seed, export_format):
    seed(**STOCK)
    missing = client.get(f"/export.{export_format}?collection=veg")
    assert missing.status_code == 404
    assert missing.get_json()["detail"] == 'There is no collection "veg".'
    bad = client.get(f"/export.{export_format}?collection=a/b")
    assert bad.status_code == 400
    assert bad.get_json()["errors"] == {"collection": "must not contain '/'"}


def test_a_limited_token_exports_its_collections_only(
    make_app, make_user, make_token, seed
):
    seed(**STOCK)
    make_user("alice", "viewer")
    token = make_token("alice", "read", collections=["fruit"])
    client = make_app(ANONYMOUS_ACCESS="none").test_client()
    csv_text = client.get("/export.csv", headers=bearer(token)).get_data(as_text=True)
    assert parse_csv(csv_text) == [
        ["collection", "member", "quantity", "code"],
        ["fruit", "apple", "30", ""],
        ["fruit", "pear", "0", ""],
    ]
    document = client.get("/export.json", headers=bearer(token)).get_json()
    assert document == {"fruit": STOCK["fruit"]}
    hidden = client.get("/export.csv?collection=empty", headers=bearer(token))
    assert hidden.status_code == 404
    assert client.get("/export.csv").status_code == 401


def test_a_streamed_export_gives_its_connection_back(client, seed, app):
    from stockapp.core.extensions import db

    seed(**STOCK)
    with app.app_context():
        pool = db.engine.pool
        before = pool.checkedout()
    response = client.get("/export.csv")
    response.get_data()
    response.close()
    with app.app_context():
        assert db.engine.pool.checkedout() == before


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_the_cli_writes_what_the_api_answers(
    client, runner, seed, tmp_path, export_format
):
    seed(**STOCK)
    path = tmp_path / f"out.{export_format}"
    result = runner.invoke(
        args=["stock", "export", "--format", export_format, str(path)]
    )
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == client.get(f"/export.{export_format}").get_data()


def test_the_cli_writes_to_standard_output_and_one_collection(runner, seed):
    seed(**STOCK)
    result = runner.invoke(args=["stock", "export", "--collection", "fruit", "-"])
    assert result.exit_code == 0
    assert result.stdout_bytes == (
        b"collection,member,quantity,code\r\nfruit,apple,30,\r\nfruit,pear,0,\r\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--collection", "veg", "-"], 'There is no collection "veg".'),
        (["--collection", "a/b", "-"], "must not contain '/'"),
        (["--format", "xml", "-"], "'xml' is not one of 'csv', 'json'"),
    ],
)
def test_the_cli_refuses_what_it_cannot_export(runner, seed, args, message):
    seed(**STOCK)
    result = runner.invoke(args=["stock", "export", *args])
    assert result.exit_code != 0
    assert message in result.output


# (A tab or CR cannot start a name: the name rules refuse control characters.)
FORMULAS = {"sheet": {"=SUM(A1)": 1, "+1": 2, "-x": 3, "@a": 4, "ok=": 6}}
FORMULAS["=cmd"] = {"-@": 7}


def test_the_csv_export_is_exact_by_default(client, seed):
    seed(**FORMULAS)
    rows = parse_csv(client.get("/export.csv").get_data(as_text=True))
    assert rows[1:] == [
        ["sheet", "=SUM(A1)", "1", ""],
        ["sheet", "+1", "2", ""],
        ["sheet", "-x", "3", ""],
        ["sheet", "@a", "4", ""],
        ["sheet", "ok=", "6", ""],
        ["=cmd", "-@", "7", ""],
    ]


def test_a_spreadsheet_safe_export_defuses_formulas(client, runner, seed):
    seed(**FORMULAS)
    response = client.get("/export.csv?spreadsheet_safe=1")
    assert response.status_code == 200
    rows = parse_csv(response.get_data(as_text=True))
    assert rows == [
        ["collection", "member", "quantity", "code"],
        ["sheet", "'=SUM(A1)", "1", ""],
        ["sheet", "'+1", "2", ""],
        ["sheet", "'-x", "3", ""],
        ["sheet", "'@a", "4", ""],
        ["sheet", "ok=", "6", ""],
        ["'=cmd", "'-@", "7", ""],
    ]
    assert client.get("/export.csv?spreadsheet_safe=0").get_data() == (
        client.get("/export.csv").get_data()
    )
    result = runner.invoke(args=["stock", "export", "--spreadsheet-safe", "-"])
    assert result.exit_code == 0
    assert result.stdout_bytes == response.get_data()


@pytest.mark.parametrize("value", ["", "true", "yes", "2", "01"])
def test_a_bad_spreadsheet_safe_value_is_refused(client, seed, value):
    seed(**FORMULAS)
    response = client.get(f"/export.csv?spreadsheet_safe={value}")
    assert response.status_code == 400
    assert response.get_json()["errors"] == {"spreadsheet_safe": "must be 1 or 0"}
