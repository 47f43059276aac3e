"""Signing secrets: made, kept encrypted, and used to sign as Standard Webhooks
says.

A secret is ``whsec_`` and the base64 of 32 random bytes, shown once when a
subscription is made or its secret rotated. The server must keep it to sign, so
it is stored encrypted (Fernet: AES-128-CBC with an HMAC-SHA256) under a key
derived from ``SECRET_KEY`` with HKDF: a copy of the database or a backup alone
does not reveal it. Changing ``SECRET_KEY`` makes the stored secrets unreadable:
rotate every subscription's secret after (docs/webhooks.md).

A signature is ``v1,`` and the base64 HMAC-SHA256, under the secret's bytes, of
``{webhook-id}.{webhook-timestamp}.{body}``; with two secrets (a rotation's
grace period) the header holds both, space-separated.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
_KEY_INFO = b"stockapp webhook signing secrets"


class UnreadableSecret(Exception):
    """A stored secret that the current SECRET_KEY cannot decrypt."""


def new_secret() -> str:
    """A fresh signing secret, as the receiver is given it."""
    raw = secrets.token_bytes(SECRET_BYTES)
    return SECRET_PREFIX + base64.b64encode(raw).decode("ascii")


@functools.cache
def _cipher(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    """``secret`` encrypted for the database."""
    cipher = _cipher(current_app.config["SECRET_KEY"])
    return cipher.encrypt(secret.encode()).decode("ascii")


def unseal(sealed: str) -> str:
    """The secret ``seal`` encrypted, or UnreadableSecret."""
    try:
        return _cipher(current_app.config["SECRET_KEY"]).decrypt(sealed).decode()
    except InvalidToken as error:
        raise UnreadableSecret(
            "The signing secret cannot be decrypted with this SECRET_KEY;"
            " rotate the secret."
        ) from error


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,`` signature of a delivery under ``secret``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(
    secrets_in_use: list[str], message_id: str, timestamp: int, body: bytes
) -> str:
    """The webhook-signature header: one signature per secret in use."""
    return " ".join(
        signature(secret, message_id, timestamp, body) for secret in secrets_in_use
    )
