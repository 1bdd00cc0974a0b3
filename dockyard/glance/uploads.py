"""An image's data: stored (upload, import or ``dockyard image import``), read back, deleted.

One owner for the saving -> active step: whoever brings the bytes calls ``save`` on an image
it moved to ``saving``; the data goes to the image store, is inspected (docker save archive or
rootfs tarball) and the image turns active with its size, hashes and what the archive holds.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import anyio.from_thread
import anyio.to_thread
from starlette.responses import Response, StreamingResponse

from dockyard.glance import archives, host_loads, images, pusher
from dockyard.glance.errors import GlanceError
from dockyard.glance.image_store import Chunks, ImageStore, Source

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from dockyard.context import Identity
    from dockyard.server_state import ServerState


class Uploads:
    def __init__(self, server: ServerState) -> None:
        self.server = server
        self._store: ImageStore | None = None

    async def image_store(self) -> ImageStore:
        if self._store is None:
            store = ImageStore(self.server.object_store)
            await store.ready()
            self._store = store
        return self._store

    async def save(self, image_id: str, source: Source, *, require_image: bool) -> dict[str, Any]:
        """Store the bytes of a ``saving`` image (read from ``source`` on a worker thread) and
        make it active; with ``require_image``, data that is no docker archive or rootfs tarball
        raises ``archives.NotAnImage``."""
        store = await self.image_store()
        inspection = ArchiveCheck()
        # A stopping server does not wait for a download: a restart runs the import again.
        try:
            stored = await anyio.to_thread.run_sync(
                lambda: store.put(source, observe=inspection.feed), abandon_on_cancel=True
            )
        finally:
            inspection.close()
        outcome = inspection.result()
        docker: dict[str, Any] | None = None
        if isinstance(outcome, archives.NotAnImage):
            if require_image:
                await self._drop_unshared(store, stored.key)
                raise outcome
        else:
            docker = outcome
        values = {
            "object_key": stored.key,
            "size": stored.size,
            "checksum": stored.checksum,
            "os_hash_value": stored.os_hash_value,
            "docker": docker,
        }
        now = time.time()

        def activate(connection: Connection) -> dict[str, Any] | None:
            """Active (sharing the object of an image of the same bytes), and on its way to the
            connected Docker hosts, in one transaction."""
            shared = images.shared_key(connection, stored.os_hash_value)
            if not images.activate(
                connection, image_id, now, stored=values | {"object_key": shared or stored.key}
            ):
                return None
            row = images.find(connection, image_id)
            assert row is not None
            host_loads.begin(connection, image_id, row["account_id"], now)
            return row

        row = await self.server.run_in_store(activate)
        if row is None:  # deleted meanwhile
            await self._drop_unshared(store, stored.key)
            raise GlanceError(410, f"Image {image_id} was deleted while its data was stored.")
        if row["object_key"] != stored.key:  # the same bytes were stored before: one object
            await anyio.to_thread.run_sync(lambda: store.delete(stored.key))
        self.server.controllers.wake(pusher.NAME)
        return row

    async def _drop_unshared(self, store: ImageStore, key: str) -> None:
        def used(connection: Connection) -> bool:
            from sqlalchemy import select

            from dockyard.store.schema import glance_images

            found = connection.execute(select(glance_images.c.id).where(glance_images.c.object_key == key))
            return found.first() is not None

        if not await self.server.run_in_store(used):
            await anyio.to_thread.run_sync(lambda: store.delete(key))

    async def upload(self, identity: Identity, image_id: str, stream: AsyncIterator[bytes]) -> dict[str, Any]:
        """``PUT /v2/images/{id}/file``: a queued image's data."""
        account, now = identity.account_id, time.time()

        def begin(connection: Connection) -> None:
            row = images.get(connection, account, image_id)
            if not images.set_status(connection, image_id, "saving", now, expect=("queued",)):
                raise GlanceError(
                    409, f"Image status transition from {row['status']} to saving is not allowed"
                )

        await self.server.run_in_store(begin)
        try:
            return await self.save(image_id, Chunks(_blocking(stream)), require_image=False)
        except BaseException:
            later = time.time()
            await self.server.run_in_store(
                lambda c: images.set_status(c, image_id, "queued", later, expect=("saving",))
            )
            raise

    async def download(self, identity: Identity, image_id: str) -> Response:
        account = identity.account_id
        row = await self.server.run_in_store(lambda c: images.get(c, account, image_id))
        if not row["object_key"]:
            return Response(status_code=204)
        store = await self.image_store()
        headers = {"Content-MD5": row["checksum"], "Content-Length": str(row["size"])}
        return StreamingResponse(
            store.read(row["object_key"]), media_type="application/octet-stream", headers=headers
        )

    async def delete(self, identity: Identity, image_id: str) -> None:
        account = identity.account_id

        def remove(connection: Connection) -> str | None:
            row = images.get(connection, account, image_id)
            if row["protected"]:
                raise GlanceError(403, f"Image {image_id} is protected and cannot be deleted.")
            return images.remove(connection, image_id)

        key = await self.server.run_in_store(remove)
        if key is not None:
            store = await self.image_store()
            await anyio.to_thread.run_sync(lambda: store.delete(key))


def _blocking(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """An async request body as a blocking iterator, for a worker thread started by anyio."""

    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    while (chunk := anyio.from_thread.run(next_chunk)) is not None:
        if chunk:
            yield chunk


class ArchiveCheck:
    """What the bytes being stored hold, seen as they pass (so an image is read once). An
    uncompressed tar only has its headers looked at (``archives.TarHeaders``); a compressed one
    goes through a pipe to ``archives.inspect`` on a thread of its own, which drains what it
    does not need, so feeding never stalls."""

    def __init__(self) -> None:
        self._headers: archives.TarHeaders | None = None
        self._writer: Any = None
        self._thread: threading.Thread | None = None
        self._outcome: dict[str, Any] | archives.NotAnImage = archives.NotAnImage(archives.NEITHER)

    def feed(self, data: bytes | memoryview) -> None:
        if self._headers is None and self._writer is None:
            if bytes(data[:8]).startswith(archives.COMPRESSED_MAGIC):
                self._start_inspect()
            else:
                self._headers = archives.TarHeaders()
        if self._headers is not None:
            self._headers.feed(data)
        else:
            self._writer.write(data)

    def _start_inspect(self) -> None:
        reader, writer = os.pipe()
        self._writer = os.fdopen(writer, "wb")
        self._thread = threading.Thread(target=self._run, args=(os.fdopen(reader, "rb"),), daemon=True)
        self._thread.start()

    def _run(self, reader: Any) -> None:
        with reader:
            try:
                self._outcome = archives.inspect(reader)
            except archives.NotAnImage as error:
                self._outcome = error
            except Exception as error:  # whatever it is, the feeder must not stall
                self._outcome = archives.NotAnImage(f"{archives.NEITHER} ({error})")
            finally:
                while reader.read(1 << 20):
                    pass

    def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(OSError):
                self._writer.close()
        if self._thread is not None:
            self._thread.join()

    def result(self) -> dict[str, Any] | archives.NotAnImage:
        if self._headers is not None:
            return self._headers.result()
        if self._thread is None:  # nothing was fed: an empty file
            return archives.NotAnImage("The image file is empty")
        return self._outcome
