"""Reorder levels (PUT/GET /stock/<c>/<m>/reorder-level) and GET /low-stock."""

from __future__ import annotations

import pytest
from helpers import bearer

LEVEL = "/stock/fruit/apple/reorder-level"
JSON = {"Content-Type": "application/json"}


def put_level(client, body: str, path: str = LEVEL, **headers: str):
    """PUT a raw JSON body (``null`` included, which ``json=`` cannot send)."""
    return client.put(path, data=body, headers={**JSON, **headers})


def stored_levels(rows) -> dict[str, int | None]:
    found = rows("SELECT name, reorder_level FROM members ORDER BY id")
    return {row["name"]: row["reorder_level"] for row in found}


def test_a_member_has_no_level_until_one_is_set(client, seed):
    seed(fruit={"apple": 3})
    response = client.get(LEVEL)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.get_data(as_text=True) == "null\n"
    # The level is part of the member: the same tag.
    assert response.headers["ETag"] == client.get("/stock/fruit/apple").headers["ETag"]


def test_setting_a_level_stores_it_and_changes_the_members_tag(client, seed, rows):
    seed(fruit={"apple": 3, "pear": 9})
    before = client.get("/stock/fruit/apple").headers["ETag"]
    response = put_level(client, "5")
    assert response.status_code == 200
    assert response.get_json() == {"message": "Reorder level set"}
    assert response.headers["ETag"] != before
    assert client.get(LEVEL).get_data(as_text=True) == "5\n"
    assert client.get(LEVEL).headers["ETag"] == response.headers["ETag"]
    assert client.get("/stock/fruit/apple").headers["ETag"] == response.headers["ETag"]
    assert stored_levels(rows) == {"apple": 5, "pear": None}
    # The quantity is untouched, and nothing is logged as a movement.
    assert client.get("/stock/fruit").get_json() == {"apple": 3, "pear": 9}
    kinds = [m["kind"] for m in client.get("/stock/fruit/history").json["movements"]]
    assert kinds == ["create", "create"]


def test_the_same_level_again_changes_nothing(client, seed):
    seed(fruit={"apple": 3})
    first = put_level(client, "5")
    again = put_level(client, "5")
    assert again.status_code == 200
    assert again.get_json() == {"message": "Reorder level set"}
    assert again.headers["ETag"] == first.headers["ETag"]


def test_null_clears_the_level(client, seed, rows):
    seed(fruit={"apple": 3})
    put_level(client, "5")
    response = put_level(client, "null")
    assert response.status_code == 200
    assert response.get_json() == {"message": "Reorder level cleared"}
    assert client.get(LEVEL).get_data(as_text=True) == "null\n"
    assert stored_levels(rows) == {"apple": None}
    assert client.get("/low-stock").get_json() == {"low_stock": []}


@pytest.mark.parametrize(
    "body",
    ["-1", "1.5", "1e3", '"5"', "true", "{}", "[5]", str(2**63), "5 5", ""],
)
def test_a_bad_level_is_refused_and_nothing_changes(client, seed, rows, body):
    seed(fruit={"apple": 3})
    put_level(client, "7")
    response = put_level(client, body)
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.get_json()["error"] == "Invalid input"
    assert stored_levels(rows) == {"apple": 7}


def test_a_level_needs_a_json_body(client, seed, rows):
    seed(fruit={"apple": 3})
    response = client.put(LEVEL, data="5", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert stored_levels(rows) == {"apple": None}


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/stock/veg/apple/reorder-level", "Collection not found"),
        ("/stock/fruit/kiwi/reorder-level", "Member not found"),
    ],
)
def test_a_level_for_what_is_not_there_is_404(client, seed, rows, path, error):
    seed(fruit={"apple": 3})
    response = put_level(client, "5", path)
    assert response.status_code == 404
    assert response.get_json()["error"] == error
    assert client.get(path).status_code == 404
    assert client.get(path).get_json()["error"] == "Not found"
    assert stored_levels(rows) == {"apple": None}


def test_if_match_guards_the_level(client, seed, rows):
    seed(fruit={"apple": 3})
    tag = client.get(LEVEL).headers["ETag"]
    client.patch("/stock/fruit", json={"apple": 4})  # someone else changed it
    stale = put_level(client, "5", **{"If-Match": tag})
    assert stale.status_code == 412
    assert stored_levels(rows) == {"apple": None}
    current = client.get(LEVEL).headers["ETag"]
    assert put_level(client, "5", **{"If-Match": current}).status_code == 200
    assert stored_levels(rows) == {"apple": 5}


def test_if_none_match_answers_304(client, seed):
    seed(fruit={"apple": 3})
    tag = client.get(LEVEL).headers["ETag"]
    response = client.get(LEVEL, headers={"If-None-Match": tag})
    assert response.status_code == 304
    assert response.data == b""


