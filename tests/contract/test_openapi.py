"""GET /openapi.json and GET /docs: the document is valid, complete and true."""

from __future__ import annotations

import re
import sys
import tomllib
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import jsonschema_rs
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from stockapp import create_app
from stockapp.core.api_doc import NAME_PATTERN, declared_operation, documented
from stockapp.core.api_document import API_VERSION, api_blueprint, is_api_blueprint
from stockapp.core.rules import MAX_NAME_LENGTH, name_problem

# Endpoints outside the JSON API, left out of its document on purpose: the HTML
# pages and their static files answer browsers, not API clients, and the
# documentation does not describe itself.
NOT_IN_DOCUMENT = {
    "static",
    "pages.",
    "access_pages.",
    "account_pages.",
    "collection_pages.",
    "scan_pages.",
    "label_pages.",
    "import_pages.",
    "low_stock_pages.",
    "history_pages.",
    "trend_pages.",
    "webhook_pages.",
    "stocktake_pages.",
    "transfer_pages.",
    "docs.",
}
# The blueprints of the JSON API.
API_BLUEPRINTS = (
    "api.",
    "history_api.",
    "access_api.",
    "reorder.",
    "codes.",
    "labels.",
    "health.",
    "exports.",
    "imports.",
    "metrics.",
    "webhooks_api.",
    "batch_api.",
    "transfer_api.",
    "stocktake_api.",
    "trends_api.",
)
# Flask answers these for every route by itself.
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


# Values for the path parameters when a described URL is put to the router.
SAMPLE = {
    "collection": "fruit",
    "member": "apple",
    "token_id": "1",
    "subscription_id": "1",
    "delivery_id": "1",
    "stocktake_id": "1",
    "code": "4006381333931",
}
# The converters a described path parameter may have: names, and token ids.
CONVERTERS = {"UnicodeConverter", "IntegerConverter"}


def document_operations(document: dict) -> dict[str, set[str]]:
    """Each path of the document with its methods."""
    return {
        path: {method.upper() for method in item if method in HTTP_METHODS}
        for path, item in document["paths"].items()
    }


def api_rules(app) -> dict[str, set[str]]:
    """Each URL rule of the JSON API, spelled as an OpenAPI path, with its methods."""
    rules: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if any(rule.endpoint.startswith(prefix) for prefix in NOT_IN_DOCUMENT):
            continue
        # Werkzeug's <name> (or <int(...):name>) is OpenAPI's {name}.
        assert all(
            type(converter).__name__ in CONVERTERS
            for converter in rule._converters.values()
        ), rule.rule
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        rules.setdefault(path, set()).update(rule.methods - IMPLICIT_METHODS)
    return rules


def route_discrepancies(document: dict, app) -> set[str]:
    """What the document and the app's routes disagree on (empty when they agree).

    Every route must be described; every described URL must reach the API and
    take exactly the described methods (a URL can match more than one route:
    /stock/fruit/history is the history for GET and the member route otherwise).
    """
    described = document_operations(document)
    found = set()
    for path, methods in api_rules(app).items():
        found |= {
            f"undescribed {m} {path}" for m in methods - described.get(path, set())
        }
    adapter = app.url_map.bind("localhost")
    for path, methods in described.items():
        url = path.format(**SAMPLE)
        allowed = set(adapter.allowed_methods(url)) - IMPLICIT_METHODS
        found |= {f"no route for {m} {path}" for m in methods - allowed}
        found |= {f"undescribed {m} {path}" for m in allowed - methods}
        for method in methods & allowed:
            endpoint, _ = adapter.match(url, method=method)
            if not endpoint.startswith(API_BLUEPRINTS):
                found.add(f"{method} {path} reaches {endpoint}")
    return found


def test_document_is_a_valid_openapi_3_1_document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(document).validate()


def test_document_describes_every_api_route_and_nothing_else(app, client):
    document = client.get("/openapi.json").get_json()
    assert route_discrepancies(document, app) == set()


def test_route_comparison_notices_a_missing_or_extra_route(app, client):
    document = client.get("/openapi.json").get_json()
    del document["paths"]["/qs"]
    del document["paths"]["/stock/{collection}/history"]["put"]
    document["paths"]["/nowhere"] = {"get": {"responses": {}}}
    document["paths"]["/stock"]["post"] = {"responses": {}}
    document["paths"]["/"] = {"get": {"responses": {}}}
    assert route_discrepancies(document, app) == {
        "undescribed GET /qs",
        "undescribed PUT /stock/{collection}/history",
        "no route for GET /nowhere",
        "no route for POST /stock",
        "GET / reaches pages.index",
    }


