"""The stocktake pages: the list and "Open a count", a count's page where each
member's count is saved, and the review that commits or cancels it, as a
browser posts them. The stored state is read back after each form, through the
JSON API."""

from __future__ import annotations

import html
import re

import pytest
from helpers import bearer, csrf_token_of, problem_page

from stockapp.core.rules import MAX_QUANTITY
from stockapp.moves.stocktake_pages import anchor

LIST = "/stocktaking"
_FLASH = re.compile(r'<p class="flash (\w+)" role="status">(.*?)</p>', re.S)
_ALERT = re.compile(r'<p class="error" role="alert"(?: id="[\w-]+")?>(.*?)</p>', re.S)
_FIELD_ERROR = re.compile(r'<p class="error" id="([\w-]+)-error">(.*?)</p>', re.S)
_TAG = re.compile(r"<[^>]+>")
_ITEM = re.compile(r"<li[^>]*>(.*?)</li>", re.S)
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)


def text_of(fragment: str) -> str:
    """What a fragment of a page says, without its tags, spaces squeezed."""
    words = " ".join(html.unescape(_TAG.sub(" ", fragment)).split())
    return re.sub(r" ([,.])", r"\1", words)


def progress(page: str) -> str:
    """The progress line of a count page."""
    return text_of(re.search(r'<p id="progress-text">(.*?)</p>', page).group(1))


def page_of(response) -> str:
    return response.get_data(as_text=True)


def section(page: str, heading_id: str) -> str:
    """The part of the page from the heading ``heading_id`` to the next one."""
    start = page.index(f'id="{heading_id}"')
    end = page.find("<h2", start)
    return page[start : end if end != -1 else None]


def items(page: str, heading_id: str) -> list[str]:
    """The text of each list item under the heading ``heading_id``."""
    return [text_of(item) for item in _ITEM.findall(section(page, heading_id))]


def review_rows(page: str) -> list[list[str]]:
    body = page.partition('<table class="review"')[2].partition("</table>")[0]
    rows = _ROW.findall(body.partition("<tbody>")[2])
    return [[text_of(cell) for cell in _CELL.findall(row)] for row in rows]


def alerts(page: str) -> list[str]:
    return [text_of(found) for found in _ALERT.findall(page)]


def field_errors(page: str) -> dict[str, str]:
    return {key: text_of(why) for key, why in _FIELD_ERROR.findall(page)}


def post(browser, path: str, **form: str):
    """Post a form with the CSRF token of the browser's session."""
    token = csrf_token_of(page_of(browser.get("/log-in")))
    return browser.post(path, data={**form, "csrf_token": token})


def notice(browser, response) -> str:
    """Follow a form's 303; the notice the page shows."""
    assert response.status_code == 303
    page = page_of(browser.get(response.headers["Location"]))
    [(kind, message)] = _FLASH.findall(page)
    assert kind == "success"
    return html.unescape(message)


def save(browser, member: str, quantity: str, seen: str = "", stocktake: int = 1):
    """Post a member's count form as the count page has it."""
    path = f"{LIST}/{stocktake}/members/{member}/count"
    return post(browser, path, quantity=quantity, seen=seen)


@pytest.fixture
def api(client):
    """Call the JSON API (the test app is open to anonymous writers)."""

    def call(method: str, path: str, body=None, status: int | None = None):
        response = client.open(path, method=method, json=body)
        if status is not None:
            assert response.status_code == status, response.get_json()
        else:
            assert response.status_code < 300, response.get_json()
        return response.get_json()

    return call


@pytest.fixture
def shelf(seed, api):
    """The collection shelf and stocktake 1 of it, open, nothing counted."""
    seed(shelf={"nuts": 40, "bolts": 120, "Washers": 4})
    api("POST", "/stocktakes", {"collection": "shelf", "note": "end of March"})


def counts_of(api, stocktake: int = 1) -> dict[str, tuple[int, str | None]]:
    """Each member's stored count and who counted it."""
    report = api("GET", f"/stocktakes/{stocktake}")
    return {c["member"]: (c["counted"], c["counted_by"]) for c in report["counts"]}


# --- The list and "Open a count" -------------------------------------------------