def test_low_stock_lists_members_at_or_below_their_level(client, seed):
    seed(fruit={"apple": 3, "pear": 9, "fig": 2}, veg={"leek": 0, "kale": 8})
    for path, level in [
        ("/stock/fruit/apple", "3"),  # at its level: low
        ("/stock/fruit/pear", "5"),  # above: not low
        ("/stock/veg/leek", "1"),  # below: low
    ]:
        assert put_level(client, level, f"{path}/reorder-level").status_code == 200
    response = client.get("/low-stock")
    assert response.status_code == 200
    assert "Link" not in response.headers
    assert response.get_json() == {
        "low_stock": [
            {
                "collection": "fruit",
                "member": "apple",
                "quantity": 3,
                "reorder_level": 3,
            },
            {"collection": "veg", "member": "leek", "quantity": 0, "reorder_level": 1},
        ]
    }


def test_low_stock_follows_the_quantities(client, seed):
    seed(fruit={"apple": 10})
    put_level(client, "5")
    assert client.get("/low-stock").get_json() == {"low_stock": []}
    client.post("/stock/fruit/apple/adjustments", json={"delta": -5})
    assert [m["quantity"] for m in client.get("/low-stock").json["low_stock"]] == [5]
    client.put("/stock/fruit/apple", json=6)
    assert client.get("/low-stock").get_json() == {"low_stock": []}
    client.put("/stock/fruit/apple", json=1)
    client.delete("/stock/fruit/apple")
    assert client.get("/low-stock").get_json() == {"low_stock": []}


def test_low_stock_comes_in_pages(client, seed):
    seed(fruit={f"m{i}": 0 for i in range(5)})
    for i in range(5):
        put_level(client, "1", f"/stock/fruit/m{i}/reorder-level")
    seen = []
    response = client.get("/low-stock?limit=2")
    while True:
        assert response.status_code == 200
        seen += [m["member"] for m in response.get_json()["low_stock"]]
        link = response.headers.get("Link")
        if link is None:
            break
        response = client.get(link[1 : link.index(">")])
    assert seen == [f"m{i}" for i in range(5)]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "limit=x", "cursor=", "cursor=nope"]
)
def test_low_stock_refuses_a_bad_page(client, query):
    response = client.get(f"/low-stock?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "Invalid input"


def test_a_limited_token_sees_only_its_collections_low_stock(
    make_app, make_user, make_token, seed, client
):
    seed(fruit={"apple": 0}, veg={"leek": 0})
    put_level(client, "1")
    put_level(client, "1", "/stock/veg/leek/reorder-level")
    make_user("clerk")
    token = make_token("clerk", "read", collections=["veg"])
    response = client.get("/low-stock", headers=bearer(token))
    assert response.status_code == 200
    assert [m["member"] for m in response.get_json()["low_stock"]] == ["leek"]
    # Another collection's level is not there for it.
    assert client.get(LEVEL, headers=bearer(token)).status_code == 404


@pytest.mark.sqlite_only
@pytest.mark.parametrize("statement", ["low_stock", "low_stock_count"])
def test_low_stock_reads_the_index_of_low_members(app, statement):
    from test_stock_reads import query_plan

    plan = query_plan(app, statement)
    assert "ix_members_low_stock" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_low_stock_is_one_statement_and_a_level_a_few(
    client, seed, count_statements, backend
):
    seed(fruit={"apple": 3})
    with count_statements() as read:
        client.get("/low-stock")
    assert len(read) == 1
    with count_statements() as written:
        put_level(client, "5")
    # BEGIN, lock the collection and read the member (one statement on SQLite,
    # two on PostgreSQL), update it (COMMIT is unseen).
    assert len(written) == (3 if backend == "sqlite" else 4), written


BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_a_browser_gets_the_low_stock_page_and_curl_the_json(client, seed):
    seed(fruit={"apple": 1, "pear": 9})
    put_level(client, "2")
    page = client.get("/low-stock", headers=BROWSER)
    assert page.status_code == 200
    assert page.content_type == "text/html; charset=utf-8"
    assert page.headers["Vary"].startswith("Accept")
    text = page.get_data(as_text=True)
    # Each low member links to its collection's page, found there by name.
    assert '<td><a href="/collections/fruit/members/apple">apple</a></td>' in text
    assert "pear" not in text
    api = client.get("/low-stock", headers={"Accept": "*/*"})
    assert api.content_type == "application/json"
    assert api.headers["Vary"].startswith("Accept")
    assert [m["member"] for m in api.get_json()["low_stock"]] == ["apple"]


def test_the_low_stock_page_sends_a_browser_to_log_in(make_app, seed):
    app = make_app(ANONYMOUS_ACCESS="none")
    client = app.test_client()
    page = client.get("/low-stock?limit=5", headers=BROWSER)
    assert page.status_code == 303
    assert page.headers["Location"] == "/log-in?next=/low-stock?limit%3D5"
    # An API caller without credentials is answered 401, as on every API route.
    assert client.get("/low-stock").status_code == 401


def test_the_overview_counts_the_low_members(client, seed):
    seed(fruit={"apple": 1, "pear": 9, "fig": 0})
    put_level(client, "2")
    put_level(client, "0", "/stock/fruit/fig/reorder-level")
    assert "Low stock: 2</a>" in client.get("/").get_data(as_text=True)
