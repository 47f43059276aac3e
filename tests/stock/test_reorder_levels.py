"""Reorder levels (PUT/GET /stock/<c>/<m>/reorder-level) and GET /low-stock."""

from __future__ import annotations

import html
import re

import pytest
from helpers import bearer, pages_from, problem_page

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
    # The quantity is untouched; the change is logged as a "level" movement
    # (tests/history/test_level_changes.py).
    assert client.get("/stock/fruit").get_json() == {"apple": 3, "pear": 9}
    kinds = [m["kind"] for m in client.get("/stock/fruit/history").json["movements"]]
    assert kinds == ["level", "create", "create"]


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
    # two on PostgreSQL), update it, log the change, and ask whether any
    # webhook wants it: on SQLite in the lock's statement (COMMIT is unseen).
    assert len(written) == (4 if backend == "sqlite" else 6), written
    asked = [s for s in written if "FROM webhook_subscriptions" in s]
    assert len(asked) == 1
    if backend == "sqlite":
        assert asked[0].startswith("SELECT collections.id")


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


# --- The low-stock list's shortfall, sorts, collection and CSV -----------------------


# A link of the sorts: (href, its aria-current if any, its text).
SORT_LINK = r'<a href="([^"]+)"( aria-current="true")?>([^<]+)</a>'


def set_levels(client, levels: dict[str, int]) -> None:
    """Set reorder levels: ``{"fruit/apple": 5}``."""
    for path, level in levels.items():
        response = client.put(f"/stock/{path}/reorder-level", json=level)
        assert response.status_code == 200, response.get_json()


def seed_low(client, seed) -> None:
    """Low members made in this order, with these shortfalls: apple 2, fig 0
    (at its level), leek 7, kale 2, dill 5; pear is not low."""
    seed(
        fruit={"apple": 3, "pear": 9, "fig": 4},
        veg={"leek": 0, "kale": 1},
        herbs={"dill": 5},
    )
    set_levels(
        client,
        {
            "fruit/apple": 5,
            "fruit/pear": 2,
            "fruit/fig": 4,
            "veg/leek": 7,
            "veg/kale": 3,
            "herbs/dill": 10,
        },
    )


_LOW_ROW = re.compile(
    r'<tr>\s*<td><a href="[^"]+">(.*?)</a></td>\s*<td><a href="[^"]+">(.*?)</a></td>'
    r'\s*<td class="quantity">([\d,]+)</td>\s*<td class="quantity">([\d,]+)</td>'
    r'\s*<td class="quantity shortfall">([\d,]+)</td>',
)


def low_rows(page: str) -> list[tuple[str, ...]]:
    """(collection, member, quantity, level, shortfall) of each row shown."""
    return [
        tuple(html.unescape(cell) for cell in row) for row in _LOW_ROW.findall(page)
    ]


def low_pages(client, url: str) -> list[tuple[str, ...]]:
    return [row for page in pages_from(client, url, "More") for row in low_rows(page)]


def test_the_low_stock_page_shows_each_shortfall(client, seed):
    seed_low(client, seed)
    response = client.get("/low-stock", headers=BROWSER)
    assert response.status_code == 200
    # Oldest first, as always; at its level, the shortfall is 0.
    assert low_rows(response.get_data(as_text=True)) == [
        ("fruit", "apple", "3", "5", "2"),
        ("fruit", "fig", "4", "4", "0"),
        ("veg", "leek", "0", "7", "7"),
        ("veg", "kale", "1", "3", "2"),
        ("herbs", "dill", "5", "10", "5"),
    ]


BY_SHORTFALL = [
    ("veg", "leek", "0", "7", "7"),
    ("herbs", "dill", "5", "10", "5"),
    # Equal shortfalls: the older first.
    ("fruit", "apple", "3", "5", "2"),
    ("veg", "kale", "1", "3", "2"),
    ("fruit", "fig", "4", "4", "0"),
]


@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_the_low_stock_page_sorts_by_shortfall_a_page_at_a_time(client, seed, limit):
    seed_low(client, seed)
    url = f"/low-stock?sort=shortfall&limit={limit}"
    with client:
        client.environ_base.update(HTTP_ACCEPT=BROWSER["Accept"])
        assert low_pages(client, url) == BY_SHORTFALL
        oldest = low_pages(client, f"/low-stock?limit={limit}")
    assert [row[1] for row in oldest] == ["apple", "fig", "leek", "kale", "dill"]


