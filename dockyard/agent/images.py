"""Images from the control plane's image store, for a Docker host that lacks one a task needs.

The agent asks ``GET /_dockyard/images?name=IMAGE`` (signed as its other requests); the bytes
go to a temporary file while their sha512 is computed, and only a file whose digest matches
the control plane's is loaded: ``docker load`` for a ``docker save`` archive (then tagged as
the task names it), ``docker import`` for a rootfs tarball. No such image: the caller pulls.

The control plane also pushes a just-imported image to every connected Docker host: a
``loadImage`` frame (``PushedLoads``) is carried out the same way (fetched by image id, one
load at a time) and answered with an ``imageLoad`` frame, at once when the engine has it already.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

from docker.errors import DockerException, ImageNotFound
from docker.utils import parse_repository_tag

from dockyard.agent.channel import signed_headers

log = logging.getLogger(__name__)

PATH = "/_dockyard/images"
CHUNK = 1024 * 1024
# An image reference the engine takes as a name (lower-case path, optional tag; no digest).
REFERENCE = re.compile(
    r"(?:[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
)
TIMEOUT_SECONDS = 600.0


class ImageFetchError(Exception):
    """The control plane has the image but it could not be loaded here."""


class ImageSource:
    def __init__(self, endpoint: str, credentials: Callable[[], Any], region: str) -> None:
        self.endpoint, self.credentials, self.region = endpoint.rstrip("/"), credentials, region

        self._loaded: set[str] = set()  # sha512s this process loaded (a rootfs has no digest)

    def fetch(self, api: Any, image: str) -> bool:
        """Load ``image`` from the control plane into the engine behind ``api``; False if the
        control plane has no image of that name."""
        return self._fetch(api, {"name": image}, image)

    def load_pushed(self, api: Any, frame: dict[str, Any]) -> None:
        """Carry out a ``loadImage`` frame: the image in the engine, under its Glance name when
        that is an image reference; at once if it is there already. ImageFetchError if not."""
        name = str(frame.get("name") or "")
        target = name if REFERENCE.fullmatch(name) else None
        digest, sha512 = frame.get("digest"), str(frame.get("sha512") or "")
        if sha512 in self._loaded or (isinstance(digest, str) and digest and _present(api, digest)):
            if target is not None and isinstance(digest, str) and digest:
                repository, tag = parse_repository_tag(target)
                api.tag(digest, repository, tag or "latest")
            self._loaded.add(sha512)
            return
        if target is None and frame.get("format") != "docker-archive":
            raise ImageFetchError(f"{name!r} is not an image name a rootfs can be imported as")
        if not self._fetch(api, {"id": str(frame.get("imageId"))}, target):
            raise ImageFetchError(f"the control plane has no image {frame.get('imageId')} any more")
        self._loaded.add(sha512)

    def _fetch(self, api: Any, query: dict[str, str], image: str | None) -> bool:
        url = f"{self.endpoint}{PATH}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, headers=signed_headers(url, self.credentials(), self.region))
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise ImageFetchError(f"fetching {image} from the control plane: HTTP {error.code}") from None
        except (urllib.error.URLError, OSError) as error:
            raise ImageFetchError(f"fetching {image} from the control plane: {error}") from None
        with response, tempfile.TemporaryFile() as spool:
            digest = hashlib.sha512()
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                spool.write(chunk)
            expected = response.headers.get("X-Dockyard-Image-Sha512", "")
            if digest.hexdigest() != expected:
                raise ImageFetchError(f"{image}: the bytes received do not match the image's sha512")
            kind = response.headers.get("X-Dockyard-Image-Format", "")
            tags = json.loads(response.headers.get("X-Dockyard-Image-Tags") or "[]")
            spool.seek(0)
            load(api, spool, image, kind, tags)
        log.info("image %s loaded from the control plane", image or query)
        return True


def _present(api: Any, image: str) -> bool:
    try:
        api.inspect_image(image)
    except ImageNotFound:
        return False
    return True


def load(api: Any, data: Any, image: str | None, kind: str, tags: list[str]) -> None:
    """Put an image file into the engine under the name ``image`` (None: a docker archive's
    own tags only)."""
    repository, tag = parse_repository_tag(image or "")
    if kind == "rootfs" and image:
        # A generator: the SDK says "chunked", and requests must then send chunks, not a file.
        chunks = iter(lambda: data.read(CHUNK), b"")
        api.import_image_from_stream(chunks, repository=repository, tag=tag or "latest")
        return
    if kind != "docker-archive":
        raise ImageFetchError(f"{image}: an image of unknown format {kind!r}")
    for _ in api.load_image(data):
        pass
    if image is None or image in tags:
        return
    if not tags:
        raise ImageFetchError(f"{image}: a docker archive without tags cannot be named")
    api.tag(tags[0], repository, tag or "latest")


class PushedLoads:
    """``loadImage`` frames, carried out one at a time on a blocking thread and answered up the
    channel (``send``) with ``{"type": "imageLoad", "imageId", "status", "reason"}``."""

    def __init__(
        self,
        source: ImageSource,
        api: Any,
        run_blocking: Callable[..., Awaitable[Any]],
        send: Callable[[dict[str, Any]], object],
    ) -> None:
        self.source, self.api, self.run_blocking, self.send = source, api, run_blocking, send
        self._lock = asyncio.Lock()
        self._working: dict[str, asyncio.Task[None]] = {}

    def on_frame(self, frame: dict[str, Any]) -> None:
        image_id = str(frame.get("imageId"))
        if image_id not in self._working:  # a repeat (after a reconnect) of one under way: its answer will do
            task = asyncio.get_running_loop().create_task(self._load(image_id, frame))
            self._working[image_id] = task
            task.add_done_callback(lambda _: self._working.pop(image_id, None))

    async def _load(self, image_id: str, frame: dict[str, Any]) -> None:
        async with self._lock:
            try:
                await self.run_blocking(self.source.load_pushed, self.api, frame)
            except (ImageFetchError, DockerException, OSError) as error:
                log.warning("image %s (%s) not loaded: %s", image_id, frame.get("name"), error)
                answer = {"status": "failed", "reason": str(error)}
            except Exception as error:  # whatever it is, the control plane hears of it
                log.exception("image %s (%s) not loaded", image_id, frame.get("name"))
                answer = {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
            else:
                log.info("image %s (%s) loaded as the control plane asked", image_id, frame.get("name"))
                answer = {"status": "loaded"}
        self.send({"type": "imageLoad", "imageId": image_id, **answer})
