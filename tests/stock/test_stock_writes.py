"""The write routes: what they answer and what they leave stored."""


def test_post_creates_a_collection(client, stored):
    response = client.post("/stock/fruit", json={"apple": 30, "pear": 0})
    assert response.status_code == 201
    assert response.get_json() == {"message": "Collection created"}
    assert response.headers["Location"] == "/stock/fruit"
    assert stored() == {"fruit": {"apple": 30, "pear": 0}}


def test_post_empty_object_creates_an_empty_collection(client, stored):
    response = client.post("/stock/fruit", json={})
    assert response.status_code == 201
    assert stored() == {"fruit": {}}


def test_post_existing_collection_is_rejected_and_changes_nothing(client, seed, stored):
    seed(fruit={"apple": 30})
    response = client.post("/stock/fruit", json={"apple": 1, "kiwi": 2})
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": 'A collection named "fruit" already exists; nothing was changed.',
        "error": "Collection already exists",
    }
    assert stored() == {"fruit": {"apple": 30}}


def test_location_percent_encodes_the_name(client):
    response = client.post("/stock/red%20fruit", json={})
    assert response.headers["Location"] == "/stock/red%20fruit"
    assert client.get(response.headers["Location"]).get_json() == {}


def test_put_creates_a_missing_collection(client, stored):
    response = client.put("/stock/fruit", json={"apple": 3})
    assert response.status_code == 201
    assert response.get_json() == {"message": "Collection created"}
    assert response.headers["Location"] == "/stock/fruit"
    assert stored() == {"fruit": {"apple": 3}}


def test_put_replaces_members_and_drops_the_unlisted(client, seed, stored):
    seed(fruit={"apple": 30, "pear": 5, "fig": 1}, veg={"leek": 2})
    response = client.put("/stock/fruit", json={"kiwi": 9, "apple": 1})
    assert response.status_code == 200
    assert response.get_json() == {"message": "Collection replaced"}
    assert "Location" not in response.headers
    # apple keeps its place: it was created before kiwi.
    assert stored() == {"fruit": {"apple": 1, "kiwi": 9}, "veg": {"leek": 2}}


def test_put_empty_object_empties_the_collection(client, seed, stored):
    seed(fruit={"apple": 30})
    assert client.put("/stock/fruit", json={}).status_code == 200
    assert stored() == {"fruit": {}}


def test_patch_creates_a_missing_collection(client, stored):
    response = client.patch("/stock/fruit", json={"apple": 3, "gone": None})
    assert response.status_code == 201
    assert response.get_json() == {"message": "Collection created"}
    assert response.headers["Location"] == "/stock/fruit"
    assert stored() == {"fruit": {"apple": 3}}


def test_patch_merges_members(client, seed, stored):
    seed(fruit={"apple": 30, "pear": 5, "fig": 1})
    response = client.patch("/stock/fruit", json={"pear": None, "apple": 0, "kiwi": 4})
    assert response.status_code == 200
    assert response.get_json() == {"message": "Collection updated"}
    assert stored() == {"fruit": {"apple": 0, "fig": 1, "kiwi": 4}}


def test_patch_accepts_the_merge_patch_media_type(client, seed, stored):
    seed(fruit={"apple": 30})
    response = client.patch(
        "/stock/fruit",
        data='{"apple": null}',
        content_type="application/merge-patch+json",
    )
    assert response.status_code == 200
    assert stored() == {"fruit": {}}


def test_delete_collection_removes_it_and_its_members(client, seed, stored, app):
    seed(fruit={"apple": 30}, veg={"leek": 2})
    response = client.delete("/stock/fruit")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert stored() == {"veg": {"leek": 2}}
    with app.app_context():
        from sqlalchemy import text

        from stockapp.core.extensions import db

        orphans = db.session.execute(text("SELECT count(*) FROM members")).scalar()
    assert orphans == 1


def test_delete_unknown_collection_is_not_found(client):
    response = client.delete("/stock/fruit")
    assert response.status_code == 404
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": 'There is no collection "fruit".',
        "error": "Collection not found",
    }


def test_put_member_creates_it(client, seed, stored):
    seed(fruit={"apple": 30})
    response = client.put("/stock/fruit/kiwi", json=0)
    assert response.status_code == 201
    assert response.get_json() == {"message": "Member created"}
    assert response.headers["Location"] == "/stock/fruit/kiwi"
    assert stored() == {"fruit": {"apple": 30, "kiwi": 0}}


def test_put_member_replaces_its_quantity(client, seed, stored):
    seed(fruit={"apple": 30, "kiwi": 1})
    response = client.put("/stock/fruit/apple", json=12)
    assert response.status_code == 200
    assert response.get_json() == {"message": "Member replaced"}
    assert stored() == {"fruit": {"apple": 12, "kiwi": 1}}


def test_put_member_of_unknown_collection_is_not_found(client, stored):
    response = client.put("/stock/fruit/apple", json=3)
    assert response.status_code == 404
    assert response.get_json()["error"] == "Collection not found"
    assert response.get_json()["detail"] == 'There is no collection "fruit".'
    assert stored() == {}


def test_delete_member_removes_only_it(client, seed, stored):
    seed(fruit={"apple": 30, "kiwi": 1})
    response = client.delete("/stock/fruit/apple")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert stored() == {"fruit": {"kiwi": 1}}


def test_delete_unknown_member_is_not_found(client, seed, stored):
    seed(fruit={"apple": 30})
    response = client.delete("/stock/fruit/kiwi")
    assert response.status_code == 404
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": 'Collection "fruit" has no member "kiwi".',
        "error": "Member not found",
    }
    assert stored() == {"fruit": {"apple": 30}}


def test_delete_member_of_unknown_collection_is_not_found(client):
    response = client.delete("/stock/fruit/kiwi")
    assert response.status_code == 404
    assert response.get_json()["error"] == "Collection not found"


def test_writes_survive_a_new_app_on_the_same_database(client, database_url):
    from stockapp import create_app

    client.post("/stock/fruit", json={"apple": 30})
    again = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    assert again.test_client().get("/stock").get_json() == {"fruit": {"apple": 30}}
