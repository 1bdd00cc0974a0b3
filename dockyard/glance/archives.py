"""What an image file holds: a ``docker save`` archive (its repo tags and image digest), a
rootfs tarball (to ``docker import``), gzip-compressed or not; anything else is refused.

``inspect`` reads a stream through ``tarfile``; ``TarHeaders`` is fed the bytes of an
uncompressed tar as they pass and looks only at its headers (and at ``manifest.json``), so a
large image costs the check next to nothing.
"""

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
        # Large reads: a member's data is skipped by reading it, 10 KiB at a time by default.
        with tarfile.open(fileobj=stream, mode="r|*", bufsize=1 << 20) as archive:
            for member in archive:
                members += 1
                if member.name.lstrip("./") == "manifest.json" and member.isfile():
                    handle = archive.extractfile(member)
                    manifest = json.loads(handle.read()) if handle else None
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise NotAnImage(
            f"The image file is neither a docker save archive nor a rootfs tarball ({error})"
        ) from None
    return describe(members, manifest)


def describe(members: int, manifest: Any) -> dict[str, Any]:
    """What an archive of ``members`` members holds, given its ``manifest.json`` (None: none)."""
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


BLOCK = 512
COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz: for ``inspect``
_META = {b"x", b"g", b"L", b"K"}  # pax and GNU long-name headers: data about the next member
_FILE = {b"0", b"\x00", b"7"}
KEPT_LIMIT = 1 << 20  # a manifest.json or a pax header larger than this is no docker archive's


class TarHeaders:
    """An uncompressed tar walked header by header as its bytes come (``feed``, in any pieces);
    ``result`` says what it holds, as ``inspect`` would."""

    def __init__(self) -> None:
        self._header = bytearray()
        self._skip = 0  # bytes of the current member (and padding) still to pass over
        self._keep = 0  # bytes of the current member to keep (manifest.json, a pax header)
        self._kept = bytearray()
        self._kind = b""
        self._pax: dict[bytes, bytes] = {}  # the next member's pax records
        self._members = 0
        self._manifest: bytes | None = None
        self._ended = False
        self._error: str | None = None

    def feed(self, data: bytes | memoryview) -> None:
        view, at = memoryview(data), 0
        while at < len(view) and not self._ended and self._error is None:
            if self._keep:
                take = min(self._keep, len(view) - at)
                self._kept += view[at : at + take]
                self._keep -= take
                self._skip -= take
                at += take
                if not self._keep:
                    self._kept_member()
            elif self._skip:
                take = min(self._skip, len(view) - at)
                self._skip -= take
                at += take
            else:
                take = min(BLOCK - len(self._header), len(view) - at)
                self._header += view[at : at + take]
                at += take
                if len(self._header) == BLOCK:
                    self._read_header(bytes(self._header))
                    self._header.clear()

    def _read_header(self, block: bytes) -> None:
        if block == bytes(BLOCK):
            self._ended = True
            return
        if not _checksum_ok(block):
            self._error = "a tar header with a bad checksum"
            return
        try:
            size = int(self._pax.pop(b"size", b"") or _number(block[124:136]))
        except ValueError:
            self._error = "a tar header with a bad size"
            return
        name = self._pax.pop(b"path", None) or block[:100].split(b"\0", 1)[0]
        self._pax.clear()
        self._kind = block[156:157]
        self._skip = -(-size // BLOCK) * BLOCK
        if self._kind not in _META:
            self._members += 1
        if self._kind in _META or (self._kind in _FILE and _is_manifest(name)):
            if size > KEPT_LIMIT:
                self._error = f"a tar header or manifest.json of {size} bytes"
                return
            self._keep = size
            if size == 0:
                self._kept_member()

    def _kept_member(self) -> None:
        data, self._kept = bytes(self._kept), bytearray()
        if self._kind == b"x":  # pax records: "<length> <key>=<value>\n"
            for record in data.split(b"\n"):
                key, _, value = record.partition(b" ")[2].partition(b"=")
                if key in (b"path", b"size"):
                    self._pax[key] = value
        elif self._kind == b"L":
            self._pax[b"path"] = data.rstrip(b"\0")
        elif self._kind not in _META:
            self._manifest = data

    def result(self) -> dict[str, Any] | NotAnImage:
        if self._error is None and not self._ended and (self._header or self._skip):
            self._error = "unexpected end of data"
        if self._error is not None:
            return NotAnImage(f"{NEITHER} ({self._error})")
        try:
            manifest = None if self._manifest is None else json.loads(self._manifest)
            return describe(self._members, manifest)
        except ValueError as error:  # NotAnImage is one too
            return error if isinstance(error, NotAnImage) else NotAnImage(f"{NEITHER} ({error})")


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # base-256 (GNU), for sizes past 8 GiB
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip(b" ")
    return int(text, 8) if text else 0


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = _number(block[148:156])
    except ValueError:
        return False
    others = block[:148] + block[156:]
    unsigned = sum(others) + 8 * ord(" ")  # the checksum field counts as spaces
    signed = unsigned - 256 * sum(1 for byte in others if byte > 127)  # old tars summed signed chars
    return stored in (unsigned, signed)


def _is_manifest(name: bytes) -> bool:
    return name.decode("utf-8", "replace").lstrip("./") == "manifest.json"
