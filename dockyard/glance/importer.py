"""The import worker: a controller that ends every Glance import task.

Due keys are the tasks still pending or processing (a processing one after a restart is one
whose worker died: it starts over, after removing the half-made image, unless its image is
active already), and ``expire`` once a minute. One import: pending -> processing; the input
checked (a bad one fails the task); an image made from ``image_properties`` (queued ->
saving); ``import_from`` streamed into the image store (redirects re-checked against the
import filter); the archive inspected; the image active, which sends it to the account's
connected Docker hosts (``host_loads``); once each answered, or the wait ran out, the task
``success`` with what was imported and where it loaded; or the task ``failure`` with why and
the half-made image gone. Waiting for hosts holds no reconcile: the task is looked at again
when a host answers (and every ``interval``).
"""

from __future__ import annotations

import http.client
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from sqlalchemy import Connection, update

from dockyard.glance import archives, host_loads, images, tasks
from dockyard.glance.errors import GlanceError
from dockyard.glance.import_filter import ImportFilter, ImportRefused
from dockyard.glance.uploads import Uploads
from dockyard.store.schema import glance_tasks

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

log = logging.getLogger(__name__)

REQUIRED_INPUT = ("import_from", "import_from_format", "image_properties")
EXPIRE = "expire"
EXPIRE_EVERY_SECONDS = float(os.environ.get("DOCKYARD_GLANCE_EXPIRE_INTERVAL", 60))
DOWNLOAD_TIMEOUT_SECONDS = 60.0


class ImportFailed(Exception):
    """The task fails with this message."""


