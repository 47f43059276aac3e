"""The admins' webhooks page (filled in below)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("webhook_pages", __name__, template_folder="templates")
