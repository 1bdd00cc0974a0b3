"""Keystone tokens: stateless, signed (``identity.signing``) under a server secret, valid an
hour and only while the access key they were issued for stays active."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass

from dockyard.identity import signing

PURPOSE = "keystone-token"
SECRET_NAME = "keystone_token_secret"
LIFETIME_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Token:
    access_key_id: str
    account_id: str
    user_name: str
    methods: tuple[str, ...]
    issued_at: float
    expires_at: float
    audit_id: str


def issue(
    secret: bytes, access_key_id: str, account_id: str, user_name: str, method: str, now: float
) -> tuple[str, Token]:
    """A new token for an authenticated key: its wire form and what it says."""
    token = Token(
        access_key_id,
        account_id,
        user_name,
        (method,),
        now,
        now + LIFETIME_SECONDS,
        secrets.token_urlsafe(16),
    )
    fields = asdict(token) | {"methods": list(token.methods)}
    return signing.sign(secret, PURPOSE, fields), token


def read(secret: bytes, value: str | None, now: float) -> Token | None:
    """What a token says, or None if it is absent, forged, malformed or expired (whether its
    key still works is the caller's check)."""
    fields = signing.verify(secret, PURPOSE, value)
    if not isinstance(fields, dict):
        return None
    try:
        token = Token(**(fields | {"methods": tuple(fields.get("methods", ()))}))
    except TypeError:
        return None
    return token if token.expires_at > now else None
