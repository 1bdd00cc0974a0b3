"""Console sessions: a signed cookie, a CSRF token derived from it, and the same-origin check.

The session is stateless (nothing stored server-side): the cookie carries the access key id,
account, user, region, a random nonce and an expiry, signed with HMAC-SHA256 under a secret
kept in the store, so every worker and replica accepts it. A session is only as good as its
key: each request checks the key is still active (``ServerState.access_key``, cached 1 s), so
revoking a key ends its sessions within a second. The CSRF token is an HMAC of the nonce, put
in every form; a POST must carry it and come from the console's own origin.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from dockyard.identity import signing

COOKIE = "dockyard_console"
LIFETIME_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    access_key_id: str
    account_id: str
    user_name: str
    region: str
    nonce: str
    expires_at: float


def new_session(access_key_id: str, account_id: str, user_name: str, region: str, now: float) -> Session:
    return Session(
        access_key_id, account_id, user_name, region, secrets.token_hex(16), now + LIFETIME_SECONDS
    )


def seal(secret: bytes, session: Session) -> str:
    """The cookie value: the session as JSON and its MAC."""
    return signing.sign(secret, "session", asdict(session))


def open_cookie(secret: bytes, value: str | None, now: float) -> Session | None:
    """The session a cookie value carries, or None if absent, forged, malformed or expired."""
    fields = signing.verify(secret, "session", value)
    try:
        session = Session(**fields) if isinstance(fields, dict) else None
    except TypeError:
        return None
    return session if session is not None and session.expires_at > now else None


def csrf_token(secret: bytes, session: Session) -> str:
    return signing.b64(signing.mac(secret, "csrf", session.nonce.encode()))


def csrf_ok(secret: bytes, session: Session, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given), csrf_token(secret, session))


def same_origin(headers: Mapping[str, str], scheme: str) -> bool:
    """Whether a POST comes from a page of this origin: its ``Origin`` (or, when a browser
    sent none, its ``Referer``) names the scheme and host the request was sent to."""
    host = headers.get("host", "")
    if not host:
        return False
    expected = f"{scheme}://{host}".lower()
    origin = headers.get("origin")
    if origin is not None:
        return origin.lower() == expected
    referer = headers.get("referer")
    if not referer:
        return False
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}".lower() == expected


def flash_seal(secret: bytes, message: str, kind: str) -> str:
    """A one-time notice for the next page (after a redirect), signed so no one else sets it."""
    return signing.sign(secret, "flash", [kind, message[:2000]])


def flash_open(secret: bytes, value: str | None) -> tuple[str, str] | None:
    notice = signing.verify(secret, "flash", value)
    if not isinstance(notice, list) or len(notice) != 2:
        return None
    kind, message = notice
    return str(kind), str(message)