def test_the_api_sorts_by_shortfall_too_following_link(client, seed):
    seed_low(client, seed)
    seen = []
    response = client.get("/low-stock?sort=shortfall&limit=2")
    while True:
        assert response.status_code == 200
        seen += [m["member"] for m in response.get_json()["low_stock"]]
        link = response.headers.get("Link")
        if link is None:
            break
        assert "sort=shortfall" in link
        response = client.get(link[1 : link.index(">")])
    assert seen == ["leek", "dill", "apple", "kale", "fig"]


def test_the_low_stock_page_lists_one_collection_when_asked(client, seed):
    seed_low(client, seed)
    page = client.get("/low-stock?collection=veg&sort=shortfall", headers=BROWSER)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert low_rows(text) == [
        ("veg", "leek", "0", "7", "7"),
        ("veg", "kale", "1", "3", "2"),
    ]
    # The CSV link downloads what is shown.
    assert (
        '<a href="/download/low-stock.csv?sort=shortfall&amp;collection=veg" download>'
    ) in text
    api = client.get("/low-stock?collection=herbs").get_json()
    assert api == {
        "low_stock": [
            {
                "collection": "herbs",
                "member": "dill",
                "quantity": 5,
                "reorder_level": 10,
            }
        ]
    }


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("sort=quantity", "sort: must be one of created, shortfall"),
        ("sort=shortfall&cursor=nope", "cursor: is not a cursor this API gave out"),
        ("collection=a/b", "collection: must not contain '/'"),
    ],
)
def test_the_low_stock_list_refuses_a_bad_sort_cursor_or_name(client, query, detail):
    response = client.get(f"/low-stock?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "Invalid input"
    page = client.get(f"/low-stock?{query}", headers=BROWSER)
    assert problem_page(page) == {
        "status": 400,
        "error": "Invalid input",
        "detail": detail,
    }


def test_a_cursor_of_one_low_stock_order_is_refused_by_the_other(client, seed):
    seed_low(client, seed)
    link = client.get("/low-stock?sort=shortfall&limit=1").headers["Link"]
    cursor = link[link.index("cursor=") + 7 : link.index(">")]
    assert client.get(f"/low-stock?cursor={cursor}").status_code == 400
    link = client.get("/low-stock?limit=1").headers["Link"]
    cursor = link[link.index("cursor=") + 7 : link.index(">")]
    assert client.get(f"/low-stock?sort=shortfall&cursor={cursor}").status_code == 400


def test_an_unknown_or_unseen_collection_is_not_found(
    make_user, make_token, seed, client
):
    seed_low(client, seed)
    make_user("clerk")
    token = make_token("clerk", "read", collections=["veg"])
    for headers, collection in [
        ({}, "nuts"),
        (bearer(token), "fruit"),
        (bearer(token), "nuts"),
    ]:
        for path in ("/low-stock", "/download/low-stock.csv"):
            response = client.get(f"{path}?collection={collection}", headers=headers)
            assert response.status_code == 404, (path, collection)
    response = client.get("/low-stock?collection=veg", headers=bearer(token))
    assert [m["member"] for m in response.get_json()["low_stock"]] == ["leek", "kale"]


def test_the_low_stock_page_writes_thousands_with_separators(client, seed):
    seed(big={"bolt": 1_500})
    set_levels(client, {"big/bolt": 12_345_678})
    page = client.get("/low-stock", headers=BROWSER).get_data(as_text=True)
    assert low_rows(page) == [("big", "bolt", "1,500", "12,345,678", "12,344,178")]


CSV_HEADER = "collection,member,quantity,reorder_level,shortfall\r\n"


def test_the_low_stock_downloads_as_csv(client, seed):
    seed_low(client, seed)
    response = client.get("/download/low-stock.csv")
    assert response.status_code == 200
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"low-stock.csv\"; filename*=UTF-8''low-stock.csv"
    )
    assert response.get_data(as_text=True) == (
        CSV_HEADER
        + "fruit,apple,3,5,2\r\n"
        + "fruit,fig,4,4,0\r\n"
        + "veg,leek,0,7,7\r\n"
        + "veg,kale,1,3,2\r\n"
        + "herbs,dill,5,10,5\r\n"
    )
    # In the page's order and for its collection; the whole list, not a page.
    response = client.get("/download/low-stock.csv?sort=shortfall&limit=1")
    assert response.get_data(as_text=True) == (
        CSV_HEADER
        + "veg,leek,0,7,7\r\n"
        + "herbs,dill,5,10,5\r\n"
        + "fruit,apple,3,5,2\r\n"
        + "veg,kale,1,3,2\r\n"
        + "fruit,fig,4,4,0\r\n"
    )
    response = client.get("/download/low-stock.csv?collection=veg")
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"low-stock-veg.csv\"; filename*=UTF-8''low-stock-veg.csv"
    )
    assert response.get_data(as_text=True) == (
        CSV_HEADER + "veg,leek,0,7,7\r\nveg,kale,1,3,2\r\n"
    )