def test_the_list_starts_empty_with_the_form_open(client, seed):
    seed(shelf={"nuts": 1}, attic={})
    home = page_of(client.get("/"))
    assert '<a href="/stocktaking">Stocktakes</a>' in home
    response = client.get(LIST)
    assert response.status_code == 200
    page = page_of(response)
    assert "<h1>Stocktakes</h1>" in page
    assert '<details class="open-count" open>' in page
    assert re.findall(r"<option>(.*?)</option>", page) == ["attic", "shelf"]
    assert '<p class="empty">No stocktake is open.</p>' in page
    assert (
        '<p class="empty">No stocktake has been committed or cancelled yet.</p>' in page
    )


def test_opening_a_count_goes_to_its_page(client, seed, api):
    seed(shelf={"nuts": 40})
    response = post(client, LIST, collection="shelf", note="  end of March ")
    assert response.headers["Location"] == f"{LIST}/1"
    assert notice(client, response) == (
        "Stocktake 1 of shelf opened: count each member, then review the"
        " differences and commit."
    )
    report = api("GET", "/stocktakes/1")
    assert (report["collection"], report["note"], report["state"]) == (
        "shelf",
        "end of March",
        "open",
    )
    assert report["uncounted"] == ["nuts"]


@pytest.mark.parametrize(
    ("form", "status", "errors"),
    [
        ({"collection": ""}, 400, {"collection": "Collection is required"}),
        (
            {"collection": "shelf", "note": "n" * 201},
            400,
            {"note": "Note must be at most 200 characters long"},
        ),
        (
            {"collection": "nowhere"},
            409,
            {"collection": "Collection nowhere does not exist"},
        ),
    ],
)
def test_a_count_that_cannot_be_opened_is_told_beside_its_field(
    client, seed, api, form, status, errors
):
    seed(shelf={"nuts": 40})
    response = post(client, LIST, **form)
    assert response.status_code == status
    page = page_of(response)
    assert field_errors(page) == errors
    assert '<details class="open-count" open>' in page
    if "note" in form:
        assert f'value="{form["note"]}"' in page
    assert api("GET", "/stocktakes") == {"stocktakes": []}


def test_the_list_shows_the_open_counts_then_the_recent(client, seed, api):
    seed(shelf={"nuts": 40, "bolts": 2}, attic={"box": 1})
    api("POST", "/stocktakes", {"collection": "shelf", "note": "March"})
    api("PUT", "/stocktakes/1/counts/nuts", {"quantity": 39})
    api("POST", "/stocktakes/1/commit", {})
    api("POST", "/stocktakes", {"collection": "attic"})
    api("POST", "/stocktakes/2/cancel")
    api("POST", "/stocktakes", {"collection": "shelf"})
    api("PUT", "/stocktakes/3/counts/bolts", {"quantity": 2})
    page = page_of(client.get(LIST))
    # Folded away once something is open: the list comes first.
    assert '<details class="open-count">' in page
    opened = [
        re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "T", item)
        for item in items(page, "open-heading")
    ]
    assert opened == [
        "Stocktake 3 of shelf Open since T UTC, by anonymous. 1 counted so far."
    ]
    recent = [
        re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "T", item)
        for item in items(page, "recent-heading")
    ]
    assert recent == [
        "Stocktake 2 of attic Cancelled T UTC by anonymous. 0 counted.",
        "Stocktake 1 of shelf March Committed T UTC by anonymous. 1 counted.",
    ]
    assert f'<a href="{LIST}/3">Stocktake 3 of shelf</a>' in page
    assert f'<a href="{LIST}/1/review">Stocktake 1 of shelf</a>' in page


# --- Counting -------------------------------------------------------------------


def test_the_count_page_lists_the_members_to_count_first(client, shelf, api):
    api("PUT", "/stocktakes/1/counts/nuts", {"quantity": 38})
    response = client.get(f"{LIST}/1")
    assert response.status_code == 200
    page = page_of(response)
    assert "<h1>Stocktake 1 of shelf</h1>" in page
    assert '<p class="note">end of March</p>' in page
    assert progress(page) == "1 of 3 counted."
    assert '<progress max="3" value="1"' in page
    # By name, ignoring case; each in its place, by a fragment id.
    assert items(page, "to-count-heading") == ["bolts count Save bolts"] + [
        "Washers count Save Washers"
    ]
    assert f'<li id="{anchor("bolts")}">' in page
    [nuts] = items(page, "counted-heading")
    assert re.fullmatch(
        r"nuts 38 Counted by anonymous, \d{4}-\d\d-\d\d \d\d:\d\d UTC Recount nuts"
        r" New count of nuts Save nuts",
        nuts,
    )
    # Big number fields for a thumb, the number pad on a phone.
    assert (
        '<input id="count-1" name="quantity" type="number" value="" required'
        ' inputmode="numeric" autocomplete="off">'
    ) in page
    action = f"{LIST}/1/members/bolts/count#{anchor('bolts')}"
    assert f'action="{action}"' in page


