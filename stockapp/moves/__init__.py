"""Many changes as one: batches of operations, transfers between collections,
and stocktakes that make the shelf's count the stock.

Each runs on the stock's one write path (stock/ledger.py) inside one
transaction, and each movement it logs names the batch, transfer or stocktake
it went with.
"""

from __future__ import annotations

from flask import Flask

from ..core.api_document import contribute
from . import (
    batch_api,
    models,  # noqa: F401  (the stocktakes' tables)
    stocktake_api,
    stocktake_pages,
    transfer_api,
    transfer_pages,
)

TAGS = [
    {
        "name": "moves",
        "description": "Many changes as one: batches, transfers between members"
        " and stocktakes.",
    }
]


def init_app(app: Flask) -> None:
    """Serve the batches', transfers' and stocktakes' API and pages."""
    contribute(app, tags=TAGS)
    app.register_blueprint(batch_api.bp)
    contribute(app, schemas=batch_api.batch_schemas())
    app.register_blueprint(transfer_api.bp)
    contribute(app, schemas=transfer_api.transfer_schemas())
    app.register_blueprint(transfer_pages.bp)
    app.register_blueprint(stocktake_api.bp)
    contribute(
        app,
        schemas=stocktake_api.stocktake_schemas(),
        parameters=stocktake_api.stocktake_parameters(),
    )
    app.register_blueprint(stocktake_pages.bp)
