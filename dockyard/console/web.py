"""The console's HTTP frame: who is signed in, CSRF and origin checks, rendering, notices.

Handlers come in two shapes, both taking a ``Visit`` (one signed-in request): ``page`` for a
GET (no session: a redirect to the sign-in page) and ``action`` for a POST (no session, a
foreign origin or a wrong CSRF token: 403, nothing done). An ECS error escaping a page is
shown in ECS's words with its status; anything else is logged and shown as a 500 without a
traceback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dockyard.console import present, sessions
from dockyard.console.ecs_calls import Ecs
from dockyard.context import Identity
from dockyard.errors import ApiError
from dockyard.server_state import ServerState

log = logging.getLogger(__name__)

PREFIX = "/console"
FLASH_COOKIE = "dockyard_console_notice"
MAX_FORM_BYTES = 64 * 1024
SECURITY_HEADERS = {
    # Scripts and styles only from the console's own files: no inline script runs.
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dockyard.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=lambda value: "" if value is None else value,  # an absent member shows as nothing
    )
    env.filters["when"] = present.when
    env.filters["short_id"] = present.short_id
    env.filters["pretty_json"] = present.pretty_json
    return env


class Console:
    """What every console request shares: the server, the session secret, the templates."""

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.secret = server.server_secret("console_session_secret")
        self.templates = _environment()

    # -- sessions -------------------------------------------------------------------------

    def session_of(self, request: Request) -> sessions.Session | None:
        """The request's session, if its cookie is genuine, unexpired and its key still active."""
        session = sessions.open_cookie(self.secret, request.cookies.get(sessions.COOKIE), time.time())
        if session is None:
            return None
        if self.server.verify_signatures:
            try:
                key = self.server.access_key(session.access_key_id)
            except ApiError:
                return None
            if key.account_id != session.account_id:
                return None
        return session

    def visit(self, request: Request, session: sessions.Session) -> Visit:
        identity = Identity(session.access_key_id, session.account_id, session.user_name)
        return Visit(
            self,
            request,
            session,
            Ecs(self.server, identity, session.region),
            Ecs(self.server, identity, session.region, service="iot"),
        )

    def set_session(self, response: Response, request: Request, session: sessions.Session | None) -> None:
        if session is None:
            response.delete_cookie(sessions.COOKIE, path=PREFIX)
            return
        response.set_cookie(
            sessions.COOKIE,
            sessions.seal(self.secret, session),
            max_age=sessions.LIFETIME_SECONDS,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    # -- responses ------------------------------------------------------------------------

    def render(
        self, request: Request, template: str, *, status: int = 200, visit: Visit | None = None, **values: Any
    ) -> HTMLResponse:
        notice = sessions.flash_open(self.secret, request.cookies.get(FLASH_COOKIE))
        html = self.templates.get_template(template).render(
            prefix=PREFIX,
            session=visit.session if visit else None,
            csrf=sessions.csrf_token(self.secret, visit.session) if visit else "",
            notice=notice,
            path=request.url.path,
            live_stamp=visit.live_stamp if visit else "",
            **values,
        )
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        if notice is not None and request.headers.get("x-console-live") is None:
            response.delete_cookie(FLASH_COOKIE, path=PREFIX)
        return response

    def redirect(self, request: Request, to: str, notice: tuple[str, str] | None = None) -> Response:
        """303 to ``to`` (a console path), with a one-time notice for the page it lands on."""
        response = RedirectResponse(to, status_code=303, headers=SECURITY_HEADERS)
        if notice is not None:
            kind, message = notice
            response.set_cookie(
                FLASH_COOKIE,
                sessions.flash_seal(self.secret, message, kind),
                max_age=60,
                path=PREFIX,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response

    def refuse(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status=status, title="Refused", message=message)

    # -- handler wrappers -----------------------------------------------------------------

    def page(
        self, handler: Callable[[Visit], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            session = self.session_of(request)
            if session is None:
                return self.redirect(request, f"{PREFIX}/signin?next={quote(request.url.path)}")
            visit = self.visit(request, session)
            try:
                return await handler(visit)
            except ApiError as error:
                return self.render(
                    request,
                    "error.html",
                    status=error.status,
                    visit=visit,
                    title=error.code,
                    message=error.message,
                )
            except Exception:
                log.exception("console page %s failed", request.url.path)
                return self._internal(request, visit)

        return endpoint

    def action(
        self, handler: Callable[[Visit], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not sessions.same_origin(request.headers, request.url.scheme):
                return self.refuse(request, 403, "The request did not come from a console page.")
            session = self.session_of(request)
            if session is None:
                return self.refuse(request, 403, "You are not signed in (or your session expired).")
            visit = self.visit(request, session)
            visit.form = await read_form(request)
            if not sessions.csrf_ok(self.secret, session, visit.field("csrf")):
                return self.refuse(
                    request, 403, "The form's security token is missing or wrong: reload the page."
                )
            try:
                return await handler(visit)
            except Exception:
                log.exception("console action %s failed", request.url.path)
                return self._internal(request, visit)

        return endpoint

    def _internal(self, request: Request, visit: Visit) -> HTMLResponse:
        return self.render(
            request,
            "error.html",
            status=500,
            visit=visit,
            title="Internal error",
            message="An internal error occurred; see the server log.",
        )


@dataclass
class Visit:
    """One signed-in request: the session, ECS and IoT as its user, and the form of a POST."""

    console: Console
    request: Request
    session: sessions.Session
    ecs: Ecs
    iot: Ecs
    form: dict[str, str] | None = None
    live_stamp: str = ""  # the stamp of what the page shows, for its event stream (``live``)

    def param(self, name: str, default: str = "") -> str:
        return str(self.request.path_params.get(name) or self.request.query_params.get(name) or default)

    def field(self, name: str, default: str = "") -> str:
        return (self.form or {}).get(name, default)

    def render(self, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
        return self.console.render(self.request, template, status=status, visit=self, **values)

    def redirect(self, to: str, notice: tuple[str, str] | None = None) -> Response:
        return self.console.redirect(self.request, to, notice)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form (first value of each field); a body past MAX_FORM_BYTES reads as empty."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}