def test_a_filter_finds_members_by_part_of_their_name(client, shelf, api):
    api("PUT", "/stocktakes/1/counts/Washers", {"quantity": 4})
    page = page_of(client.get(f"{LIST}/1?q=S"))
    assert items(page, "to-count-heading") == [
        "bolts count Save bolts",
        "nuts count Save nuts",
    ]
    assert [item.split()[0] for item in items(page, "counted-heading")] == ["Washers"]
    assert "To count named like “S” (2)" in text_of(page)
    # The filter is kept by each form.
    assert f'action="{LIST}/1/members/nuts/count?q=S#{anchor("nuts")}"' in page
    page = page_of(client.get(f"{LIST}/1?q=kiwi"))
    assert "No member named like that is left to count." in page


def test_a_filter_too_long_is_refused_with_a_page(client, shelf):
    response = client.get(f"{LIST}/1?q={'x' * 101}")
    assert problem_page(response) == {
        "status": 400,
        "error": "Invalid input",
        "detail": "q: must be at most 100 characters",
    }


def test_a_first_count_is_saved_and_goes_on_to_the_next_member(client, shelf, api):
    response = save(client, "bolts", "118")
    assert response.headers["Location"] == f"{LIST}/1#{anchor('nuts')}"
    assert notice(client, response) == "Counted bolts: 118."
    assert counts_of(api) == {"bolts": (118, None)}
    # The last of the list goes back to the progress line.
    response = save(client, "Washers", "4")
    assert response.headers["Location"] == f"{LIST}/1#progress"
    page = page_of(client.get(f"{LIST}/1"))
    assert progress(page) == "2 of 3 counted."


def test_a_count_in_a_filtered_list_keeps_the_filter(client, shelf, api):
    response = post(
        client, f"{LIST}/1/members/bolts/count?q=s", quantity="118", seen=""
    )
    assert response.headers["Location"] == f"{LIST}/1?q=s#{anchor('nuts')}"
    assert counts_of(api) == {"bolts": (118, None)}


def test_a_recount_replaces_the_count_and_stays_in_place(client, shelf, api):
    api("PUT", "/stocktakes/1/counts/nuts", {"quantity": 38})
    seen = api("GET", "/stocktakes/1")["counts"][0]["counted_at"]
    page = page_of(client.get(f"{LIST}/1"))
    assert f'<input type="hidden" name="seen" value="{seen}">' in page
    response = save(client, "nuts", "41", seen)
    assert response.headers["Location"] == f"{LIST}/1#{anchor('nuts')}"
    assert notice(client, response) == "Recounted nuts: 41 (was 38)."
    assert counts_of(api) == {"nuts": (41, None)}


def test_a_recount_of_a_count_not_seen_is_refused_and_told(
    closed, seed, api, make_user
):
    seed(shelf={"nuts": 40, "bolts": 120})
    ann, bob = closed("clerk"), closed("admin")
    post(ann, LIST, collection="shelf")
    # Ann's page shows nuts still to count; Bob counts them meanwhile.
    assert save(bob, "nuts", "38").status_code == 303
    response = save(ann, "nuts", "36")
    assert response.status_code == 409
    page = page_of(response)
    assert alerts(page) == [
        "nuts was counted as 38 by admin meanwhile. Nothing was saved; save again"
        " to replace their count."
    ]
    # Shown beside nuts, now among the counted, with what Ann typed.
    [nuts] = _ITEM.findall(section(page, "counted-heading"))
    assert "<details open>" in nuts
    assert 'value="36"' in nuts
    assert counts_of(api) == {"nuts": (38, "admin")}
    # Sent again from that page (which shows Bob's count), it replaces it.
    seen = re.search(r'name="seen" value="([^"]+)"', nuts).group(1)
    response = save(ann, "nuts", "36", seen)
    assert notice(ann, response) == "Recounted nuts: 36 (was 38)."
    assert counts_of(api) == {"nuts": (36, "clerk")}


def test_the_same_count_saved_twice_is_no_conflict(client, shelf, api):
    assert save(client, "nuts", "38").status_code == 303
    response = save(client, "nuts", "38")
    assert notice(client, response) == "Recounted nuts: 38."
    assert counts_of(api) == {"nuts": (38, None)}


