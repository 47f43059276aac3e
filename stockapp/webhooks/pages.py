"""The admins' webhooks page: the subscriptions, each one's recent deliveries,
and every action of the JSON API as a plain form.

Every write goes through the units of work in subscriptions.py, as the API's
do. A new signing secret exists nowhere but in the answer that makes it, so that
answer is the page itself (201 for a new subscription, 200 for a rotation; never
cached), as on the tokens page; every other form redirects back with a notice.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict

from ..access.identity import current_identity
from ..access.permissions import requires_user
from ..core.cursors import MAX_ID
from ..core.rules import ValidationError
from . import subscriptions
from .guards import unlimited_admin
from .models import EVENT_TYPES
from .validation import SubscriptionFields, subscription_body

bp = Blueprint("webhook_pages", __name__, template_folder="templates")
# As the API: never for a token limited to some collections, on every route of
# the blueprint (authorize() has already checked the admin scope by then).
bp.before_request(unlimited_admin)

_LIST = "/webhook-subscriptions"
_ONE = f"{_LIST}/<int(max={MAX_ID}):subscription_id>"
# What each event is sent for, beside its checkbox.
EVENT_MEANINGS = {
    "movement.created": "every change of a quantity",
    "member.low": "a member falls to its reorder level or below",
    "member.restocked": "a member rises back above its reorder level",
    "collection.deleted": "a collection is deleted",
}
_NO_STORE = {"Cache-Control": "no-store"}


def _allow_private() -> bool:
    return bool(current_app.config["WEBHOOKS_ALLOW_PRIVATE"])


def _list_page(status: int = 200, errors: dict[str, str] | None = None) -> Any:
    """The subscriptions and the form to add one (re-filled after ``errors``)."""
    page = render_template(
        "webhooks/subscriptions.html",
        subscriptions=subscriptions.list_subscriptions(),
        event_types=EVENT_TYPES,
        meanings=EVENT_MEANINGS,
        errors=errors or {},
        form=request.form if errors else MultiDict(),
        allow_private=_allow_private(),
    )
    return page, status


def _subscription_page(
    subscription: dict[str, Any],
    status: int = 200,
    *,
    secret: str | None = None,
    made: bool = False,
) -> Any:
    """A subscription with its recent deliveries; ``secret`` shown this once."""
    page = render_template(
        "webhooks/subscription.html",
        subscription=subscription,
        deliveries=subscriptions.recent_deliveries(subscription["id"]),
        secret=secret,
        made=made,
    )
    # A page holding a secret: no cache keeps it, not even the browser's.
    return page, status, _NO_STORE if secret is not None else {}


def _back_to(subscription_id: int) -> Any:
    """Post/redirect/get: back to the subscription's page."""
    return redirect(url_for(".subscription_page", subscription_id=subscription_id), 303)


def _subscription_body(form: Any) -> dict[str, Any]:
    """The form's fields as the API's body, for the same rules to check."""
    names = [line.strip() for line in form.get("collections", "").splitlines()]
    return {
        "url": form.get("url", "").strip(),
        "events": form.getlist("events"),
        # None: every collection.
        "collections": [name for name in names if name] or None,
        "description": form.get("description", "").strip() or None,
        # An unticked checkbox is not posted at all.
        "ordered": "ordered" in form,
    }


@bp.get(_LIST)
@requires_user("admin", page=True)
def subscriptions_page() -> Any:
    """Every webhook subscription, and the form to add one (admins only)."""
    return _list_page()


@bp.post(_LIST)
@requires_user("admin", page=True)
def create_subscription() -> Any:
    """Add a subscription from the form; show its signing secret once."""
    body = _subscription_body(request.form)
    try:
        fields = subscription_body(body, allow_private=_allow_private(), new=True)
    except ValidationError as error:
        errors = dict(error.errors)
        if "events" in errors and not body["events"]:
            # Said for a person ticking boxes rather than for a JSON list.
            errors["events"] = "must have at least one ticked"
        return _list_page(400, errors)
    new = subscriptions.create_subscription(fields)
    page, status, headers = _subscription_page(
        new.subscription, 201, secret=new.secret, made=True
    )
    location = url_for(".subscription_page", subscription_id=new.subscription["id"])
    return page, status, {**headers, "Location": location}


@bp.get(_ONE)
@requires_user("admin", page=True)
def subscription_page(subscription_id: int) -> Any:
    """One subscription, its recent deliveries, and what can be done to it."""
    return _subscription_page(subscriptions.get_subscription(subscription_id))


@bp.post(f"{_ONE}/ping")
@requires_user("admin", page=True)
def ping(subscription_id: int) -> Any:
    """Queue a signed ping for the subscription's receiver."""
    delivery = subscriptions.ping(subscription_id, current_identity().name)
    if subscriptions.get_subscription(subscription_id)["enabled"]:
        when = "the worker sends it shortly"
    else:
        when = "it waits until the subscription is enabled again"
    flash(f"Ping queued as delivery {delivery['id']}: {when}.", "success")
    return _back_to(subscription_id)


@bp.post(f"{_ONE}/enabled")
@requires_user("admin", page=True)
def set_enabled(subscription_id: int) -> Any:
    """Turn the subscription off (enabled=0) or on again (enabled=1)."""
    wanted = request.form.get("enabled", "")
    if wanted not in ("0", "1"):
        raise ValidationError({"enabled": "must be 1 (enable) or 0 (disable)"})
    enabled = wanted == "1"
    subscriptions.update_subscription(
        subscription_id, SubscriptionFields(enabled=enabled)
    )
    if enabled:
        flash(
            f"Subscription {subscription_id} enabled: its waiting events go out again.",
            "success",
        )
    else:
        flash(
            f"Subscription {subscription_id} disabled: nothing is sent to it until"
            " it is enabled again.",
            "success",
        )
    return _back_to(subscription_id)


@bp.post(f"{_ONE}/rotate-secret")
@requires_user("admin", page=True)
def rotate_secret(subscription_id: int) -> Any:
    """Give the subscription a new signing secret; show it once."""
    new = subscriptions.rotate_secret(subscription_id)
    return _subscription_page(new.subscription, secret=new.secret)


@bp.post(f"{_ONE}/deliveries/<int(max={MAX_ID}):delivery_id>/redeliver")
@requires_user("admin", page=True)
def redeliver(subscription_id: int, delivery_id: int) -> Any:
    """Queue an earlier delivery's event again, with its id and body."""
    new = subscriptions.redeliver(subscription_id, delivery_id)
    flash(
        f"Delivery {delivery_id} queued again as delivery {new['id']}, with the"
        " same event id.",
        "success",
    )
    return _back_to(subscription_id)


@bp.get(f"{_ONE}/delete")
@requires_user("admin", page=True)
def confirm_deletion(subscription_id: int) -> Any:
    """Ask to confirm deleting a subscription, showing what it is."""
    return render_template(
        "webhooks/delete.html",
        subscription=subscriptions.get_subscription(subscription_id),
    )


@bp.post(f"{_ONE}/delete")
@requires_user("admin", page=True)
def delete_subscription(subscription_id: int) -> Any:
    """Delete a subscription with its undelivered events and its log."""
    subscriptions.delete_subscription(subscription_id)
    flash(
        f"Subscription {subscription_id} deleted, with its undelivered events and"
        " its log.",
        "success",
    )
    return redirect(url_for(".subscriptions_page"), 303)
