"""Signing in to the console with a Dockyard access key (id and secret), and out again.

The key is checked against the same store the SigV4 path reads (``ServerState.access_key``):
an unknown, revoked or mistyped key is refused with one message that says not which. With
``--no-verify-signatures`` (throwaway set-ups) any key id signs in, as the default account,
as every API caller then is. Failed sign-ins are throttled per client address and per key id
(``throttle``): past a few, a 429 page until the bucket refills.
"""

from __future__ import annotations

import hmac
import re
import time
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from dockyard.console import sessions
from dockyard.console.throttle import Throttle
from dockyard.console.web import PREFIX, Console, read_form
from dockyard.errors import ApiError
from dockyard.identity.authenticate import usable_key

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_REFUSED = "The access key id or secret access key is not valid."


def next_path(value: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if value and value.startswith(PREFIX + "/") and not urlsplit(value).netloc and "//" not in value:
        return value
    return f"{PREFIX}/clusters"


def form(console: Console):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        if console.session_of(request) is not None:
            return console.redirect(request, next_path(request.query_params.get("next")))
        return console.render(
            request, "signin.html", next=next_path(request.query_params.get("next")), error=""
        )

    return endpoint


def sign_in(console: Console, throttle: Throttle | None = None):  # type: ignore[no-untyped-def]
    throttle = throttle or Throttle()

    async def endpoint(request: Request) -> Response:
        if not sessions.same_origin(request.headers, request.url.scheme):
            return console.refuse(request, 403, "The request did not come from a console page.")
        fields = await read_form(request)
        key_id = fields.get("accessKeyId", "").strip()
        region = fields.get("region", "").strip() or "us-east-1"
        target = next_path(fields.get("next"))

        def again(message: str) -> Response:
            return console.render(request, "signin.html", status=403, next=target, error=message)

        if not _REGION.match(region):
            return again(f"{region!r} is not a region name (such as us-east-1).")
        server = console.server
        if server.verify_signatures:
            now = time.monotonic()
            names = [("address", request.client.host if request.client else ""), ("key", key_id)]
            wait = throttle.wait_seconds(names, now)
            if wait:
                return console.render(
                    request,
                    "signin.html",
                    status=429,
                    next=target,
                    error=f"Too many failed sign-ins: try again in {wait} s.",
                )
            try:
                key = usable_key(server, key_id, "console")
            except ApiError:
                key = None
            if key is None or not hmac.compare_digest(
                key.secret_access_key.encode(), fields.get("secretAccessKey", "").encode()
            ):
                throttle.failed(names, now)
                return again(_REFUSED)
            account, user = key.account_id, key.user_name
        else:
            account, user = server.default_account_id, "admin"
        session = sessions.new_session(key_id or "anonymous", account, user, region, time.time())
        response = console.redirect(request, target)
        console.set_session(response, request, session)
        return response

    return endpoint


def sign_out(console: Console):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        if not sessions.same_origin(request.headers, request.url.scheme):
            return console.refuse(request, 403, "The request did not come from a console page.")
        response = console.redirect(request, f"{PREFIX}/signin")
        console.set_session(response, request, None)
        return response

    return endpoint