@pytest.mark.parametrize("typed", ["", "-1", "x", "1.5", "9" * 30])
def test_a_bad_count_is_told_beside_its_member(client, shelf, api, typed):
    response = save(client, "bolts", typed)
    assert response.status_code == 400
    page = page_of(response)
    assert field_errors(page) == {
        "count-1": f"bolts must be a whole number from 0 to {MAX_QUANTITY}"
    }
    assert f'value="{typed}"' in section(page, "to-count-heading")
    assert counts_of(api) == {}


def test_a_count_of_no_member_is_told_on_top(client, shelf, api):
    response = save(client, "kiwi", "3")
    assert response.status_code == 409
    assert alerts(page_of(response)) == ['Collection "shelf" has no member "kiwi".']
    assert counts_of(api) == {}


def test_a_count_once_committed_is_refused_and_the_page_is_read_only(
    client, shelf, api, stored
):
    api("POST", "/stocktakes/1/commit", {})
    response = save(client, "bolts", "3")
    assert response.status_code == 409
    page = page_of(response)
    assert alerts(page) == [
        "Stocktake 1 is committed: it can no longer change; nothing was changed."
    ]
    assert "this stocktake is read-only now." in text_of(page)
    assert '<form class="count"' not in page
    assert items(page, "to-count-heading") == ["bolts", "nuts", "Washers"]
    assert stored() == {"shelf": {"nuts": 40, "bolts": 120, "Washers": 4}}


# --- Review, commit and cancel ----------------------------------------------------


def test_the_review_shows_each_variance_signed(client, shelf, api):
    api("PUT", "/stocktakes/1/counts/nuts", {"quantity": 38})
    api("PUT", "/stocktakes/1/counts/bolts", {"quantity": 123})
    # Sold after the count: not a loss.
    api("POST", "/stock/shelf/nuts/adjustments", {"delta": -5})
    response = client.get(f"{LIST}/1/review")
    assert response.status_code == 200
    page = page_of(response)
    assert review_rows(page) == [
        ["bolts", "120", "123", "+3", "123"],
        ["nuts", "35", "38", "−2", "33"],
    ]
    assert items(page, "uncounted-heading") == ["Washers"]
    assert "2 of 3 members counted; 2 differ from the stock." in text_of(page)
    assert 'name="checked" value="yes" required' in page
    assert f'href="{LIST}/1/cancel">Cancel the count…</a>' in page


def test_a_commit_needs_the_box_ticked(client, shelf, api, stored):
    api("PUT", "/stocktakes/1/counts/nuts", {"quantity": 38})
    response = post(client, f"{LIST}/1/commit", uncounted="zero")
    assert response.status_code == 400
    page = page_of(response)
    assert field_errors(page) == {
        "checked": "Tick “I have checked the variances” to commit."
    }
    # The choice made is kept.
    assert 'value="zero" checked' in page
    assert api("GET", "/stocktakes/1")["state"] == "open"
    assert stored() == {"shelf": {"nuts": 40, "bolts": 120, "Washers": 4}}


def test_a_commit_with_an_unknown_choice_is_refused(client, shelf, api):
    response = post(client, f"{LIST}/1/commit", uncounted="guess", checked="yes")
    assert response.status_code == 400
    assert field_errors(page_of(response)) == {
        "uncounted": "The members nobody counted must be chosen: leave them, or set"
        " them to 0"
    }
    assert api("GET", "/stocktakes/1")["state"] == "open"


@pytest.mark.parametrize(
    ("uncounted", "said", "washers"),
    [
        ("leave", "", 4),
        ("zero", " and the members nobody counted set to 0", 0),
    ],
)
def test_a_commit_makes_the_counts_the_stock(
    client, shelf, api, stored, uncounted, said, washers
):
    api("PUT", "/stocktakes/1/counts/nuts", {"quantity": 38})
    api("PUT", "/stocktakes/1/counts/bolts", {"quantity": 123})
    api("POST", "/stock/shelf/nuts/adjustments", {"delta": -5})
    response = post(client, f"{LIST}/1/commit", uncounted=uncounted, checked="yes")
    assert response.headers["Location"] == f"{LIST}/1/review"
    assert notice(client, response) == (
        f"Stocktake 1 of shelf committed: the stock is now what was counted{said}."
    )
    assert stored() == {"shelf": {"nuts": 33, "bolts": 123, "Washers": washers}}
    assert api("GET", "/stocktakes/1")["state"] == "committed"
    # Read-only now, saying so, with what the commit found and set.
    page = page_of(client.get(f"{LIST}/1/review"))
    assert "Its counts became the stock; this stocktake is read-only now." in page
    assert "Commit the stocktake" not in page and "Cancel the count" not in page
    assert review_rows(page) == [
        ["bolts", "120", "123", "+3", "123"],
        ["nuts", "35", "38", "−2", "33"],
    ]
    done = "set them to 0" if uncounted == "zero" else "left them as they were"
    assert f"The commit {done}." in page
    count_page = page_of(client.get(f"{LIST}/1"))
    assert '<form class="count"' not in count_page
    assert "this stocktake is read-only now." in text_of(count_page)


