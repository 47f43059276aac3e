"""The movement log as pages: /collections/<c>/history and a member's own."""

from __future__ import annotations

import re


def entries(page: str) -> list[str]:
    """Each movement's change line, in the order shown, whitespace folded."""
    changes = re.findall(r'<p class="change">(.*?)</p>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", change).split()) for change in changes]


def test_a_collections_history_is_shown_newest_first(client, seed):
    seed(fruit={"apple": 30, "pear": 2})
    client.post("/stock/fruit/apple/adjustments", json={"delta": -3, "reason": "sold"})
    client.delete("/stock/fruit/pear")
    response = client.get("/collections/fruit/history")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert entries(page) == [
        "pear : 2 → removed (deleted)",
        "apple : 30 → 27 (taken) — sold",
        "pear : new → 2 (created)",
        "apple : new → 30 (created)",
    ]
    assert page.count("by anonymous,") == 4


def test_a_members_history_shows_only_that_member(client, seed):
    seed(fruit={"apple": 30, "pear": 2})
    client.put("/stock/fruit/apple", json=31)
    page = client.get("/collections/fruit/members/apple/history").get_data(as_text=True)
    assert "History of apple in fruit" in page
    # Back to the member on its collection's page, or to the whole history.
    assert '<a href="/collections/fruit?q=apple">Back to fruit</a>' in page
    assert '<a href="/collections/fruit/history">All of fruit</a>' in page
    assert entries(page) == [
        "30 → 31 (set)",
        "new → 30 (created)",
    ]


def test_every_kind_is_said_in_words():
    from stockapp.history.models import MOVEMENT_KINDS
    from stockapp.history.words import WORDED_KINDS, kind_in_words

    assert set(MOVEMENT_KINDS) == WORDED_KINDS
    said = {
        (kind, before, after): kind_in_words(
            {"kind": kind, "before": before, "after": after}
        )
        for kind, before, after in [
            ("adjust", 30, 27),
            ("adjust", 27, 30),
            ("transfer", 5, 0),
            ("transfer", None, 5),
            ("replace", 3, 3),
            ("update", 3, 4),
            ("update", None, 4),
            ("create", None, 1),
            ("delete", 1, None),
            ("import", 1, 2),
            ("stocktake", 9, 8),
        ]
    }
    assert list(said.values()) == [
        "taken",
        "added",
        "moved out",
        "moved in",
        "set",
        "set",
        "created",
        "created",
        "deleted",
        "imported",
        "counted",
    ]


def test_the_history_comes_in_pages(client, seed):
    seed(fruit={f"m{i}": i for i in range(5)})
    page = client.get("/collections/fruit/history?limit=2").get_data(as_text=True)
    assert len(entries(page)) == 2
    older = re.search(r'<a href="([^"]+)" rel="next">Older</a>', page)
    assert older is not None
    seen = len(entries(page))
    while older is not None:
        page = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
        seen += len(entries(page))
        older = re.search(r'<a href="([^"]+)" rel="next">Older</a>', page)
    assert seen == 5


def test_a_collection_without_history_says_so(client):
    page = client.get("/collections/nothing/history").get_data(as_text=True)
    assert "Nothing has happened here yet." in page


def test_a_bad_name_or_page_is_refused(client):
    assert client.get("/collections/%20/history").status_code == 400
    assert client.get("/collections/fruit/history?limit=0").status_code == 400
    assert client.get("/collections/fruit/history?cursor=nope").status_code == 400


def test_the_history_pages_send_a_stranger_to_log_in(make_app):
    client = make_app(ANONYMOUS_ACCESS="none").test_client()
    response = client.get("/collections/fruit/history")
    assert response.status_code == 303
    assert response.headers["Location"] == "/log-in?next=/collections/fruit/history"
