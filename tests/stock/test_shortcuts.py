"""What the stock's shortcuts share (stock/shortcuts.py): which paths are
theirs, and which routes they may take at all."""

from __future__ import annotations

import pytest
from werkzeug.routing import Map, Rule

from stockapp.stock.shortcuts import RoutePaths, declared_scope, free_paths


def _map(*paths: str) -> tuple[Map, Rule]:
    rules = [Rule(path, endpoint=str(number)) for number, path in enumerate(paths)]
    return Map(rules), rules[0]


def test_it_leaves_the_names_other_routes_take():
    url_map, rule = _map(
        "/stock/<collection>/<member>",
        "/stock/<collection>/history",
        "/<anything>/codes/<code>",
        "/stock/<collection>",
        "/docs/<path:rest>",
        "/collections/<collection>/labels",
    )
    assert free_paths(url_map, rule) == (
        "/stock/",
        (frozenset({"codes"}), frozenset({"history"})),
    )


def test_a_collection_route_leaves_the_names_of_static_routes():
    url_map, rule = _map(
        "/stock/<collection>",
        "/stock/<collection>/<member>",
        "/stock/text",
        "/<anything>/export",
        "/docs/<path:rest>",
    )
    assert free_paths(url_map, rule) == (
        "/stock/",
        (frozenset({"text", "export"}),),
    )


@pytest.mark.parametrize(
    "paths",
    [
        ("/stock/<collection>/<member>", "/<a>/<b>/<c>"),
        ("/stock/<collection>/<member>", "/stock/<path:rest>"),
        ("/stock/<collection>", "/<a>/<b>"),
        ("/stock/<collection>/<member>/x",),
        ("/stock/fruit/<member>",),
        ("/stock",),
        ("/<a>/<b>",),
    ],
)
def test_it_refuses_to_start_when_it_cannot_tell(paths):
    url_map, rule = _map(*paths)
    with pytest.raises(RuntimeError):
        free_paths(url_map, rule)


@pytest.mark.parametrize(
    ("path", "names"),
    [
        ("/stock/fruit", ("fruit",)),
        ("/stock/text", None),
        ("/stock/fruit/apple", None),
        ("/stock/", None),
        ("/stock/..", None),
        ("/stock/caf\u00c3\u00a9", None),
        ("/stocks/fruit", None),
        ("/stock/" + "x" * 101, None),
    ],
)
def test_a_route_s_paths_give_their_names_or_none(path, names):
    url_map, _ = _map("/stock/<collection>", "/stock/text")
    assert RoutePaths(url_map, "0").names(path) == names


@pytest.mark.parametrize(
    "endpoint",
    ["api.update_collection", "api.get_member"],
)
def test_the_shortcuts_routes_declare_a_scope_anyone_may_hold(app, endpoint):
    assert declared_scope(app, endpoint) in {"read", "write"}


@pytest.mark.parametrize(
    "endpoint",
    ["access_api.me", "collection_pages.member", "docs.docs", "nothing.here"],
)
def test_no_shortcut_may_take_a_route_that_needs_more(app, endpoint):
    with pytest.raises(RuntimeError):
        declared_scope(app, endpoint)