def test_a_second_commit_is_refused_on_the_review(client, shelf, api, stored):
    api("PUT", "/stocktakes/1/counts/nuts", {"quantity": 38})
    api("POST", "/stocktakes/1/commit", {})
    api("POST", "/stock/shelf/nuts/adjustments", {"delta": 2})
    response = post(client, f"{LIST}/1/commit", uncounted="zero", checked="yes")
    assert response.status_code == 409
    assert alerts(page_of(response)) == [
        "Stocktake 1 is committed: it can no longer change; nothing was changed."
    ]
    assert stored() == {"shelf": {"nuts": 40, "bolts": 120, "Washers": 4}}


def test_a_commit_after_the_collection_was_deleted_is_refused(client, shelf, api):
    api("DELETE", "/stock/shelf")
    response = post(client, f"{LIST}/1/commit", uncounted="leave", checked="yes")
    assert response.status_code == 409
    assert alerts(page_of(response)) == [
        'Collection "shelf" was deleted after stocktake 1 was opened; nothing was'
        " changed. Cancel the stocktake."
    ]
    assert api("GET", "/stocktakes/1")["state"] == "open"


def test_a_cancel_is_confirmed_then_changes_no_stock(client, shelf, api, stored):
    api("PUT", "/stocktakes/1/counts/nuts", {"quantity": 3})
    response = client.get(f"{LIST}/1/cancel")
    assert response.status_code == 200
    page = page_of(response)
    assert "<h1>Cancel stocktake 1 of shelf?</h1>" in page
    assert "Its 1 count is kept as a record, but the stock is not changed" in page
    response = post(client, f"{LIST}/1/cancel")
    assert response.headers["Location"] == f"{LIST}/1/review"
    assert notice(client, response) == (
        "Stocktake 1 of shelf cancelled: the stock was not changed."
    )
    assert api("GET", "/stocktakes/1")["state"] == "cancelled"
    assert stored() == {"shelf": {"nuts": 40, "bolts": 120, "Washers": 4}}
    review = page_of(client.get(f"{LIST}/1/review"))
    assert "The stock was not changed; this stocktake is read-only now." in review
    # Cancelled twice: told on the confirmation page.
    response = post(client, f"{LIST}/1/cancel")
    assert response.status_code == 409
    assert alerts(page_of(response)) == [
        "Stocktake 1 is cancelled: it can no longer change; nothing was changed."
    ]


# --- Missing stocktakes, CSRF, who may --------------------------------------------

PAGES = [f"{LIST}/1", f"{LIST}/1/review", f"{LIST}/1/cancel"]
FORMS = {
    LIST: {"collection": "shelf"},
    f"{LIST}/1/members/nuts/count": {"quantity": "3", "seen": ""},
    f"{LIST}/1/commit": {"uncounted": "leave", "checked": "yes"},
    f"{LIST}/1/cancel": {},
}


@pytest.mark.parametrize("path", [*PAGES, *list(FORMS)[1:]])
def test_a_missing_stocktake_is_a_404_page(client, seed, path):
    seed(shelf={"nuts": 40})
    response = client.get(path) if path in PAGES else post(client, path, **FORMS[path])
    assert problem_page(response) == {
        "status": 404,
        "error": "Stocktake not found",
        "detail": "There is no stocktake 1.",
    }


def test_an_id_beyond_any_is_not_routed(client):
    assert client.get(f"{LIST}/{2**63}").status_code == 404


