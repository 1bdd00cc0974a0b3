"""The plain HTTP request and response the protocol layer works on (no framework types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class HttpRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    # The Authorization header, parsed and screened before the body was read (a
    # sigv4.SignedRequest), so the signature check does not parse it again; None if not yet.
    signed: Any = None


@dataclass(slots=True)
class HttpResponse:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
