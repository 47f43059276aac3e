"""The import page: upload, dry run, import, and every bad row shown."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from helpers import csrf_token_of, login, problem_page

from stockapp.exchange.drafts import MAX_DRAFTS_PER_OWNER

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


def changes_listed(page: str) -> list[str]:
    """Each ``member: old → new`` line a preview lists, as (heading, line)."""
    return re.findall(r"<h3>([^<]+)</h3>|<li>([^<]+ → [^<]+)</li>", page)


def lines(page: str) -> list[str]:
    """The preview's headings and change lines, in the page's order."""
    return [heading or line for heading, line in changes_listed(page)]


def draft_of(response) -> str:
    """The preview address a dry run redirected to."""
    assert response.status_code == 303
    location = response.headers["Location"]
    assert re.fullmatch(r"/import/drafts/[A-Za-z0-9_-]{43}", location)
    return location


def import_these_changes(client, preview: str, with_token: bool = True):
    """Press "Import these changes" on the preview at ``preview``."""
    data = {}
    if with_token:
        data["csrf_token"] = csrf_token_of(client.get("/import").get_data(True))
    return client.post(preview, data=data)


def test_a_dry_run_shows_what_would_change_and_stores_nothing(
    client, seed, stored, upload, rows
):
    seed(fruit={"apple": 30, "pear": 1, "fig": 4})
    response = upload(
        HEADER + b"fruit,apple,3\r\nfruit,fig,4\r\nfruit,kiwi,5\r\nveg,leek,2\r\n",
        mode="replace",
        dry_run="true",
    )
    preview = draft_of(response)
    shown = client.get(preview)
    assert shown.status_code == 200
    page = text(shown)
    assert (
        "Would import 2 collections (1 new): 2 members added, 1 changed,"
        " 1 unchanged, 1 removed." in page
    )
    assert lines(page) == [
        "fruit",
        "apple: 30 → 3",
        "kiwi: new → 5",
        "pear: 1 → removed",
        "veg (new)",
        "leek: new → 2",
    ]
    assert "Changes 1 to 4 of 4:" in page
    assert "Unchanged members are not listed." in page
    assert '<button type="submit">Import these changes</button>' in page
    assert f'<form method="post" action="{preview}">' in page
    # The form for another file starts afresh: not a dry run again.
    assert '<input type="checkbox" name="dry_run" value="true">' in page
    assert stored() == {"fruit": {"apple": 30, "pear": 1, "fig": 4}}
    assert rows("SELECT owner, file_format, mode FROM import_drafts") == [
        {"owner": None, "file_format": "csv", "mode": "replace"}
    ]


def test_import_these_changes_imports_the_file_tried_once(
    client, seed, stored, upload, rows
):
    seed(fruit={"apple": 30, "pear": 1})
    preview = draft_of(
        upload(HEADER + b"fruit,apple,3\r\n", mode="replace", dry_run="true")
    )
    response = import_these_changes(client, preview)
    assert response.status_code == 303
    assert response.headers["Location"] == "/import"
    assert stored() == {"fruit": {"apple": 3}}
    assert (
        "Imported 1 collection (0 new): 0 members added, 1 changed, 0 unchanged,"
        " 1 removed." in text(client.get("/import"))
    )
    assert rows("SELECT token FROM import_drafts") == []
    # Used once: the same post again, or the preview, finds nothing.
    seed(veg={"leek": 1})
    again = import_these_changes(client, preview)
    assert problem_page(again) == {
        "status": 404,
        "error": "No such import",
        "detail": "There is no such import to see or make: it was imported"
        " already, it expired (an hour after the file was tried), or another"
        " user tried that file. Choose the file again.",
    }
    assert client.get(preview).status_code == 404
    assert stored() == {"fruit": {"apple": 3}, "veg": {"leek": 1}}


def test_a_json_draft_merges_as_it_was_tried(client, seed, stored, upload):
    seed(fruit={"apple": 30, "pear": 1})
    preview = draft_of(upload(b'{"fruit": {"apple": 4}}', "stock.json", dry_run="true"))
    assert lines(text(client.get(preview))) == ["fruit", "apple: 30 → 4"]
    assert import_these_changes(client, preview).status_code == 303
    assert stored() == {"fruit": {"apple": 4, "pear": 1}}


def test_the_preview_shows_the_stock_as_it_is_now(client, seed, upload):
    seed(fruit={"apple": 30})
    preview = draft_of(upload(HEADER + b"fruit,apple,3\r\n", dry_run="true"))
    client.put("/stock/fruit/apple", json=3)
    page = text(client.get(preview))
    assert lines(page) == []
    assert "Nothing would change." in page


def test_another_user_cannot_see_or_use_a_draft(make_app, make_user, seed, stored):
    seed(fruit={"apple": 30})
    make_user("alice")
    make_user("bob")
    app = make_app(ANONYMOUS_ACCESS="none")
    alice, bob = app.test_client(), app.test_client()
    assert login(alice, "alice").status_code == 303
    assert login(bob, "bob").status_code == 303
    token = csrf_token_of(alice.get("/import").get_data(True))
    data = {
        "csrf_token": token,
        "file": (io.BytesIO(HEADER + b"fruit,apple,3\r\n"), "s.csv"),
        "dry_run": "true",
    }
    preview = draft_of(
        alice.post("/import", data=data, content_type="multipart/form-data")
    )
    assert problem_page(bob.get(preview))["status"] == 404
    assert problem_page(import_these_changes(bob, preview))["status"] == 404
    assert stored() == {"fruit": {"apple": 30}}
    # ... and it is still there for alice.
    assert lines(text(alice.get(preview))) == ["fruit", "apple: 30 → 3"]
    assert import_these_changes(alice, preview).status_code == 303
    assert stored() == {"fruit": {"apple": 3}}


def test_an_expired_draft_is_refused(client, seed, stored, upload, rows):
    seed(fruit={"apple": 30})
    preview = draft_of(upload(HEADER + b"fruit,apple,3\r\n", dry_run="true"))
    hour_ago = datetime.now(UTC) - timedelta(hours=1, seconds=1)
    rows("UPDATE import_drafts SET created_at = :at", at=hour_ago)
    assert problem_page(client.get(preview))["status"] == 404
    assert problem_page(import_these_changes(client, preview))["status"] == 404
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize("token", ["x" * 43, "unknown", "é"])
def test_an_unknown_draft_is_refused(client, seed, stored, token):
    seed(fruit={"apple": 30})
    assert problem_page(client.get(f"/import/drafts/{token}"))["status"] == 404
    response = import_these_changes(client, f"/import/drafts/{token}")
    assert problem_page(response)["status"] == 404
    assert stored() == {"fruit": {"apple": 30}}


def test_import_these_changes_needs_its_csrf_token(client, seed, stored, upload, rows):
    seed(fruit={"apple": 30})
    preview = draft_of(upload(HEADER + b"fruit,apple,3\r\n", dry_run="true"))
    response = import_these_changes(client, preview, with_token=False)
    assert problem_page(response) == {
        "status": 400,
        "error": "Bad request",
        "detail": "The CSRF token is missing.",
    }
    assert stored() == {"fruit": {"apple": 30}}
    assert len(rows("SELECT token FROM import_drafts")) == 1


def test_import_these_changes_needs_the_write_role(
    make_app, make_user, seed, stored, rows
):
    seed(fruit={"apple": 30})
    make_user("viewer", "viewer")
    browser = make_app(ANONYMOUS_ACCESS="none").test_client()
    assert login(browser, "viewer").status_code == 303
    rows(
        "INSERT INTO import_drafts (token, owner, content, file_format, mode,"
        " created_at) VALUES (:token, 'viewer', :content, 'csv', 'merge', :at)",
        token="t" * 43,
        content=HEADER + b"fruit,apple,3\r\n",
        at=datetime.now(UTC),
    )
    assert browser.get("/import/drafts/" + "t" * 43).status_code == 403
    response = import_these_changes(browser, "/import/drafts/" + "t" * 43)
    assert response.status_code == 403
    assert stored() == {"fruit": {"apple": 30}}


def test_a_long_preview_is_paged_100_changes_at_a_time(client, seed, upload):
    seed(fruit={f"m{n:03}": 1 for n in range(150)})
    body = "".join(f"fruit,m{n:03},2\r\n" for n in range(120))
    body += "".join(f"veg,v{n:03},3\r\n" for n in range(100))
    preview = draft_of(
        upload(HEADER + body.encode(), "s.csv", mode="replace", dry_run="true")
    )
    first = text(client.get(preview))
    assert "Changes 1 to 100 of 250:" in first
    assert lines(first) == ["fruit"] + [f"m{n:03}: 1 → 2" for n in range(100)]
    assert f'<a href="{preview}?page=2" rel="next">More changes</a>' in first
    assert 'rel="prev"' not in first
    second = text(client.get(f"{preview}?page=2"))
    assert "Changes 101 to 200 of 250:" in second
    assert lines(second) == (
        ["fruit"]
        + [f"m{n:03}: 1 → 2" for n in range(100, 120)]
        + [f"m{n:03}: 1 → removed" for n in range(120, 150)]
        + ["veg (new)"]
        + [f"v{n:03}: new → 3" for n in range(50)]
    )
    assert f'<a href="{preview}?page=1" rel="prev">Earlier changes</a>' in second
    third = text(client.get(f"{preview}?page=3"))
    assert lines(third) == ["veg (new)"] + [f"v{n:03}: new → 3" for n in range(50, 100)]
    assert 'rel="next"' not in third
    assert problem_page(client.get(f"{preview}?page=4")) == {
        "status": 404,
        "error": "Not found",
        "detail": "This preview has pages 1 to 3, not 4.",
    }


def test_a_maker_keeps_only_the_newest_drafts(client, upload, rows):
    previews = [
        draft_of(upload(HEADER + f"fruit,apple,{n}\r\n".encode(), dry_run="true"))
        for n in range(MAX_DRAFTS_PER_OWNER + 2)
    ]
    kept = {row["token"] for row in rows("SELECT token FROM import_drafts")}
    assert kept == {p.rsplit("/", 1)[1] for p in previews[-MAX_DRAFTS_PER_OWNER:]}
    assert client.get(previews[0]).status_code == 404
    assert client.get(previews[-1]).status_code == 200


def test_saving_a_draft_prunes_the_expired_ones(upload, rows):
    rows(
        "INSERT INTO import_drafts (token, owner, content, file_format, mode,"
        " created_at) VALUES ('old', 'alice', :content, 'csv', 'merge', :at)",
        content=HEADER,
        at=datetime.now(UTC) - timedelta(hours=2),
    )
    preview = draft_of(upload(HEADER + b"fruit,apple,3\r\n", dry_run="true"))
    assert rows("SELECT token FROM import_drafts") == [
        {"token": preview.rsplit("/", 1)[1]}
    ]


def test_an_import_redirects_back_saying_what_it_did(client, seed, stored, upload):
    seed(fruit={"apple": 30})
    response = upload(HEADER + b"fruit,apple,3\r\nveg,leek,2\r\n", mode="merge")
    assert response.status_code == 303
    assert response.headers["Location"] == "/import"
    assert stored() == {"fruit": {"apple": 3}, "veg": {"leek": 2}}
    assert (
        "Imported 2 collections (1 new): 1 member added, 1 changed, 0 unchanged,"
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
        'Line 2: quantity "x" for apple in fruit must be a whole number from 0 to'
        " 9223372036854775807",
        "Line 3: member \"a/b\" in fruit must not contain '/'",
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
    assert safe.get_data() == (
        b"collection,member,quantity,code\r\nsheet,'=HYPERLINK(1),1,\r\nsheet,ok,2,\r\n"
    )
    exact = browser.get("/download/stock.csv?spreadsheet_safe=0")
    assert exact.get_data() == (
        b"collection,member,quantity,code\r\nsheet,=HYPERLINK(1),1,\r\nsheet,ok,2,\r\n"
    )
    document = browser.get("/download/stock.json")
    assert document.get_json() == {"sheet": {"=HYPERLINK(1)": 1, "ok": 2}}


def test_the_download_sends_a_stranger_to_log_in(make_app):
    browser = make_app(ANONYMOUS_ACCESS="none").test_client()
    response = browser.get("/download/stock.csv")
    assert response.status_code == 303
    assert response.headers["Location"] == "/log-in?next=/download/stock.csv"