def test_an_empty_low_stock_downloads_as_its_header(client, seed):
    seed(fruit={"apple": 3})
    response = client.get("/download/low-stock.csv")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == CSV_HEADER


def test_the_low_stock_csv_defuses_formulas_and_quotes_names(client, seed):
    seed(**{"=sum(A1)": {"+1": 0, "@x": 0, 'a,"b"': 0, "-2": 0}})
    set_levels(
        client,
        {
            "%3Dsum(A1)/%2B1": 1,
            "%3Dsum(A1)/@x": 1,
            "%3Dsum(A1)/a,%22b%22": 1,
            "%3Dsum(A1)/-2": 1,
        },
    )
    response = client.get("/download/low-stock.csv")
    assert response.get_data(as_text=True) == (
        CSV_HEADER
        + "'=sum(A1),'+1,0,1,1\r\n"
        + "'=sum(A1),'@x,0,1,1\r\n"
        + '\'=sum(A1),"a,""b""",0,1,1\r\n'
        + "'=sum(A1),'-2,0,1,1\r\n"
    )
    # Stored as they were named.
    low = client.get("/low-stock").get_json()["low_stock"]
    assert [m["member"] for m in low] == ["+1", "@x", 'a,"b"', "-2"]


def test_the_low_stock_csv_is_only_for_a_caller_who_may_read(make_app, seed):
    app = make_app(ANONYMOUS_ACCESS="none")
    client = app.test_client()
    response = client.get("/download/low-stock.csv?sort=shortfall")
    assert response.status_code == 303
    assert response.headers["Location"] == (
        "/log-in?next=/download/low-stock.csv?sort%3Dshortfall"
    )


def test_a_limited_caller_downloads_only_its_collections(
    make_user, make_token, seed, client
):
    seed_low(client, seed)
    make_user("clerk")
    token = make_token("clerk", "read", collections=["veg", "herbs"])
    response = client.get("/download/low-stock.csv", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_data(as_text=True) == (
        CSV_HEADER + "veg,leek,0,7,7\r\nveg,kale,1,3,2\r\nherbs,dill,5,10,5\r\n"
    )
    page = client.get("/low-stock", headers={**BROWSER, **bearer(token)})
    assert [row[1] for row in low_rows(page.get_data(as_text=True))] == [
        "leek",
        "kale",
        "dill",
    ]


def test_the_low_stock_page_links_its_sorts_and_the_download(client, seed):
    seed_low(client, seed)
    page = client.get("/low-stock?collection=veg", headers=BROWSER)
    text = page.get_data(as_text=True)
    assert '<a href="/download/low-stock.csv?collection=veg" download>' in text
    sorts = re.search(r'<nav class="sorts"[^>]*>(.*?)</nav>', text, re.S)
    assert sorts is not None
    links = re.findall(
        r'<a href="([^"]+)"( aria-current="true")?>([^<]+)</a>', sorts[1]
    )
    assert links == [
        ("/low-stock?collection=veg", ' aria-current="true"', "Oldest first"),
        (
            "/low-stock?sort=shortfall&amp;collection=veg",
            "",
            "Largest shortfall first",
        ),
    ]


@pytest.mark.sqlite_only
@pytest.mark.parametrize("sort", ["created", "shortfall"])
def test_the_low_stock_list_reads_the_index_of_low_members(app, sort):
    from stockapp.core.extensions import db
    from stockapp.stock import reads

    listing = reads.LowStockListing(sort, None, None, 10)
    with app.app_context():
        query = reads._low_members_query(None, listing).limit(10)
        sql = str(query.compile(dialect=db.engine.dialect))
        with db.engine.connect() as connection:
            plan = " | ".join(
                row[-1]
                for row in connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {sql}", (1,) * sql.count("?")
                )
            )
    assert "SCAN members USING INDEX ix_members_low_stock" in plan, plan
    # By shortfall the low members (only they) are sorted as they are read.
    assert ("TEMP B-TREE" in plan) == (sort == "shortfall"), plan