def undeclared_api_views(app) -> set[str]:
    """The endpoints of API blueprints whose view declares no operation, and the
    endpoints outside them whose view declares one."""
    found = set()
    for rule in app.url_map.iter_rules():
        api = is_api_blueprint(app, rule.endpoint.rpartition(".")[0])
        declared = declared_operation(app.view_functions[rule.endpoint])
        if api and declared is None:
            found.add(f"{rule.endpoint} declares nothing")
        if declared is not None and not api:
            found.add(f"{rule.endpoint} is documented outside the API")
    return found


def test_every_api_view_declares_its_operation_and_no_page_does(app):
    assert undeclared_api_views(app) == set()
    # The document's blueprints are exactly the ones this test calls the API.
    assert {name for name in app.blueprints if is_api_blueprint(app, name)} == {
        prefix.removesuffix(".") for prefix in API_BLUEPRINTS
    }


def test_an_api_view_that_declares_nothing_is_noticed(database_url):
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": database_url}
    )
    extra = api_blueprint("extra", __name__)
    extra.add_url_rule("/extra", "bare", lambda: "")
    extra.add_url_rule(
        "/extra/declared",
        "declared",
        documented("x", tag="stock", responses={})(lambda: ""),
    )
    app.register_blueprint(extra)
    pages = app.blueprints["pages"]
    assert not is_api_blueprint(app, pages.name)
    app.add_url_rule(
        "/page-documented",
        "page_documented",
        documented("y", tag="stock", responses={})(lambda: ""),
    )
    assert undeclared_api_views(app) == {
        "extra.bare declares nothing",
        "page_documented is documented outside the API",
    }


def test_every_operation_has_its_views_docstring_as_summary(app, client):
    document = client.get("/openapi.json").get_json()
    adapter = app.url_map.bind("localhost")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            endpoint, _ = adapter.match(path.format(**SAMPLE), method=method.upper())
            view = app.view_functions[endpoint]
            if operation["operationId"] != declared_operation(view).operation_id:
                # The view as it appears at another path, with a summary of its own.
                assert path in declared_operation(view).also, endpoint
                continue
            docstring = view.__doc__
            first_line = " ".join(docstring.split("\n\n")[0].split())
            assert operation["summary"] == first_line.removesuffix("."), endpoint


def test_database_busy_is_documented_wherever_the_database_is_asked(client):
    document = client.get("/openapi.json").get_json()
    busy = document["components"]["responses"]["NotMigrated"]
    errors = busy["content"]["application/problem+json"]["schema"]["allOf"][1]
    assert errors["properties"]["error"]["enum"] == [
        "Database not migrated",
        "Database busy",
        "Database unavailable",
    ]
    busy_ref = {"$ref": "#/components/responses/NotMigrated"}
    not_asked = {
        operation["operationId"]
        for item in document["paths"].values()
        for method, operation in item.items()
        if method in HTTP_METHODS and operation["responses"].get("503") != busy_ref
    }
    # The tutorial's text routes and the health checks (readyz has its own 503).
    assert not_asked == {"getText", "echoQuery", "healthz", "readyz"}


def test_every_path_parameter_is_declared(client):
    document = client.get("/openapi.json").get_json()
    parameters = document["components"]["parameters"]
    for path, item in document["paths"].items():
        declared = {
            parameters[ref["$ref"].rsplit("/", 1)[1]]["name"]
            for ref in item.get("parameters", [])
        }
        assert declared == set(re.findall(r"{([^}]+)}", path)), path


def test_document_version_is_the_package_version():
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    assert tomllib.loads(pyproject.read_text())["project"]["version"] == API_VERSION


@pytest.fixture
def name_schema(client) -> dict:
    document = client.get("/openapi.json").get_json()
    return document["components"]["schemas"]["Name"]


@pytest.mark.parametrize(
    "name",
    ["a", "x" * 100, " padded ", "\ufeff", "a\u3000b", "🍎" * 100, "x" * 101, ""]
    + [" ", "\u3000", "\u2028 ", "a/b", "a\x00", "\x85", "\x9f", "a\tb", "\u1680"],
)
def test_name_schema_agrees_with_the_input_rules(name_schema, name):
    validator = jsonschema_rs.validator_for(name_schema)
    assert validator.is_valid(name) is (name_problem(name) is None)


