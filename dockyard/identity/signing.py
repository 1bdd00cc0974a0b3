"""Signed, stateless values (console sessions, Keystone tokens): a JSON payload and its
HMAC-SHA256 under a server secret, each use under its own purpose so one never passes for another."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mac(secret: bytes, purpose: str, data: bytes) -> bytes:
    return hmac.new(secret, purpose.encode() + b"\0" + data, hashlib.sha256).digest()


def sign(secret: bytes, purpose: str, value: Any) -> str:
    """``value`` as JSON, then its MAC: ``payload.mac``, both URL-safe base64."""
    payload = json.dumps(value, separators=(",", ":")).encode()
    return f"{b64(payload)}.{b64(mac(secret, purpose, payload))}"


def verify(secret: bytes, purpose: str, signed: str | None) -> Any:
    """The value ``sign`` sealed, or None if absent, malformed or forged."""
    if not signed or signed.count(".") != 1:
        return None
    body, given = signed.split(".")
    try:
        payload = unb64(body)
        if not hmac.compare_digest(unb64(given), mac(secret, purpose, payload)):
            return None
        return json.loads(payload)
    except (ValueError, TypeError):
        return None
