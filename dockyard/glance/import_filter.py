"""Which ``import_from`` URIs a task may read: Glance's legacy-import checks and its import
filtering (allowed/disallowed schemes, hosts and ports; an allow list, when set, wins).

Configured by environment (comma-separated): ``DOCKYARD_IMAGE_IMPORT_ALLOWED_SCHEMES``
(default ``http,https``), ``..._DISALLOWED_SCHEMES``, ``..._ALLOWED_HOSTS``,
``..._DISALLOWED_HOSTS``, ``..._ALLOWED_PORTS`` (default ``80,443``), ``..._DISALLOWED_PORTS``;
``DOCKYARD_IMAGE_IMPORT_DIR`` lets ``file://`` imports read below that folder.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

FILE_IMPORTS_REFUSED = "File based imports are not allowed. Please use a non-local source of image data."
_PREFIX = "DOCKYARD_IMAGE_IMPORT_"


class ImportRefused(Exception):
    """The URI may not be imported from (the message is Glance's)."""


def _names(raw: str | None, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    if raw is None:
        return default
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class ImportFilter:
    allowed_schemes: tuple[str, ...] = ("http", "https")
    disallowed_schemes: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    disallowed_hosts: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = (80, 443)
    disallowed_ports: tuple[int, ...] = ()
    import_dir: Path | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ImportFilter:
        def get(name: str) -> str | None:
            return environ.get(_PREFIX + name)

        folder = get("DIR")
        return cls(
            allowed_schemes=_names(get("ALLOWED_SCHEMES"), ("http", "https")),
            disallowed_schemes=_names(get("DISALLOWED_SCHEMES")),
            allowed_hosts=_names(get("ALLOWED_HOSTS")),
            disallowed_hosts=_names(get("DISALLOWED_HOSTS")),
            allowed_ports=tuple(int(p) for p in _names(get("ALLOWED_PORTS"), ("80", "443"))),
            disallowed_ports=tuple(int(p) for p in _names(get("DISALLOWED_PORTS"))),
            import_dir=Path(folder).resolve() if folder else None,
        )

    def check(self, uri: object) -> str:
        """The URI if a task may import from it; ImportRefused (Glance's words) if not."""
        if not isinstance(uri, str) or not uri:
            raise ImportRefused(f"Invalid location: {uri}")
        if uri.startswith(("file:///", "filesystem:///")):
            if self.local_path(uri) is None:
                raise ImportRefused(FILE_IMPORTS_REFUSED)
            return uri
        if not uri.startswith(("http://", "https://")):
            raise ImportRefused(
                "The given uri is not valid. Please specify a valid uri from the following list of "
                "supported uri ['http']"
            )
        if not self.passes(uri):
            raise ImportRefused(f"URI for legacy import task does not pass filtering: {uri}")
        return uri

    def passes(self, uri: str) -> bool:
        """Glance's ``validate_import_uri``: also applied to every redirect."""
        try:
            parts = urlsplit(uri)
            port = parts.port
        except ValueError:
            return False
        scheme = parts.scheme.lower()
        disallowed_schemes = () if self.allowed_schemes else self.disallowed_schemes
        if not scheme or (self.allowed_schemes and scheme not in self.allowed_schemes):
            return False
        if scheme in disallowed_schemes:
            return False
        host = normalize_host(parts.hostname)
        disallowed_hosts = () if self.allowed_hosts else self.disallowed_hosts
        if not host or (self.allowed_hosts and host not in self.allowed_hosts) or host in disallowed_hosts:
            return False
        disallowed_ports = () if self.allowed_ports else self.disallowed_ports
        if not port:
            return True
        return not ((self.allowed_ports and port not in self.allowed_ports) or port in disallowed_ports)

    def local_path(self, uri: str) -> Path | None:
        """The file a ``file://`` URI names, if it lies under the import folder."""
        if self.import_dir is None:
            return None
        path = Path(uri.split("://", 1)[1]).resolve()
        return path if path.is_relative_to(self.import_dir) and path != self.import_dir else None


def normalize_host(host: str | None) -> str | None:
    """Glance's ``normalize_hostname``: IP literals in canonical form (IPv4-mapped IPv6 as
    IPv4), names lower-cased; None for what is neither."""
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.lower().rstrip(".")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