def test_name_pattern_agrees_with_the_input_rules_on_every_character():
    # Both Python's engine and the Rust one (ECMA-262 syntax) of jsonschema-rs.
    pattern = re.compile(NAME_PATTERN)
    rust = jsonschema_rs.validator_for({"type": "string", "pattern": NAME_PATTERN})
    # Every character of the Basic Multilingual Plane (all the controls and spaces
    # are there) and a sample of the planes above it.
    codes = [*range(0x10000), *range(0x10000, sys.maxunicode + 1, 251)]
    for code in codes:
        char = chr(code)
        if unicodedata.category(char) == "Cs":
            # Not text: no JSON document or URL carries one to the pattern.
            continue
        for name in (char, f"a{char}", f"{char} "):
            allowed = name_problem(name) is None
            assert bool(pattern.fullmatch(name)) is allowed, hex(code)
            assert rust.is_valid(name) is allowed, hex(code)


def test_name_length_limit_is_the_input_rules_limit(name_schema):
    assert (name_schema["minLength"], name_schema["maxLength"]) == (
        1,
        MAX_NAME_LENGTH,
    )


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for key, value in attrs if key in ("src", "href") and value]


def test_docs_page_loads_everything_from_the_app(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.content_type == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert 'data-openapi-url="/openapi.json"' in page
    parser = _Assets()
    parser.feed(page)
    assert len(parser.urls) == 4
    for url in parser.urls:
        # Same origin, so the page works with no network beyond the app.
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        asset.close()


def test_docs_script_stays_offline(client):
    with client.get("/static/docs.js") as response:
        script = response.get_data(as_text=True)
    # Swagger UI's default would send the document to an online validator.
    assert "validatorUrl: null" in script
    assert "http" not in script


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        ("swagger-ui.css", "text/css; charset=utf-8"),
    ],
)
def test_swagger_ui_assets_come_from_the_pinned_package(client, filename, content_type):
    response = client.get(f"/docs/assets/{filename}")
    assert response.status_code == 200
    assert response.content_type == content_type
    assert response.cache_control.max_age == 7 * 24 * 3600
    assert len(response.get_data()) > 100_000
    response.close()


def test_swagger_ui_assets_outside_the_package_are_not_served(client):
    assert client.get("/docs/assets/../__init__.py").status_code == 404
    assert client.get("/docs/assets/missing.js").status_code == 404


def operations_with_endpoints(document: dict, app):
    """Each described operation with the endpoint its URL reaches."""
    adapter = app.url_map.bind("localhost")
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                endpoint, _ = adapter.match(
                    path.format(**SAMPLE), method=method.upper()
                )
                yield f"{method.upper()} {path}", endpoint, operation


def test_security_of_each_operation_is_what_the_route_needs(app, client):
    # The access matrix's table is the independent oracle of what each needs.
    from test_access_matrix import ROUTES

    document = client.get("/openapi.json").get_json()
    assert document["components"]["securitySchemes"] == {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": document["components"]["securitySchemes"]["bearer"][
                "description"
            ],
        }
    }
    expected_security = {
        "public": [],
        "user": [{"bearer": []}],
        "admin": [{"bearer": []}],
        "metrics": [{"bearer": []}],
        "read": [{"bearer": []}, {}],
        "write": [{"bearer": []}, {}],
    }
    for operation_name, endpoint, operation in operations_with_endpoints(document, app):
        method = operation_name.split()[0]
        needs = ROUTES[(method, endpoint)].needs
        assert operation["security"] == expected_security[needs], operation_name
        responses = operation["responses"]
        assert responses["401"] == {"$ref": "#/components/responses/Unauthorized"}
        assert responses["429"] == {"$ref": "#/components/responses/TooManyRequests"}
        assert ("403" in responses) is (needs != "public"), operation_name


@pytest.mark.parametrize(
    "token_id", ["9223372036854775808", "99999999999999999999", "-1"]
)
def test_token_ids_beyond_the_column_route_nowhere(client, token_id):
    response = client.get(f"/tokens/{token_id}")
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not found"


def test_docs_keep_a_token_once_authorized(client):
    with client.get("/static/docs.js") as response:
        script = response.get_data(as_text=True)
    assert "persistAuthorization: true" in script


def test_a_route_with_its_own_body_limit_documents_that_limit(client):
    document = client.get("/openapi.json").get_json()
    imports = document["paths"]["/imports"]["post"]["responses"]["413"]
    assert imports["description"] == (
        "The body is over the limit (the server's `IMPORT_MAX_BYTES`)."
    )
    # Every other body takes the shared limit.
    put = document["paths"]["/stock/{collection}"]["put"]["responses"]["413"]
    assert put == {"$ref": "#/components/responses/TooLarge"}
