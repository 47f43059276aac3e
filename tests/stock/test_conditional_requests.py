"""ETags from version counters, 304 on If-None-Match, 412 on failed preconditions."""

import re

import pytest

PRECONDITION_FAILED = "Precondition failed"


def tag(client, path):
    response = client.get(path)
    assert response.status_code == 200
    return response.headers["ETag"]


@pytest.mark.parametrize("path", ["/stock/fruit", "/stock/fruit/apple"])
def test_reads_carry_a_strong_etag(client, seed, path):
    seed(fruit={"apple": 30})
    assert re.fullmatch(r'"\d+"', tag(client, path))


def test_etags_change_with_their_resource_only(client, seed):
    seed(fruit={"apple": 30, "pear": 1})
    collection, apple, pear = (
        tag(client, "/stock/fruit"),
        tag(client, "/stock/fruit/apple"),
        tag(client, "/stock/fruit/pear"),
    )
    client.put("/stock/fruit/apple", json=29)
    assert tag(client, "/stock/fruit") != collection
    assert tag(client, "/stock/fruit/apple") != apple
    assert tag(client, "/stock/fruit/pear") == pear


def test_a_write_that_changes_nothing_keeps_the_etag(client, seed):
    seed(fruit={"apple": 30})
    before = tag(client, "/stock/fruit")
    response = client.put("/stock/fruit", json={"apple": 30})
    assert response.headers["ETag"] == before
    assert tag(client, "/stock/fruit") == before


def test_a_recreated_collection_gets_a_new_etag(client, seed):
    seed(fruit={"apple": 30})
    old = tag(client, "/stock/fruit")
    client.delete("/stock/fruit")
    client.post("/stock/fruit", json={"apple": 30})
    assert tag(client, "/stock/fruit") != old


@pytest.mark.parametrize(
    ("method", "path", "body", "etag_of"),
    [
        ("POST", "/stock/new", {"a": 1}, "/stock/new"),
        ("PUT", "/stock/fruit", {"a": 1}, "/stock/fruit"),
        ("PATCH", "/stock/fruit", {"a": 1}, "/stock/fruit"),
        ("PUT", "/stock/fruit/apple", 3, "/stock/fruit/apple"),
        ("POST", "/stock/fruit/apple/adjustments", {"delta": 1}, "/stock/fruit/apple"),
    ],
)
def test_successful_writes_return_the_new_etag(
    client, seed, method, path, body, etag_of
):
    seed(fruit={"apple": 30})
    response = client.open(path, method=method, json=body)
    assert response.status_code in (200, 201)
    assert response.headers["ETag"] == tag(client, etag_of)


