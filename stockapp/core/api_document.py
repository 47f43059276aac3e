"""The OpenAPI 3.1 document, assembled from the app's routes.

Every route of an API blueprint declares its operation at its view
(``api_doc.documented``); this walks the router, takes each path and method from
the rule, the summary and description from the view's docstring, and adds the
shared fragments and what each capability contributes (its schemas, parameters,
tags, and changes to the whole, such as who may call each operation).
"""

from __future__ import annotations

import copy
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask

from .api_doc import Schema, amendments_of, declared_operation
from .api_fragments import (
    shared_headers,
    shared_parameters,
    shared_responses,
    shared_schemas,
)
from .extensions import csrf

OPENAPI_VERSION = "3.1.0"
API_VERSION = "0.1.0"
# Methods every URL answers by itself; never declared.
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})
# Werkzeug's <name> or <converter(...):name> is OpenAPI's {name}.
_PLACEHOLDER = re.compile(r"<(?:[^:>]+:)?([^>]+)>")
_PARTS = "stockapp.api_document.parts"
_DOCUMENT = "stockapp.api_document"

Finisher = Callable[[dict[str, Any], Flask], None]


@dataclass
class _Parts:
    """What the capabilities add beside their operations."""

    tags: list[Schema] = field(default_factory=list)
    schemas: dict[str, Schema] = field(default_factory=dict)
    parameters: dict[str, Schema] = field(default_factory=dict)
    finishers: list[Finisher] = field(default_factory=list)


def api_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A blueprint of JSON API routes: each of its views must declare its
    operation, and none takes the session's CSRF token (the API takes bearer
    tokens, never the session cookie)."""
    blueprint = Blueprint(name, import_name, **options)
    blueprint.serves_api = True  # type: ignore[attr-defined]
    csrf.exempt(blueprint)
    return blueprint


def is_api_blueprint(app: Flask, name: str | None) -> bool:
    blueprint = app.blueprints.get(name or "")
    return bool(getattr(blueprint, "serves_api", False))


def contribute(
    app: Flask,
    *,
    tags: Iterable[Schema] = (),
    schemas: dict[str, Schema] | None = None,
    parameters: dict[str, Schema] | None = None,
    finish: Finisher | None = None,
) -> None:
    """Add a capability's tags, schemas, parameters, or a change to the whole
    document once it is assembled."""
    parts = app.extensions.setdefault(_PARTS, _Parts())
    parts.tags.extend(tags)
    parts.schemas.update(schemas or {})
    parts.parameters.update(parameters or {})
    if finish is not None:
        parts.finishers.append(finish)


def openapi_path(rule: str) -> str:
    """A Werkzeug rule spelled as an OpenAPI path."""
    return _PLACEHOLDER.sub(r"{\1}", rule)


def api_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s JSON API, assembled once."""
    if _DOCUMENT not in app.extensions:
        app.extensions[_DOCUMENT] = _assemble(app)
    return app.extensions[_DOCUMENT]


def _assemble(app: Flask) -> dict[str, Any]:
    parts = app.extensions.get(_PARTS, _Parts())
    parameters = {**shared_parameters(), **parts.parameters}
    paths: dict[str, Schema] = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        declared = declared_operation(view)
        if declared is None:
            continue
        methods = (rule.methods or set()) - IMPLICIT_METHODS
        assert len(methods) == 1, f"{rule.rule}: one method per documented view"
        method = methods.pop().lower()
        operation = _operation(view)
        _place(paths, openapi_path(rule.rule), method, operation)
        for path, amendment in declared.also.items():
            elsewhere = copy.deepcopy(operation)
            amendment(elsewhere)
            _place(paths, path, method, elsewhere)
    for path, item in paths.items():
        if path_parameters := _path_parameters(path, parameters):
            item["parameters"] = path_parameters
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "stockapp",
            "version": API_VERSION,
            "summary": "Collections of members, each with a quantity in stock.",
            "description": "Every error is `application/problem+json` (RFC 9457)"
            " with an extra `error` message. A method a URL does not take is"
            " answered 405 with `Allow`; `HEAD` and `OPTIONS` are answered for"
            " every URL. Names in URLs are percent-encoded UTF-8."
            " Callers authenticate with `Authorization: Bearer stk_...`;"
            " whether stock routes also answer callers without credentials is the"
            " server's `ANONYMOUS_ACCESS` setting (none, read or write).",
        },
        "tags": parts.tags,
        "paths": paths,
        "components": {
            "schemas": {**shared_schemas(), **parts.schemas},
            "parameters": parameters,
            "headers": shared_headers(),
            "responses": shared_responses(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token, `stk_` and 43 characters, from"
                    " `flask tokens create` or `POST /tokens`. Its scope (read,"
                    " write, admin) and collections limit what it may do.",
                }
            },
        },
    }
    for finish in parts.finishers:
        finish(document, app)
    return document


def _operation(view: Callable[..., Any]) -> Schema:
    """The operation ``view`` declares, with its docstring and amendments."""
    declared = declared_operation(view)
    assert declared is not None
    summary, _, description = (inspect.getdoc(view) or "").partition("\n\n")
    operation: Schema = {
        "operationId": declared.operation_id,
        "summary": " ".join(summary.split()).removesuffix("."),
        "tags": [declared.tag],
    }
    if description:
        operation["description"] = " ".join(description.split())
    if declared.parameters:
        operation["parameters"] = list(declared.parameters)
    if declared.body is not None:
        operation["requestBody"] = declared.body
    operation["responses"] = dict(declared.responses)
    operation = copy.deepcopy(operation)
    for amendment in amendments_of(view):
        amendment(operation)
    operation["responses"] = dict(sorted(operation["responses"].items()))
    return operation


def _place(paths: dict[str, Schema], path: str, method: str, operation: Schema) -> None:
    item = paths.setdefault(path, {})
    assert method not in item, f"{method.upper()} {path} is declared twice"
    item[method] = operation


def _path_parameters(path: str, parameters: dict[str, Schema]) -> list[Schema]:
    """References to the path parameters ``path`` holds, in their order."""
    by_name = {
        parameter["name"]: name
        for name, parameter in parameters.items()
        if parameter.get("in") == "path"
    }
    return [
        {"$ref": f"#/components/parameters/{by_name[placeholder]}"}
        for placeholder in re.findall(r"{([^}]+)}", path)
    ]
