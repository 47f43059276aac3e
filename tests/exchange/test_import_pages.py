"""The import page: upload, dry run, import, and every bad row shown."""

from __future__ import annotations

import html
import io
import re

import pytest
from helpers import csrf_token_of, login, problem_page

HEADER = b"collection,member,quantity\r\n"


@pytest.fixture
def upload(client):
    """Post the import form with a file (with the page's CSRF token)."""

    def post(content: bytes, name: str = "stock.csv", **fields: str):
        token = csrf_token_of(client.get("/import").get_data(as_text=True))
        data = {"csrf_token": token, "file": (io.BytesIO(content), name), **fields}
        return client.post("/import", data=data, content_type="multipart/form-data")

    return post


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_the_page_offers_the_form(client):
    page = text(client.get("/import"))
    assert '<input id="file" name="file" type="file"' in page
    assert 'name="mode" value="replace"' in page
    # The size and its unit never part at the end of a line.
    assert "up to 32\xa0MiB" in page


def test_a_dry_run_shows_what_would_change_and_stores_nothing(
    client, seed, stored, upload
):
    seed(fruit={"apple": 30, "pear": 1})
    response = upload(HEADER + b"fruit,apple,3\r\n", mode="replace", dry_run="true")
    assert response.status_code == 200
    page = text(response)
    assert (
        "Would import 1 collections (0 new): 0 members added, 1 changed,"
        " 0 unchanged, 1 removed." in page
    )
    assert stored() == {"fruit": {"apple": 30, "pear": 1}}


def test_an_import_redirects_back_saying_what_it_did(client, seed, stored, upload):
    seed(fruit={"apple": 30})
    response = upload(HEADER + b"fruit,apple,3\r\nveg,leek,2\r\n", mode="merge")
    assert response.status_code == 303
    assert response.headers["Location"] == "/import"
    assert stored() == {"fruit": {"apple": 3}, "veg": {"leek": 2}}
    assert (
        "Imported 2 collections (1 new): 1 members added, 1 changed, 0 unchanged,"
        " 0 removed." in text(client.get("/import"))
    )


def test_a_json_file_is_imported_too(client, stored, upload):
    assert upload(b'{"fruit": {"apple": 4}}', "stock.json").status_code == 303
    assert stored() == {"fruit": {"apple": 4}}


def test_every_bad_row_is_listed_and_nothing_is_stored(client, seed, stored, upload):
    seed(fruit={"apple": 30})
    response = upload(HEADER + b"fruit,apple,x\r\nfruit,a/b,1\r\nfruit,ok,1\r\n")
    assert response.status_code == 400
    page = text(response)
    assert "Nothing was imported: 2 bad rows." in page
    assert re.findall(r"<li>(Line \d+: [^<]+)</li>", page) == [
        "Line 2: quantity must be a whole number from 0 to 9223372036854775807",
        "Line 3: member must not contain '/'",
    ]
    assert 'aria-invalid="true" aria-describedby="file-problems"' in page
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "File is required: choose a .csv or .json file"),
        ("stock.xlsx", "File must be a .csv or .json file"),
    ],
)
def test_a_missing_or_wrong_file_is_told_beside_the_field(
    client, stored, upload, name, message
):
    response = upload(HEADER, name)
    assert response.status_code == 400
    assert f'<p class="error" id="file-error">{message}</p>' in text(response)
    assert stored() == {}


def test_the_form_needs_its_csrf_token(client, stored):
    data = {"file": (io.BytesIO(HEADER + b"fruit,apple,1\r\n"), "s.csv")}
    response = client.post("/import", data=data, content_type="multipart/form-data")
    assert problem_page(response)["detail"] == "The CSRF token is missing."
    assert stored() == {}


def test_the_page_offers_a_spreadsheet_safe_download(client):
    page = client.get("/import").get_data(as_text=True)
    assert (
        '<a href="/download/stock.csv">download it as CSV for a spreadsheet</a>' in page
    )


def test_a_logged_in_browser_downloads_the_stock(make_app, make_user, seed):
    seed(sheet={"=HYPERLINK(1)": 1, "ok": 2})
    make_user("viewer", "viewer")
    browser = make_app(ANONYMOUS_ACCESS="none").test_client()
    assert login(browser, "viewer").status_code == 303
    # The API takes tokens, never the session: the page's own routes serve it.
    assert browser.get("/export.csv").status_code == 401
    safe = browser.get("/download/stock.csv")
    assert safe.status_code == 200
    assert safe.headers["Content-Disposition"] == (
        "attachment; filename=\"stock.csv\"; filename*=UTF-8''stock.csv"
    )
    assert safe.get_data() == HEADER + b"sheet,'=HYPERLINK(1),1\r\nsheet,ok,2\r\n"
    exact = browser.get("/download/stock.csv?spreadsheet_safe=0")
    assert exact.get_data() == HEADER + b"sheet,=HYPERLINK(1),1\r\nsheet,ok,2\r\n"
    document = browser.get("/download/stock.json")
    assert document.get_json() == {"sheet": {"=HYPERLINK(1)": 1, "ok": 2}}


def test_the_download_sends_a_stranger_to_log_in(make_app):
    browser = make_app(ANONYMOUS_ACCESS="none").test_client()
    response = browser.get("/download/stock.csv")
    assert response.status_code == 303
    assert response.headers["Location"] == "/log-in?next=/download/stock.csv"