@pytest.mark.parametrize("path", sorted(FORMS))
def test_each_form_needs_its_csrf_token(client, shelf, api, stored, path):
    response = client.post(path, data=FORMS[path])
    assert problem_page(response) == {
        "status": 400,
        "error": "Bad request",
        "detail": "The CSRF token is missing.",
    }
    assert [one["id"] for one in api("GET", "/stocktakes")["stocktakes"]] == [1]
    assert api("GET", "/stocktakes/1")["state"] == "open"
    assert counts_of(api) == {}


@pytest.mark.parametrize("role", ["clerk", "admin"])
def test_clerks_and_admins_count_and_commit_under_their_name(
    closed, shelf, api, stored, role
):
    browser = closed(role)
    for path in (LIST, *PAGES):
        assert browser.get(path).status_code == 200, path
    assert save(browser, "nuts", "38").status_code == 303
    assert counts_of(api) == {"nuts": (38, role)}
    response = post(browser, f"{LIST}/1/commit", uncounted="leave", checked="yes")
    assert response.status_code == 303
    assert api("GET", "/stocktakes/1")["closed_by"] == role
    assert stored()["shelf"]["nuts"] == 38


def test_a_viewer_reads_every_page_without_a_form(closed, shelf, api):
    api("PUT", "/stocktakes/1/counts/nuts", {"quantity": 38})
    viewer = closed("viewer")
    assert '<a href="/stocktaking">Stocktakes</a>' in page_of(viewer.get("/"))
    for path in (LIST, f"{LIST}/1", f"{LIST}/1/review"):
        response = viewer.get(path)
        assert response.status_code == 200, path
        page = page_of(response)
        # The only forms: finding a member, and logging out.
        assert re.findall(r'<form [^>]*action="([^"]+)"', page) == (
            ["/log-out", f"{LIST}/1"] if path == f"{LIST}/1" else ["/log-out"]
        )
    assert "Review</a>" in page_of(viewer.get(f"{LIST}/1"))


def test_a_viewer_may_not_write(closed, shelf, api):
    viewer = closed("viewer")
    refused = {
        "status": 403,
        "error": "Forbidden",
        "detail": "Only a clerk or an admin may do this; you are logged in as"
        " viewer, a viewer.",
    }
    assert problem_page(viewer.get(f"{LIST}/1/cancel")) == refused
    for path, form in FORMS.items():
        assert problem_page(post(viewer, path, **form)) == refused, path
    assert [one["id"] for one in api("GET", "/stocktakes")["stocktakes"]] == [1]
    assert api("GET", "/stocktakes/1")["state"] == "open"
    assert counts_of(api) == {}


def test_anonymous_is_sent_to_log_in(closed, shelf, api):
    anonymous = closed(None)
    for path in (LIST, *PAGES):
        response = anonymous.get(path)
        assert response.status_code == 303
        assert response.headers["Location"] == f"/log-in?next={path}"
    for path, form in FORMS.items():
        response = post(anonymous, path, **form)
        assert response.status_code == 303
        assert response.headers["Location"] == f"/log-in?next={path}"
    assert api("GET", "/stocktakes/1")["state"] == "open"
    assert counts_of(api) == {}


def test_a_token_limited_to_some_collections_sees_only_their_stocktakes(
    client, seed, api, make_user, make_token
):
    seed(shelf={"nuts": 40}, attic={"box": 1})
    api("POST", "/stocktakes", {"collection": "shelf"})
    api("POST", "/stocktakes", {"collection": "attic"})
    make_user("ann", "clerk")
    limited = {**bearer(make_token("ann", "write", ["attic"])), "Accept": "text/html"}
    page = page_of(client.get(LIST, headers=limited))
    assert items(page, "open-heading")[0].startswith("Stocktake 2 of attic")
    assert len(items(page, "open-heading")) == 1
    assert re.findall(r"<option>(.*?)</option>", page) == ["attic"]
    assert problem_page(client.get(f"{LIST}/1", headers=limited))["status"] == 404
    token = csrf_token_of(page_of(client.get("/log-in")))
    response = client.post(
        f"{LIST}/1/members/nuts/count",
        data={"quantity": "1", "seen": "", "csrf_token": token},
        headers=limited,
    )
    assert problem_page(response)["status"] == 404
    response = client.post(
        LIST, data={"collection": "shelf", "csrf_token": token}, headers=limited
    )
    assert response.status_code == 409
    assert field_errors(page_of(response)) == {
        "collection": "Collection shelf does not exist"
    }
    assert counts_of(api) == {}
    assert len(api("GET", "/stocktakes")["stocktakes"]) == 2
