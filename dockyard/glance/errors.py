"""Glance's errors as Glance sends them: webob's HTTP exceptions, rendered as webob renders
them for the ``Accept`` header (an HTML page for glanceclient's ``*/*``, text/plain or JSON
``{"message", "code", "title"}`` when asked), and keystonemiddleware's 401."""

from __future__ import annotations

import html
from collections.abc import Mapping

import orjson
from starlette.responses import Response

# webob's status titles for the codes Glance uses.
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class GlanceError(Exception):
    """A webob HTTP exception raised with ``explanation=``: the explanation is the body."""

    def __init__(
        self,
        status: int,
        explanation: str,
        *,
        headers: Mapping[str, str] | None = None,
        bare: bool = False,
    ) -> None:
        super().__init__(explanation)
        self.status = status
        self.explanation = explanation
        self.headers = dict(headers or {})
        self.bare = bare  # body_template='${explanation}': no "<br /><br />" tail


def bad_request(explanation: str) -> GlanceError:
    return GlanceError(400, explanation)


def not_found(explanation: str) -> GlanceError:
    return GlanceError(404, explanation)


def render(error: GlanceError, accept: str) -> Response:
    """The response webob makes of ``error`` for a client that accepts ``accept``."""
    status = f"{error.status} {TITLES.get(error.status, 'Error')}"
    kind = _preferred(accept)
    if kind == "application/json":
        body = orjson.dumps(
            {"message": _plain(error), "code": status, "title": TITLES.get(error.status, "Error")}
        )
    elif kind == "text/plain":
        body = f"{status}\n\n{_plain(error)}".encode()
    else:
        kind = "text/html"
        text = html.escape(error.explanation, quote=False)
        inner = text if error.bare else f"{text}<br /><br />\n\n\n"
        page = (
            f"<html>\n <head>\n  <title>{status}</title>\n </head>\n <body>\n"
            f"  <h1>{status}</h1>\n  {inner}\n </body>\n</html>"
        )
        body = page.encode()
    return Response(body, status_code=error.status, headers=error.headers, media_type=f"{kind}")


def _plain(error: GlanceError) -> str:
    return error.explanation if error.bare else f"{error.explanation}\n\n\n"


def _preferred(accept: str) -> str:
    """webob's choice among its three renderings: the first offered type the client names,
    HTML for ``*/*`` or no header."""
    for part in (accept or "*/*").split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("text/html", "application/json", "text/plain"):
            return media
        if media in ("*/*", "text/*"):
            return "text/html"
    return "text/html"


def unauthorized(
    auth_uri: str, message: str = "The request you have made requires authentication."
) -> Response:
    """keystonemiddleware's answer to a missing, bad or expired token."""
    body = {"error": {"code": 401, "title": "Unauthorized", "message": message}}
    return Response(
        orjson.dumps(body),
        status_code=401,
        media_type="application/json",
        headers={"WWW-Authenticate": f'Keystone uri="{auth_uri}"'},
    )
