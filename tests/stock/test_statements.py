"""No request sends SQL in a per-member loop: statement counts do not grow with size."""

import pytest


def big(n):
    return {f"m{i}": i for i in range(n)}


REQUESTS = {
    "list stock": lambda c, n: c.get("/stock"),
    "get collection": lambda c, n: c.get("/stock/c0"),
    "get member": lambda c, n: c.get("/stock/c0/m0"),
    "post collection": lambda c, n: c.post("/stock/new", json=big(n)),
    "put collection (replace)": lambda c, n: c.put(
        "/stock/c0", json={f"x{i}": i for i in range(n)}
    ),
    "put collection (create)": lambda c, n: c.put("/stock/new", json=big(n)),
    "patch collection": lambda c, n: c.patch(
        "/stock/c0",
        json={
            **{f"m{i}": None for i in range(0, n, 3)},
            **{f"m{i}": 7 for i in range(1, n, 3)},
            **{f"y{i}": 1 for i in range(n)},
        },
    ),
    "delete collection": lambda c, n: c.delete("/stock/c0"),
    "put member": lambda c, n: c.put("/stock/c0/m1", json=5),
    "delete member": lambda c, n: c.delete("/stock/c0/m1"),
}


def statements_for(client, seed, count_statements, name, size):
    seed(**{f"c{i}": big(size) for i in range(size // 10 + 1)})
    with count_statements() as statements:
        response = REQUESTS[name](client, size)
    assert response.status_code < 300, response.get_json()
    return statements


@pytest.mark.parametrize("name", REQUESTS)
def test_statement_count_does_not_grow_with_size(
    app, client, seed, count_statements, name
):
    small = statements_for(client, seed, count_statements, name, 3)
    client.delete("/stock/new")
    for collection in client.get("/stock").get_json():
        client.delete(f"/stock/{collection}")
    large = statements_for(client, seed, count_statements, name, 300)
    assert len(large) == len(small), (small, large)
    # Nor does any statement run twice: many rows, one executemany. (A PUT logs
    # the members it removes with INSERT ... SELECT and the body's changes with
    # INSERT ... VALUES: two statements, each once.)
    assert len(set(large)) == len(large), large


def test_list_stock_is_read_in_one_query(client, seed, count_statements, backend):
    seed(fruit=big(50), veg=big(50))
    with count_statements() as statements:
        assert client.get("/stock").status_code == 200
    queries = [statement for statement in statements if statement != "BEGIN"]
    # The stock's version (is it cached?), then the document in one statement,
    # with its own version: one snapshot (test_stock_cache.py has the rest).
    assert len(queries) == 2
    assert all(query.startswith("SELECT") for query in queries)
    assert "members" not in queries[0]
    if backend == "sqlite":
        # One statement sees one snapshot by itself: SQLite needs no BEGIN.
        assert statements == queries