def check_input(task_input: dict[str, Any]) -> dict[str, Any]:
    """The image properties of a valid import input; ImportFailed (Glance's words) if not."""
    for key in REQUIRED_INPUT:
        if key not in task_input:
            raise ImportFailed(f"Input does not contain '{key}' field")
    properties = task_input["image_properties"]
    if not isinstance(properties, dict):
        raise ImportFailed("image_properties must be an object")
    try:
        return images.check_body(dict(properties))
    except GlanceError as error:
        raise ImportFailed(error.explanation) from None


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, import_filter: ImportFilter) -> None:
        self.import_filter = import_filter

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if not self.import_filter.passes(newurl):
            raise ImportFailed(f"Redirect to disallowed URL: {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Download:
    """The bytes ``uri`` names, read straight into the image store's buffers (a ``file://`` one
    only under the import folder); opened at the first read, on the worker thread that reads."""

    def __init__(self, uri: str, import_filter: ImportFilter) -> None:
        self.uri = uri
        self.import_filter = import_filter
        self._stream: Any = None

    def readinto(self, buffer: memoryview, /) -> int:
        try:
            if self._stream is None:
                self._stream = self._open()
            got = int(self._stream.readinto(buffer))
        except urllib.error.HTTPError as error:
            raise ImportFailed(f"Fetching {self.uri} failed: HTTP {error.code} {error.reason}") from None
        # HTTPException: a chunked body cut short, among others.
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            raise ImportFailed(f"Fetching {self.uri} failed: {reason}") from None
        short = getattr(self._stream, "length", None)  # http.client ends a body cut short quietly
        if not got and buffer and short:
            raise ImportFailed(f"Fetching {self.uri} failed: the body ended {short} bytes short")
        return got

    def _open(self) -> Any:
        path = self.import_filter.local_path(self.uri) if self.uri.startswith("file://") else None
        if path is not None:
            return path.open("rb", buffering=0)
        opener = urllib.request.build_opener(_CheckedRedirects(self.import_filter))
        return opener.open(self.uri, timeout=DOWNLOAD_TIMEOUT_SECONDS)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()


def _result(row: dict[str, Any], outcome: host_loads.Outcome) -> dict[str, Any]:
    """A successful import's ``result``: the image, what its archive holds, where it loaded."""
    docker = row["docker"] or {}
    return {
        "image_id": row["id"],
        "digest": docker.get("digest"),
        "repo_tags": docker.get("repo_tags", []),
        "format": docker.get("format"),
        "checksum": row["checksum"],
        "size": row["size"],
        **outcome.result(),
    }


class ImportWorker:
    """The controller (one leader for all replicas)."""

    name = host_loads.SETTLED_BY
    needs_leader = True
    interval = 5.0

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.uploads = Uploads(server)
        self.import_filter = ImportFilter.from_environment()
        self.next_expiry = 0.0

    async def due(self, now: float) -> Sequence[Hashable]:
        keys: list[Hashable] = list(await self.server.run_in_store(tasks.unfinished))
        if now >= self.next_expiry:
            keys.append(EXPIRE)
        return keys

    async def reconcile(self, key: Hashable) -> None:
        if key == EXPIRE:
            now = time.time()
            gone = await self.server.run_in_store(lambda c: tasks.expire(c, now))
            await self.server.run_in_store(lambda c: host_loads.expire(c, now))  # uploads' loads
            self.next_expiry = now + EXPIRE_EVERY_SECONDS
            if gone:
                log.info("glance: %d expired tasks removed", gone)
            return
        await self.run(str(key))

    async def run(self, task_id: str) -> None:
        task = await self.server.run_in_store(lambda c: tasks.find(c, task_id))
        if task is None or task["status"] in tasks.ENDED:
            return
        if task["status"] == "processing" and await self._settle(task_id):
            return  # its image is active: the task waited for its hosts
        try:  # a bad input fails the task before it starts (pending -> failure)
            properties = check_input(task["input"])
            uri = self.import_filter.check(task["input"]["import_from"])
        except (ImportFailed, ImportRefused) as error:
            await self._fail(task_id, None, str(error))
            return
        task = await self.server.run_in_store(lambda c: self._begin(c, task_id, time.time()))
        if task is None:
            return
        image_id: str | None = None
        try:
            image_id = await self._new_image(task, properties)
            source = Download(uri, self.import_filter)
            try:
                await self.uploads.save(image_id, source, require_image=True)
            finally:
                source.close()
        except (ImportFailed, ImportRefused, archives.NotAnImage, GlanceError) as error:
            message = error.explanation if isinstance(error, GlanceError) else str(error)
            await self._fail(task_id, image_id, message)
            return
        except Exception as error:
            log.exception("glance: import task %s failed", task_id)
            await self._fail(task_id, image_id, f"The import failed: {type(error).__name__}")
            return
        await self._settle(task_id)

    async def _settle(self, task_id: str) -> bool:
        """For a task whose image is active: the task ends once every Docker host answered
        (or the wait ran out; at the next look otherwise). False if its image is not active."""
        now = time.time()

        def settle(connection: Connection) -> bool:
            task = tasks.find(connection, task_id)
            row = images.find(connection, task["image_id"]) if task and task["image_id"] else None
            if task is None or row is None or row["status"] != "active":
                return False
            outcome = host_loads.settle(connection, row["id"], now)
            if not outcome.pending:
                tasks.finish(connection, task_id, now, result=_result(row, outcome), image_id=row["id"])
            return True

        return bool(await self.server.run_in_store(settle))

    @staticmethod
    def _begin(connection: Connection, task_id: str, now: float) -> dict[str, Any] | None:
        """The task to work on (now processing), its half-made image from an earlier try gone;
        None if it ended meanwhile."""
        task = tasks.find(connection, task_id)
        if task is None or task["status"] in tasks.ENDED:
            return None
        if task["status"] == "processing" and task["image_id"]:
            images.remove(connection, task["image_id"])  # an earlier try's: starts over
            connection.execute(update(glance_tasks).where(glance_tasks.c.id == task_id).values(image_id=None))
        tasks.start(connection, task_id, now)
        return task

    async def _new_image(self, task: dict[str, Any], properties: dict[str, Any]) -> str:
        now = time.time()

        def create(connection: Connection) -> str:
            row = images.create(connection, task["account_id"], properties, now)
            images.set_status(connection, row["id"], "saving", now, expect=("queued",))
            connection.execute(
                update(glance_tasks).where(glance_tasks.c.id == task["id"]).values(image_id=row["id"])
            )
            return str(row["id"])

        return str(await self.server.run_in_store(create))

    async def _fail(self, task_id: str, image_id: str | None, message: str) -> None:
        now = time.time()
        message = message or "The import failed"  # an empty message would read as success

        def fail(connection: Connection) -> str | None:
            key = images.remove(connection, image_id) if image_id else None
            tasks.finish(connection, task_id, now, message=message)
            return key

        key = await self.server.run_in_store(fail)
        if key is not None:
            store = await self.uploads.image_store()
            await anyio.to_thread.run_sync(lambda: store.delete(key))
