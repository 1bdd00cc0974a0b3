"""Which ``import_from`` URIs a task may read (Glance's checks and import filtering)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.glance.import_filter import FILE_IMPORTS_REFUSED, ImportFilter, ImportRefused, normalize_host

DEFAULT = ImportFilter()


@pytest.mark.parametrize(
    ("rules", "uri", "refusal"),
    [
        (DEFAULT, "http://example.com/busybox.tar", None),
        (DEFAULT, "https://example.com:443/busybox.tar", None),
        (DEFAULT, "http://example.com:8080/busybox.tar", "does not pass filtering"),
        (DEFAULT, "ftp://example.com/busybox.tar", "The given uri is not valid"),
        (DEFAULT, "file:///etc/passwd", FILE_IMPORTS_REFUSED),
        (DEFAULT, "", "Invalid location: "),
        (DEFAULT, None, "Invalid location: None"),
        (ImportFilter(allowed_ports=()), "http://example.com:8080/x", None),
        (ImportFilter(allowed_ports=(), disallowed_ports=(8080,)), "http://example.com:8080/x", "filtering"),
        (ImportFilter(allowed_hosts=("images.example.com",)), "http://example.com/x", "filtering"),
        (ImportFilter(allowed_hosts=("images.example.com",)), "http://IMAGES.example.com/x", None),
        (ImportFilter(disallowed_hosts=("169.254.169.254",)), "http://169.254.169.254/latest", "filtering"),
        (ImportFilter(disallowed_hosts=("127.0.0.1",)), "http://[::ffff:127.0.0.1]/x", "filtering"),
        (ImportFilter(allowed_schemes=("https",)), "http://example.com/x", "filtering"),
        (ImportFilter(allowed_schemes=(), disallowed_schemes=("http",)), "http://example.com/x", "filtering"),
        (DEFAULT, "http://example.com:99999/x", "filtering"),
    ],
    ids=[
        "http on 80",
        "https on 443",
        "another port",
        "ftp",
        "file",
        "empty",
        "missing",
        "any port when the list is cleared",
        "a disallowed port",
        "a host off the allow list",
        "host names compare without case",
        "a disallowed address",
        "an IPv4-mapped IPv6 literal is its IPv4 address",
        "a scheme off the allow list",
        "a disallowed scheme",
        "a port out of range",
    ],
)
def test_import_from_is_checked_as_glance_checks_it(
    rules: ImportFilter, uri: object, refusal: str | None
) -> None:
    if refusal is None:
        assert rules.check(uri) == uri
    else:
        with pytest.raises(ImportRefused, match=refusal):
            rules.check(uri)


def test_file_imports_are_allowed_only_below_the_import_folder(tmp_path: Path) -> None:
    folder = tmp_path / "imports"
    folder.mkdir()
    (folder / "busybox.tar").write_bytes(b"x")
    rules = ImportFilter(import_dir=folder.resolve())
    assert rules.check(f"file://{folder}/busybox.tar")
    for outside in (f"file://{tmp_path}/other.tar", f"file://{folder}/../other.tar", f"file://{folder}"):
        with pytest.raises(ImportRefused, match="File based imports are not allowed"):
            rules.check(outside)


def test_the_filter_is_read_from_the_environment(tmp_path: Path) -> None:
    rules = ImportFilter.from_environment(
        {
            "DOCKYARD_IMAGE_IMPORT_ALLOWED_PORTS": "8080, 9090",
            "DOCKYARD_IMAGE_IMPORT_DISALLOWED_HOSTS": "Metadata.internal",
            "DOCKYARD_IMAGE_IMPORT_DIR": str(tmp_path),
        }
    )
    assert rules.allowed_ports == (8080, 9090) and rules.allowed_schemes == ("http", "https")
    assert rules.disallowed_hosts == ("metadata.internal",) and rules.import_dir == tmp_path.resolve()
    assert ImportFilter.from_environment({}) == ImportFilter()


@pytest.mark.parametrize(
    ("host", "normal"),
    [
        ("Example.COM.", "example.com"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("::1", "::1"),
        ("", None),
        (None, None),
    ],
)
def test_hosts_are_normalized(host: str | None, normal: str | None) -> None:
    assert normalize_host(host) == normal
