"""Images from the control plane's image store, for a Docker host that lacks one a task needs.

The agent asks ``GET /_dockyard/images?name=IMAGE`` (signed as its other requests); the bytes
go to a temporary file while their sha512 is computed, and only a file whose digest matches
the control plane's is loaded: ``docker load`` for a ``docker save`` archive (then tagged as
the task names it), ``docker import`` for a rootfs tarball. No such image: the caller pulls.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from docker.utils import parse_repository_tag

from dockyard.agent.channel import signed_headers

log = logging.getLogger(__name__)

PATH = "/_dockyard/images"
CHUNK = 1024 * 1024
TIMEOUT_SECONDS = 600.0


class ImageFetchError(Exception):
    """The control plane has the image but it could not be loaded here."""


class ImageSource:
    def __init__(self, endpoint: str, credentials: Callable[[], Any], region: str) -> None:
        self.endpoint, self.credentials, self.region = endpoint.rstrip("/"), credentials, region

    def fetch(self, api: Any, image: str) -> bool:
        """Load ``image`` from the control plane into the engine behind ``api``; False if the
        control plane has no image of that name."""
        url = f"{self.endpoint}{PATH}?{urllib.parse.urlencode({'name': image})}"
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
        log.info("image %s loaded from the control plane", image)
        return True


def load(api: Any, data: Any, image: str, kind: str, tags: list[str]) -> None:
    """Put an image file into the engine under the name ``image``."""
    repository, tag = parse_repository_tag(image)
    if kind == "rootfs":
        # A generator: the SDK says "chunked", and requests must then send chunks, not a file.
        chunks = iter(lambda: data.read(CHUNK), b"")
        api.import_image_from_stream(chunks, repository=repository, tag=tag or "latest")
        return
    if kind != "docker-archive":
        raise ImageFetchError(f"{image}: an image of unknown format {kind!r}")
    for _ in api.load_image(data):
        pass
    if image in tags:
        return
    if not tags:
        raise ImageFetchError(f"{image}: a docker archive without tags cannot be named")
    api.tag(tags[0], repository, tag or "latest")
