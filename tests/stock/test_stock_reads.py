"""GET /stock, /stock/<c> and /stock/<c>/<m>."""

import pytest


def test_empty_stock_is_an_empty_object(client):
    response = client.get("/stock")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.get_json() == {}


def test_stock_lists_collections_and_members_in_creation_order(client, seed):
    seed(veg={"leek": 2, "carrot": 5}, fruit={"pear": 0, "apple": 30})
    response = client.get("/stock")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == (
        '{"veg":{"leek":2,"carrot":5},"fruit":{"pear":0,"apple":30}}\n'
    )


def test_stock_lists_an_empty_collection(client, seed):
    seed(empty={})
    assert client.get("/stock").get_json() == {"empty": {}}


def test_get_collection_returns_its_members(client, seed):
    seed(fruit={"apple": 30, "banana": 7}, veg={"leek": 2})
    response = client.get("/stock/fruit")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == '{"apple":30,"banana":7}\n'


def test_get_unknown_collection_is_not_found(client, seed):
    seed(fruit={"apple": 30})
    response = client.get("/stock/veg")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": 'There is no collection "veg".',
        "error": "Not found",
    }


@pytest.mark.parametrize("quantity", [0, 30, 2**63 - 1])
def test_get_member_returns_a_bare_integer(client, seed, quantity):
    seed(fruit={"apple": quantity})
    response = client.get("/stock/fruit/apple")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.get_data(as_text=True) == f"{quantity}\n"


@pytest.mark.parametrize(
    ("path", "detail"),
    [
        ("/stock/fruit/kiwi", 'There is no member "kiwi" in collection "fruit".'),
        ("/stock/veg/apple", 'There is no member "apple" in collection "veg".'),
    ],
)
def test_get_unknown_member_is_not_found(client, seed, path, detail):
    seed(fruit={"apple": 30})
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not found"
    assert response.get_json()["detail"] == detail


def test_names_in_urls_are_percent_decoded(client, seed):
    seed(**{"red fruit": {"red apple": 4, "épi": 1}})
    assert client.get("/stock/red%20fruit").get_json() == {"red apple": 4, "épi": 1}
    response = client.get("/stock/red%20fruit/%C3%A9pi")
    assert response.get_json() == 1


def test_head_answers_like_get_without_a_body(client, seed):
    seed(fruit={"apple": 30})
    response = client.head("/stock/fruit")
    assert response.status_code == 200
    assert response.get_data() == b""


def query_plan(app, statement: str) -> str:
    """SQLite's plan for one of the stock's statements, in one line."""
    from stockapp.core.extensions import db
    from stockapp.stock.statements import COLLECTION_PAGE, for_dialect

    with app.app_context():
        query = (
            COLLECTION_PAGE
            if statement == "collection_page"
            else getattr(for_dialect(), statement)
        )
        sql = str(query.compile(dialect=db.engine.dialect))
        with db.engine.connect() as connection:
            # Any values: the plan is what is looked at.
            plan = " | ".join(
                row[-1]
                for row in connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {sql}", (1,) * sql.count("?")
                )
            )
    return plan


@pytest.mark.sqlite_only
@pytest.mark.parametrize("statement", ["stock_objects", "collection_page"])
def test_members_are_read_in_creation_order_without_a_sort(app, statement):
    """Both lists walk the (collection_id, id) index: no per-collection sort."""
    plan = query_plan(app, statement)
    assert "ix_members_collection_id_id" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


@pytest.mark.sqlite_only
def test_a_write_looks_its_members_up_by_name(app):
    """The members a write names are found through the (collection_id, name)
    index, never by walking the collection (its cost would grow with it)."""
    plan = query_plan(app, "members_named")
    # (SQLite calls the unique constraint's index sqlite_autoindex_members_1.)
    assert "SEARCH members USING INDEX" in plan, plan
    assert "(collection_id=? AND name=?)" in plan, plan
