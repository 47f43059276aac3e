"""Collections and their members: the writes, the reads, adjustments, reorder
levels, codes, the JSON API and the clerk's pages."""

from __future__ import annotations

from flask import Flask

from ..core.api_document import contribute
from ..core.request_toll import request_toll
from . import api, codes_api, overview, pages, reorder, scan, schemas
from .member_shortcut import MemberReadShortcut
from .stock_cache import init_stock_cache
from .write_shortcut import MergePatchShortcut, PutMemberShortcut


def init_app(app: Flask) -> None:
    """Serve the stock's API and pages."""
    init_stock_cache(app)
    # The hottest read's and writes' plain cases, answered before Flask's
    # dispatch.
    for shortcut in (MemberReadShortcut, MergePatchShortcut, PutMemberShortcut):
        request_toll(app).add_shortcut(shortcut)
    blueprints = (api.bp, reorder.bp, codes_api.bp, overview.bp, pages.bp, scan.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    contribute(
        app,
        tags=schemas.TAGS,
        schemas={
            **schemas.stock_schemas(),
            **reorder.reorder_schemas(),
            **codes_api.code_schemas(),
        },
        parameters={
            **schemas.stock_parameters(),
            **reorder.reorder_parameters(),
            **codes_api.code_parameters(),
        },
    )
