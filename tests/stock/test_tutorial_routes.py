"""The tutorial's two small routes, kept as they were (but served as plain text)."""

import pytest


def test_get_text(client):
    response = client.get("/get-text")
    assert response.status_code == 200
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.get_data(as_text=True) == "some text"


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("?name=john&language=python", "name: john language: python"),
        ("?language=python&name=john", "language: python name: john"),
        ("?name=jo%20hn", "name: jo hn"),
        ("?a=1&a=2", "a: 1 a: 2"),
        ("?flag=", "flag: "),
        ("", "No query"),
        ("?", "No query"),
    ],
)
def test_query_string_is_echoed_as_pairs(client, query, text):
    response = client.get(f"/qs{query}")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == text


def test_query_string_echo_cannot_inject_html(client):
    response = client.get("/qs?name=%3Cscript%3Ealert(1)%3C/script%3E")
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.get_data(as_text=True) == "name: <script>alert(1)</script>"
