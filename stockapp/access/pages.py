"""Browser sessions: the tutorial's log-in form, and log-out."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import login_user, logout_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from ..core.extensions import csrf, db
from ..core.rules import MAX_NAME_LENGTH
from . import limits
from .identity import SessionUser
from .models import User
from .passwords import MAX_PASSWORD_LENGTH, verify_password
from .permissions import public_page, safe_next

bp = Blueprint("access_pages", __name__, template_folder="templates")

_FAILED = "Invalid name or password."
# The session cookie is Secure: over plain HTTP the browser never sends it back,
# so the form's CSRF check fails. Say why rather than "CSRF token missing".
NEEDS_HTTPS = (
    "Log-in needs HTTPS here: this server sends its session cookie over HTTPS"
    " only. Use an https:// address, or set SESSION_COOKIE_SECURE=0 on a trusted"
    " network."
)


def _needs_https() -> bool:
    return bool(current_app.config["SESSION_COOKIE_SECURE"]) and not request.is_secure


def _form(errors: dict[str, str], status: int = 200) -> Any:
    page = render_template(
        "access/log_in.html",
        errors=errors,
        name=request.form.get("name", ""),
        next=safe_next(request.values.get("next")) or "",
    )
    return page, status


@bp.get("/log-in")
@public_page
def log_in() -> Any:
    """The log-in form."""
    return _form({"form": NEEDS_HTTPS} if _needs_https() else {})


@bp.post("/log-in")
@public_page
@csrf.exempt  # checked first thing below, to say why it fails over plain HTTP
def submit_log_in() -> Any:
    """Check the name and password; on success start a fresh session."""
    try:
        csrf.protect()
    except CSRFError:
        if _needs_https():
            return _form({"form": NEEDS_HTTPS}, 400)
        raise
    name = request.form.get("name", "")
    password = request.form.get("password", "")
    errors = {
        field: "is required"
        for field, value in (("name", name), ("password", password))
        if not value
    }
    if errors:
        return _form(errors, 400)
    # No name is longer than MAX_NAME_LENGTH: a longer one is counted by its
    # start, so a megabyte of name is not a megabyte of rate-limit key.
    keys = (
        ("log-in", "address", limits.client_address()),
        ("log-in", "name", name[: MAX_NAME_LENGTH + 1]),
    )
    attempt = limits.Attempt("RATELIMIT_LOG_INS", *keys)
    user = _check_password(name, password)
    if user is None:
        return _form({"form": _FAILED}, 400)
    attempt.succeeded()
    # A new session: nothing from before the log-in (a planted cookie, its
    # CSRF token) carries over into the logged-in one.
    session.clear()
    login_user(user)
    session.permanent = True
    flash(f"Logged in as {user.name} ({user.role}).", "success")
    return redirect(safe_next(request.form.get("next")) or url_for("pages.index"), 303)


def _check_password(name: str, password: str) -> SessionUser | None:
    """The user ``name`` if ``password`` is theirs and they are enabled; else None.

    Takes as long whether or not the user exists (a dummy hash is checked).
    """
    row = db.session.execute(
        select(
            User.id,
            User.name,
            User.role,
            User.session_epoch,
            User.password_hash,
            User.disabled,
        ).where(User.name == name)
    ).one_or_none()
    db.session.rollback()
    stored_hash = None if row is None else row.password_hash
    password_ok = len(password) <= MAX_PASSWORD_LENGTH and verify_password(
        stored_hash, password
    )
    if row is None or row.disabled or not password_ok:
        return None
    return SessionUser(row.id, row.name, row.role, row.session_epoch)


@bp.post("/log-out")
@public_page
def log_out() -> Any:
    """End the browser session."""
    logout_user()
    session.clear()
    flash("Logged out.", "success")
    return redirect(url_for(".log_in"), 303)
