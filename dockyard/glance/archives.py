"""What an image file holds: a ``docker save`` archive (its repo tags and image digest), a
rootfs tarball (to ``docker import``), gzip-compressed or not; anything else is refused."""

from __future__ import annotations

import json
import tarfile
from typing import IO, Any

NEITHER = "The image file is neither a docker save archive nor a rootfs tarball"


class NotAnImage(ValueError):
    """The file is neither a docker save archive nor a rootfs tarball."""


def inspect(stream: IO[bytes]) -> dict[str, Any]:
    """Read the archive through once: ``{"format": "docker-archive", "repo_tags", "digest"}``
    or ``{"format": "rootfs"}``."""
    manifest: Any = None
    members = 0
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as archive:
            for member in archive:
                members += 1
                if member.name.lstrip("./") == "manifest.json" and member.isfile():
                    handle = archive.extractfile(member)
                    manifest = json.loads(handle.read()) if handle else None
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise NotAnImage(
            f"The image file is neither a docker save archive nor a rootfs tarball ({error})"
        ) from None
    if members == 0:
        raise NotAnImage("The image file is an empty archive")
    if manifest is None:
        return {"format": "rootfs", "repo_tags": [], "digest": None}
    if not isinstance(manifest, list) or not manifest or not isinstance(manifest[0], dict):
        raise NotAnImage("The docker archive's manifest.json is not a docker save manifest")
    config = str(manifest[0].get("Config", ""))
    digest = config.rsplit("/", 1)[-1].removesuffix(".json")
    tags = [tag for entry in manifest for tag in (entry.get("RepoTags") or [])]
    return {"format": "docker-archive", "repo_tags": tags, "digest": f"sha256:{digest}" if digest else None}