@pytest.mark.parametrize("path", ["/stock/fruit", "/stock/fruit/apple"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_if_none_match_with_the_current_tag_is_304(client, seed, path, method):
    seed(fruit={"apple": 30})
    current = tag(client, path)
    for header in (current, f"W/{current}", f'"other", {current}', "*"):
        response = client.open(path, method=method, headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.get_data() == b""
        assert response.headers["ETag"] == current


def test_if_none_match_with_an_old_tag_is_200(client, seed):
    seed(fruit={"apple": 30})
    old = tag(client, "/stock/fruit/apple")
    client.put("/stock/fruit/apple", json=1)
    response = client.get("/stock/fruit/apple", headers={"If-None-Match": old})
    assert response.status_code == 200
    assert response.get_json() == 1


WRITES = [
    ("PUT", "/stock/fruit", {"apple": 1}, "/stock/fruit"),
    ("PATCH", "/stock/fruit", {"apple": 1}, "/stock/fruit"),
    ("DELETE", "/stock/fruit", None, "/stock/fruit"),
    ("PUT", "/stock/fruit/apple", 1, "/stock/fruit/apple"),
    ("DELETE", "/stock/fruit/apple", None, "/stock/fruit/apple"),
    ("POST", "/stock/fruit/apple/adjustments", {"delta": 1}, "/stock/fruit/apple"),
]


@pytest.mark.parametrize(("method", "path", "body", "resource"), WRITES)
def test_if_match_with_a_stale_tag_is_412_and_changes_nothing(
    client, seed, stored, method, path, body, resource
):
    seed(fruit={"apple": 30})
    stale = tag(client, resource)
    client.put("/stock/fruit/apple", json=31)
    current = tag(client, resource)
    response = client.open(path, method=method, json=body, headers={"If-Match": stale})
    assert response.status_code == 412
    assert response.content_type == "application/problem+json"
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Precondition Failed",
        "status": 412,
        "detail": f"If-Match does not hold: the resource has ETag {current};"
        " nothing was changed.",
        "error": PRECONDITION_FAILED,
    }
    assert stored() == {"fruit": {"apple": 31}}


@pytest.mark.parametrize(("method", "path", "body", "resource"), WRITES)
def test_if_match_with_the_current_tag_writes(
    client, seed, method, path, body, resource
):
    seed(fruit={"apple": 30})
    response = client.open(
        path, method=method, json=body, headers={"If-Match": tag(client, resource)}
    )
    assert response.status_code in (200, 204)


@pytest.mark.parametrize(("method", "path", "body", "resource"), WRITES)
def test_a_weak_tag_never_satisfies_if_match(
    client, seed, stored, method, path, body, resource
):
    seed(fruit={"apple": 30})
    weak = f"W/{tag(client, resource)}"
    response = client.open(path, method=method, json=body, headers={"If-Match": weak})
    assert response.status_code == 412
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/stock/veg", {"a": 1}),
        ("PATCH", "/stock/veg", {"a": 1}),
        ("PUT", "/stock/fruit/kiwi", 1),
    ],
)
def test_if_match_star_requires_the_resource_to_exist(
    client, seed, stored, method, path, body
):
    seed(fruit={"apple": 30})
    response = client.open(path, method=method, json=body, headers={"If-Match": "*"})
    assert response.status_code == 412
    assert response.get_json()["detail"] == (
        "If-Match does not hold: the resource does not exist; nothing was changed."
    )
    assert stored() == {"fruit": {"apple": 30}}


@pytest.mark.parametrize(
    ("path", "body", "exists_path"),
    [
        ("/stock/veg", {"a": 1}, "/stock/fruit"),
        ("/stock/fruit/kiwi", 1, "/stock/fruit/apple"),
    ],
)
def test_if_none_match_star_creates_only_if_absent(
    client, seed, stored, path, body, exists_path
):
    seed(fruit={"apple": 30})
    headers = {"If-None-Match": "*"}
    assert client.put(path, json=body, headers=headers).status_code == 201
    before = stored()
    response = client.put(exists_path, json=body, headers=headers)
    assert response.status_code == 412
    assert response.get_json()["error"] == PRECONDITION_FAILED
    assert stored() == before


def test_not_found_comes_before_a_failed_precondition(client):
    response = client.delete("/stock/none", headers={"If-Match": '"1"'})
    assert response.status_code == 404
    response = client.put("/stock/none/a", json=1, headers={"If-Match": '"1"'})
    assert response.status_code == 404


def test_writes_without_condition_headers_behave_as_before(client, seed, stored):
    seed(fruit={"apple": 30})
    assert client.put("/stock/fruit/apple", json=2).status_code == 200
    assert client.delete("/stock/fruit").status_code == 204
    assert stored() == {}


WRITES_WITH_IF_MATCH = [
    ("PUT", "/stock/fruit", {"apple": 1}),
    ("PATCH", "/stock/fruit", {"apple": 1}),
    ("DELETE", "/stock/fruit", None),
    ("PUT", "/stock/fruit/apple", 3),
    ("DELETE", "/stock/fruit/apple", None),
    ("POST", "/stock/fruit/apple/adjustments", {"delta": 1}),
    ("PUT", "/stock/fruit/apple/reorder-level", 5),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES_WITH_IF_MATCH)
@pytest.mark.parametrize("empty", ["", " ", "\t"])
def test_an_empty_if_match_is_a_bad_request_not_a_failed_precondition(
    client, seed, stored, method, path, body, empty
):
    seed(fruit={"apple": 30})
    response = client.open(path, method=method, json=body, headers={"If-Match": empty})
    assert response.status_code == 400
    why = (
        "is empty: send the ETag you read, or * (an unset shell variable is the"
        " usual cause)"
    )
    assert response.get_json() == {
        "type": "about:blank",
        "title": "Bad Request",
        "status": 400,
        "detail": f"If-Match: {why}",
        "error": "Invalid input",
        "errors": {"If-Match": why},
    }
    assert stored() == {"fruit": {"apple": 30}}
