"""Stock over time: series computed from the movement log, and their charts."""

from __future__ import annotations

from flask import Flask

from ..core.api_document import contribute
from . import api, chart, pages


def init_app(app: Flask) -> None:
    """Serve the series and the charts."""
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    # The member's page (stock/) draws its chart through trends/_chart.html.
    app.add_template_global(pages.member_chart, "member_chart")
    app.add_template_global(chart.anchor, "chart_label_anchor")
    contribute(
        app,
        schemas=api.series_schemas(),
        parameters=api.series_parameters(),
    )
