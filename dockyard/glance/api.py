"""The Glance v2 front-end under ``/image`` (devstack's layout): version documents, schemas,
tasks and the images minimum. It only translates HTTP to the domain modules (``tasks``,
``images``, ``uploads``) and their results or ``GlanceError``s back, rendered as webob renders
them. Every call but the version documents needs a Keystone token (``X-Auth-Token``).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dockyard.context import Identity
from dockyard.glance import images, tasks
from dockyard.glance.errors import GlanceError, bad_request, render, unauthorized
from dockyard.glance.import_filter import ImportFilter, ImportRefused
from dockyard.glance.schemas import SERVED, check
from dockyard.glance.uploads import Uploads
from dockyard.objectstore import ObjectStoreUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from dockyard.keystone.api import Keystone
    from dockyard.server_state import ServerState

log = logging.getLogger(__name__)

PREFIX = "/image"
CONTROLLER = "glance-imports"
Handler = Callable[..., Awaitable[Response]]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _limit(raw: str | None) -> int:
    if raw is None:
        return tasks.DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request("limit param must be an integer") from None
    if limit < 0:
        raise bad_request("limit param must be positive")
    return min(limit, tasks.MAX_LIMIT)


def _sort_dir(raw: str) -> str:
    if raw not in ("asc", "desc"):
        raise bad_request(f"Invalid sort direction: {raw}")
    return raw


def _envelope(name: str, items: list[Any], params: dict[str, str], limit: int, last: str | None) -> Any:
    """Glance's list envelope: ``first`` (the query without its marker) and, after a full
    page, ``next`` (the query resumed after the last item)."""
    query = {k: v for k, v in params.items() if k != "marker"}
    body: dict[str, Any] = {name: items, "first": f"/v2/{name}", "schema": f"/v2/schemas/{name}"}
    if query:
        body["first"] += "?" + urlencode(query)
    if items and len(items) == limit and last is not None:
        body["next"] = f"/v2/{name}?" + urlencode(query | {"marker": last})
    return body


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise bad_request("Body expected in request.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("Malformed JSON in request body.") from None


class GlanceApi:
    """The ASGI application mounted at ``/image``."""

    def __init__(self, server: ServerState, keystone: Keystone) -> None:
        self.server = server
        self.keystone = keystone
        self.import_filter = ImportFilter.from_environment()
        self.uploads = Uploads(server)
        self.routes: list[tuple[re.Pattern[str], dict[str, Handler], bool]] = []
        public: dict[str, Handler] = {"GET": self.multiple_choices}
        self._route("", public, public=True)
        self._route("/", public, public=True)
        self._route("/versions", {"GET": self.versions}, public=True)
        self._route("/v2/schemas/(?P<name>[a-z]+)", {"GET": self.schema})
        self._route("/v2/tasks", {"GET": self.list_tasks, "POST": self.create_task})
        self._route("/v2/tasks/(?P<task_id>[^/]+)", {"GET": self.show_task, "DELETE": self.delete_task})
        self._route("/v2/images", {"GET": self.list_images, "POST": self.create_image})
        self._route("/v2/images/(?P<image_id>[^/]+)", {"GET": self.show_image, "DELETE": self.delete_image})
        self._route("/v2/images/(?P<image_id>[^/]+)/file", {"GET": self.download, "PUT": self.upload})

    def _route(self, pattern: str, methods: dict[str, Handler], *, public: bool = False) -> None:
        self.routes.append((re.compile(f"^{pattern}$"), methods, public))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._dispatch(request, scope["path"][len(PREFIX) :])
        except GlanceError as error:
            response = render(error, request.headers.get("accept", "*/*"))
        except ObjectStoreUnavailable:
            log.exception("glance: the object store does not answer")
            unavailable = GlanceError(503, "The image store is not available; try again later.")
            response = render(unavailable, request.headers.get("accept", "*/*"))
        await response(scope, receive, send)

    async def _dispatch(self, request: Request, path: str) -> Response:
        for pattern, methods, public in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            handler = methods.get(request.method) or (
                methods.get("GET") if request.method == "HEAD" else None
            )
            if handler is None:
                allowed = ", ".join(sorted(methods))
                raise GlanceError(
                    405,
                    f"The method {request.method} is not allowed for this resource.",
                    headers={"Allow": allowed},
                )
            if public:
                return await handler(request)
            identity = self._identity(request)
            if identity is None:
                return unauthorized(self.keystone.base)
            return await handler(request, identity, **match.groupdict())
        raise GlanceError(404, "The resource could not be found.")

    def _identity(self, request: Request) -> Identity | None:
        token = self.keystone.open(request.headers.get("x-auth-token"))
        if token is None:
            return None
        return Identity(token.access_key_id, token.account_id, token.user_name)

    async def _store(self, identity: Identity, work: Callable[[Connection], Any], *, write: bool) -> Any:
        def run(ctx: Any) -> Any:
            return work(ctx.connection)  # one transaction of the request's

        return await self.server.transact(identity, "us-east-1", run, write=write)

    # Versions and schemas

    def _versions(self) -> dict[str, Any]:
        href = self.server.public_url.rstrip("/") + PREFIX + "/v2/"
        minors = range(16, -1, -1)
        return {
            "versions": [
                {
                    "id": f"v2.{minor}",
                    "status": "CURRENT" if minor == 16 else "SUPPORTED",
                    "links": [{"rel": "self", "href": href}],
                }
                for minor in minors
            ]
        }

    async def multiple_choices(self, _request: Request) -> Response:
        return _json(self._versions(), 300)

    async def versions(self, _request: Request) -> Response:
        return _json(self._versions())

    async def schema(self, _request: Request, _identity: Identity, name: str) -> Response:
        if name not in SERVED:
            raise GlanceError(404, "The resource could not be found.")
        return _json(SERVED[name])

    # Tasks

    async def create_task(self, request: Request, identity: Identity) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            raise bad_request("Body expected in request.")
        for name in ("type", "input"):
            if name not in body:
                raise bad_request(f"Task '{name}' is required")
        check(body, "task")
        task_input = body["input"] if isinstance(body["input"], dict) else {}
        try:
            self.import_filter.check(task_input.get("import_from"))
        except ImportRefused as error:
            raise bad_request(str(error)) from None
        now = time.time()
        row = await self._store(
            identity,
            lambda connection: tasks.create(
                connection,
                account_id=identity.account_id,
                user_id=identity.access_key_id,
                request_id=f"req-{uuid.uuid4()}",
                task_type=body["type"],
                task_input=task_input,
                now=now,
            ),
            write=True,
        )
        self.server.controllers.wake(CONTROLLER)
        return _json(tasks.view(row), 201, {"Location": f"/v2/tasks/{row['id']}"})

    async def list_tasks(self, request: Request, identity: Identity) -> Response:
        params = dict(request.query_params)
        sort_dir = _sort_dir(params.get("sort_dir", "desc"))
        status, task_type = params.get("status"), params.get("type")
        tasks.check_filters(status, task_type)
        marker = params.get("marker")
        if marker is not None and not _is_uuid(marker):
            raise bad_request("Invalid marker format")
        limit = _limit(params.get("limit"))
        rows = await self._store(
            identity,
            lambda connection: tasks.list_page(
                connection,
                identity.account_id,
                limit=limit,
                marker=marker,
                sort_key=params.get("sort_key", "created_at"),
                sort_dir=sort_dir,
                status=status,
                task_type=task_type,
            ),
            write=False,
        )
        items = [tasks.view(row, partial=True) for row in rows]
        return _json(_envelope("tasks", items, params, limit, rows[-1]["id"] if rows else None))

    async def show_task(self, _request: Request, identity: Identity, task_id: str) -> Response:
        row = await self._store(identity, lambda c: tasks.get(c, identity.account_id, task_id), write=False)
        return _json(tasks.view(row))

    async def delete_task(self, _request: Request, _identity: Identity, task_id: str) -> Response:
        raise GlanceError(
            405,
            "This operation is currently not permitted on Glance Tasks. They are auto deleted after "
            "reaching the time based on their expires_at property.",
            headers={"Allow": "GET"},
            bare=True,
        )

    # Images

    async def create_image(self, request: Request, identity: Identity) -> Response:
        body = images.check_body(await _body(request))
        now = time.time()
        row = await self._store(
            identity, lambda c: images.create(c, identity.account_id, body, now), write=True
        )
        return _json(images.view(row), 201, {"Location": f"/v2/images/{row['id']}"})

    async def list_images(self, request: Request, identity: Identity) -> Response:
        params = dict(request.query_params)
        limit = _limit(params.get("limit"))
        sort_key = params.get("sort_key", "created_at")
        if sort_key not in images.SORT_KEYS:
            raise bad_request(
                f"Invalid sort key: {sort_key}. It must be one of the following: "
                f"{', '.join(images.SORT_KEYS)}."
            )
        sort_dir = _sort_dir(params.get("sort_dir", "desc"))
        visibility = params.get("visibility")
        if visibility and visibility not in ("community", "public", "private", "shared", "all"):
            raise bad_request(f"Invalid visibility value: {visibility}")
        filters: dict[str, str] = {
            k: params[k] for k in ("name", "status", "container_format", "disk_format") if k in params
        }
        if visibility and visibility not in ("private", "all"):  # only private images exist here
            return _json(_envelope("images", [], params, limit, None))
        rows = await self._store(
            identity,
            lambda connection: images.list_page(
                connection,
                identity.account_id,
                limit=limit,
                marker=params.get("marker"),
                sort_key=sort_key,
                sort_dir=sort_dir,
                filters=filters,
            ),
            write=False,
        )
        items = [images.view(row) for row in rows]
        return _json(_envelope("images", items, params, limit, rows[-1]["id"] if rows else None))

    async def show_image(self, _request: Request, identity: Identity, image_id: str) -> Response:
        row = await self._store(identity, lambda c: images.get(c, identity.account_id, image_id), write=False)
        return _json(images.view(row))

    async def delete_image(self, _request: Request, identity: Identity, image_id: str) -> Response:
        await self.uploads.delete(identity, image_id)
        return Response(status_code=204)

    async def upload(self, request: Request, identity: Identity, image_id: str) -> Response:
        await self.uploads.upload(identity, image_id, request.stream())
        return Response(status_code=204)

    async def download(self, _request: Request, identity: Identity, image_id: str) -> Response:
        return await self.uploads.download(identity, image_id)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
