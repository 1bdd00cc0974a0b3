"""Helpers of the Glance tests: a loopback HTTP site serving image files, Keystone tokens,
the real ``glance`` CLI and ``glanceclient``, and bodies checked against the served schemas."""

from __future__ import annotations

import gzip
import http.server
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from tests.harness import Credentials, DockyardServer, wait_for

GLANCE = str(Path(sys.executable).parent / "glance")


def rootfs_tarball() -> bytes:
    """A tiny root filesystem (as ``docker import`` takes): one file in ``etc/``."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as archive:
        content = b"dockyard test rootfs\n"
        info = tarfile.TarInfo("etc/dockyard-release")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return data.getvalue()


def docker_archive() -> bytes:
    """``docker save dockyard/busybox:latest`` (needs the Docker Engine)."""
    return subprocess.run(
        ["docker", "save", "dockyard/busybox:latest"], check=True, capture_output=True, timeout=60
    ).stdout


@dataclass
class Site:
    """A loopback HTTP server of named files; ``/slow/NAME`` sends half, then waits for ``release``;
    ``/short/NAME`` sends half and hangs up."""

    files: dict[str, bytes] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    slow_started: threading.Event = field(default_factory=threading.Event)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Site:
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                slow, short = self.path.startswith("/slow/"), self.path.startswith("/short/")
                name = self.path.removeprefix("/slow/").removeprefix("/short/").lstrip("/")
                if name.startswith("redirect/"):
                    self.send_response(302)
                    self.send_header("Location", name.removeprefix("redirect/").replace("~", "/"))
                    self.end_headers()
                    return
                data = site.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if short:
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                elif slow:
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    site.slow_started.set()
                    site.release.wait(120)
                    self.wfile.write(data[len(data) // 2 :])
                else:
                    self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def token_for(server: DockyardServer, credentials: Credentials, method: str = "password") -> str:
    """A Keystone token for an access key (``X-Subject-Token``)."""
    if method == "password":
        identity = {
            "methods": ["password"],
            "password": {
                "user": {
                    "name": credentials.access_key_id,
                    "domain": {"id": "default"},
                    "password": credentials.secret_access_key,
                }
            },
        }
    else:
        identity = {
            "methods": ["application_credential"],
            "application_credential": {
                "id": credentials.access_key_id,
                "secret": credentials.secret_access_key,
            },
        }
    body = {"auth": {"identity": identity, "scope": {"project": {"id": credentials.account_id}}}}
    status, headers, _ = request(server, "POST", "/identity/v3/auth/tokens", body=body)
    assert status == 201, status
    return headers["x-subject-token"]


def request(
    server: DockyardServer,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    accept: str = "application/json",
) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP call (what glanceclient would refuse to send): status, headers, body."""
    headers = {"Accept": accept}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["X-Auth-Token"] = token
    outgoing = urllib.request.Request(server.endpoint + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(outgoing, timeout=30) as response:
            status, reply_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, reply_headers, raw = error.code, error.headers, error.read()
    return status, {k.lower(): v for k, v in reply_headers.items()}, raw


def client(server: DockyardServer, token: str) -> Any:
    """``glanceclient.Client('2', ...)`` on the image endpoint with a token."""
    import warnings

    import glanceclient

    with warnings.catch_warnings():  # it would rather have "/v2" in the endpoint than a version
        warnings.simplefilter("ignore", DeprecationWarning)
        return glanceclient.Client("2", endpoint=server.endpoint + "/image", token=token)


def cli(
    server: DockyardServer, home: Path, token: str | None, *args: str, env: dict[str, str] | None = None
) -> Any:
    """The real ``glance`` CLI, by ``--os-image-url`` + ``--os-auth-token`` (or ``env``'s OS_*)."""
    command = [GLANCE]
    if token is not None:
        command += ["--os-image-url", server.endpoint + "/image", "--os-auth-token", token]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    environment |= {"HOME": str(home), **(env or {})}
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=60, env=environment)


class Schemas:
    """The schemas the server serves; every body is checked against them."""

    def __init__(self, server: DockyardServer, token: str) -> None:
        self.served: dict[str, Any] = {}
        for name in ("task", "tasks", "image", "images"):
            status, _, raw = request(server, "GET", f"/image/v2/schemas/{name}", token=token)
            assert status == 200
            self.served[name] = json.loads(raw)

    def check(self, body: Any, name: str) -> Any:
        jsonschema.Draft4Validator(self.served[name]).validate(body)
        return body


def wait_task(server: DockyardServer, token: str, task_id: str, timeout: float = 120) -> dict[str, Any]:
    """The task once it ended (success or failure)."""

    def ended() -> Any:
        status, _, raw = request(server, "GET", f"/image/v2/tasks/{task_id}", token=token)
        assert status == 200, raw
        task = json.loads(raw)
        return task if task["status"] in ("success", "failure") else None

    return dict(wait_for(ended, timeout=timeout, message=f"task {task_id} never ended"))


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=1)
