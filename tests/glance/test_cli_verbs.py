"""``dockyard token create`` and ``dockyard image import``."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from tests.glance.harness import cli, client, rootfs_tarball
from tests.harness import Credentials, DockyardServer


def dockyard(server: DockyardServer, key: Credentials, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key.access_key_id, AWS_SECRET_ACCESS_KEY=key.secret_access_key)
    command = [sys.executable, "-m", "dockyard", *args, "--endpoint", server.endpoint]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def test_token_create_prints_a_token_the_glance_cli_takes(
    glance_server: DockyardServer, tenant: Credentials, home: Path
) -> None:
    made = dockyard(glance_server, tenant, "token", "create")
    assert made.returncode == 0, made.stderr
    listed = cli(glance_server, home, made.stdout.strip(), "image-list")
    assert listed.returncode == 0, listed.stderr
    wrong = dockyard(
        glance_server, Credentials(tenant.access_key_id, "wrong", tenant.account_id), "token", "create"
    )
    assert wrong.returncode != 0 and "401" in wrong.stderr


def test_image_import_uploads_a_file(
    glance_server: DockyardServer, tenant: Credentials, tmp_path: Path
) -> None:
    path = tmp_path / "rootfs.tar"
    path.write_bytes(rootfs_tarball())
    made = dockyard(glance_server, tenant, "image", "import", str(path), "--name", "base:1")
    assert made.returncode == 0, made.stderr
    image_id, name, status, size, checksum = made.stdout.strip().split("\t")
    assert (name, status, int(size)) == ("base:1", "active", path.stat().st_size)
    assert checksum == hashlib.md5(path.read_bytes()).hexdigest()
    token = dockyard(glance_server, tenant, "token", "create").stdout.strip()
    assert client(glance_server, token).images.get(image_id)["name"] == "base:1"
