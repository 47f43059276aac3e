"""Idempotency keys: a POST retried with the same key is applied at most once.

The key, a fingerprint of the request and the first successful response are
stored in the same transaction as the write itself, so the guarantee holds
across gunicorn workers and restarts.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Response, current_app, request
from sqlalchemy import delete, select, update

from ..access.identity import current_identity
from ..core.api_doc import Schema, amend, header_refs, ref
from ..core.clock import utcnow
from ..core.database import (
    delete_in_batches,
    insert_ignoring_conflict,
    retry_serialization_failures,
    write_connection,
    write_transaction,
)
from ..core.errors import Problem
from ..core.guards import request_body
from ..core.instruments import REPLAYS
from ..core.rules import idempotency_key
from .models import IdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
# Response headers worth replaying; the rest are recomputed.
_REPLAYED_HEADERS = ("Location", "ETag")


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Apply ``view`` at most once per ``Idempotency-Key``; replay its first 2xx."""

    @functools.wraps(view)
    def apply_once(**kwargs: Any) -> Any:
        raw_key = request.headers.get("Idempotency-Key")
        if raw_key is None:
            return view(**kwargs)
        key = idempotency_key(raw_key)
        # Keys are per user; 0 stands for anonymous callers.
        user_id = current_identity().user_id or 0
        return _apply_and_record(view, kwargs, user_id, key, _fingerprint())

    return amend(apply_once, _document_idempotency)


def _document_idempotency(operation: Schema) -> None:
    """What ``@idempotent`` adds to an operation: the key, the replay header on
    each success, and the 422 for a key reused with another request."""
    operation.setdefault("parameters", []).append(ref("parameters", "IdempotencyKey"))
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            response.setdefault("headers", {}).update(
                header_refs("Idempotent-Replayed")
            )
    operation["responses"]["422"] = ref("responses", "IdempotencyKeyReused")
    # A write: the disk may be full.
    operation["responses"]["507"] = ref("responses", "StorageFull")


@retry_serialization_failures
def _apply_and_record(
    view: Callable[..., Any],
    kwargs: dict[str, Any],
    user_id: int,
    key: str,
    fingerprint: str,
) -> Response:
    """Claim ``key``, apply ``view`` and store its response, in one transaction."""
    with write_transaction():
        now = utcnow()
        # Only this key, if it has expired (one row, through the unique index):
        # a purge of every expired key here made keyed writes wait on each
        # other. The rest go out of band, in batches (prune_expired_keys).
        write_connection().execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.created_at < now - KEY_LIFETIME,
            )
        )
        # Claim the key first: a concurrent request with the same key
        # waits here (PostgreSQL) or already waited for the write lock
        # (SQLite), and then finds the first one's response.
        key_id = (
            write_connection()
            .execute(
                insert_ignoring_conflict(IdempotencyKey)
                .values(
                    user_id=user_id, key=key, fingerprint=fingerprint, created_at=now
                )
                .returning(IdempotencyKey.id)
            )
            .scalar_one_or_none()
        )
        if key_id is None:
            REPLAYS.inc()
            return _replay(user_id, key, fingerprint)
        # A failure raises and rolls the claim back with everything else:
        # only successes are kept, and a failed request may be retried.
        response = current_app.make_response(view(**kwargs))
        headers = {
            name: response.headers[name]
            for name in _REPLAYED_HEADERS
            if name in response.headers
        }
        write_connection().execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == key_id)
            .values(
                status=response.status_code,
                body=response.get_data(as_text=True),
                headers=json.dumps(headers),
            )
        )
    return response


def prune_expired_keys(batch_size: int) -> int:
    """Delete the expired keys, ``batch_size`` at a time, each batch its own short
    transaction (no long lock); how many were deleted."""
    expired = IdempotencyKey.created_at < utcnow() - KEY_LIFETIME
    return delete_in_batches(IdempotencyKey, expired, batch_size)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    digest.update(request_body())
    return digest.hexdigest()


def _replay(user_id: int, key: str, fingerprint: str) -> Response:
    stored = (
        write_connection()
        .execute(
            select(
                IdempotencyKey.fingerprint,
                IdempotencyKey.status,
                IdempotencyKey.body,
                IdempotencyKey.headers,
            ).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        )
        .one()
    )
    if stored.fingerprint != fingerprint:
        raise Problem(
            422,
            "Idempotency key reused",
            f'Idempotency-Key "{key}" was used for a different request;'
            " nothing was changed.",
        )
    response = current_app.response_class(
        stored.body, status=stored.status, mimetype="application/json"
    )
    response.headers.update(json.loads(stored.headers or "{}"))
    response.headers["Idempotent-Replayed"] = "true"
    return response
