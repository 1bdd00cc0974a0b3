"""The agent updating itself (UpdateContainerAgent), as docs/agent-protocol.md §5 says.

While an update is wanted, the control plane's state frames carry ``"agentUpdate":
{"version": V, "packagePath": P}``. An agent whose own version is older than V:

1. reports ``STAGING`` (``{"type": "agentUpdate", "status": ...}`` up the socket),
2. downloads ``GET <endpoint><P>`` (SigV4-signed like the WebSocket upgrade): a gzip tarball
   of the control plane's ``dockyard`` package,
3. unpacks it into ``<state dir>/versions/V/`` (every member under ``dockyard/``, files and
   folders only) and checks that it imports and is version V, in a separate interpreter,
4. reports ``STAGED`` then ``UPDATING``, and asks to be replaced: the agent lets go of its
   tasks as at any stop (containers keep running) and runs (``os.execve``) the same
   ``python -m dockyard agent ...`` command with ``PYTHONPATH`` on the new version. The pid
   stays; the new code registers again as the same instance with version V (which the
   control plane records as UPDATED) and adopts the containers.

Any failure reports ``FAILED`` and the agent keeps running its current code; a version that
failed is not tried again by this process.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from dockyard.agent.channel import signed_headers
from dockyard.agent.version import VERSION_OVERRIDE, agent_version, version_key

log = logging.getLogger(__name__)

MAX_PACKAGE_BYTES = 64 * 1024 * 1024
DOWNLOAD_TIMEOUT = 60.0
VERIFY_TIMEOUT = 60.0
VERSION_PATTERN = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
# What the staged code must import, and print its version, before the agent hands over to it.
VERIFY_SCRIPT = (
    "import dockyard.agent, dockyard.agent.cli, dockyard.agent.agent\n"
    "from dockyard.agent.version import AGENT_VERSION\nprint(AGENT_VERSION)"
)


class UpdateError(Exception):
    """The offered update cannot be staged; the message says why."""


@dataclass(frozen=True)
class Replacement:
    """How to become the new agent: the program, its argv and environment for os.execve."""

    version: str
    executable: str
    argv: tuple[str, ...]
    env: Mapping[str, str]


def download(
    url: str, credentials: Any, region: str, timeout: float = DOWNLOAD_TIMEOUT
) -> tuple[bytes, str | None]:
    """The package at ``url`` (a signed GET) and the version its answer names, if any."""
    request = urllib.request.Request(url, headers=signed_headers(url, credentials, region))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(MAX_PACKAGE_BYTES + 1)
            announced = response.headers.get("x-dockyard-agent-version")
    except OSError as error:  # URLError and HTTPError are OSErrors
        raise UpdateError(f"cannot download {url}: {error}") from error
    if len(data) > MAX_PACKAGE_BYTES:
        raise UpdateError(f"the package at {url} is larger than {MAX_PACKAGE_BYTES} bytes")
    return data, announced


def unpack(data: bytes, target: Path) -> None:
    """Unpack a package tarball into ``target`` (made fresh); only ``dockyard/`` files and
    folders are accepted, nothing that could land outside ``target``."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            members = archive.getmembers()
            for member in members:
                path = PurePosixPath(member.name)
                if (
                    path.is_absolute()
                    or ".." in path.parts
                    or not path.parts
                    or path.parts[0] != "dockyard"
                    or not (member.isfile() or member.isdir())
                ):
                    raise UpdateError(f"the package holds an unexpected member {member.name!r}")
            if not any(member.name == "dockyard/agent/__init__.py" for member in members):
                raise UpdateError("the package holds no dockyard/agent")
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            archive.extractall(target, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UpdateError(f"the package cannot be unpacked: {error}") from error


def verify(code_dir: Path, version: str, executable: str = sys.executable) -> None:
    """Check, in a fresh interpreter, that the code in ``code_dir`` imports and is ``version``."""
    env = replacement_env(os.environ, code_dir)
    try:
        done = subprocess.run(
            [executable, "-c", VERIFY_SCRIPT],
            env=env,
            cwd=code_dir,
            capture_output=True,
            text=True,
            timeout=VERIFY_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise UpdateError(f"the staged agent cannot be checked: {error}") from error
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UpdateError(f"the staged agent does not import: {last}")
    found = done.stdout.strip()
    if found != version:
        raise UpdateError(f"the staged agent is version {found!r}, not the offered {version!r}")


def replacement_env(environ: Mapping[str, str], code_dir: Path) -> dict[str, str]:
    """The environment that runs the code in ``code_dir``: first on PYTHONPATH (earlier
    staged versions dropped), the working directory kept off sys.path (PYTHONSAFEPATH, so a
    ``dockyard`` folder there cannot shadow it), and no version override (the new code is
    the offered version)."""
    env = {key: value for key, value in environ.items() if key != VERSION_OVERRIDE}
    versions = str(code_dir.parent)
    kept = [
        entry
        for entry in env.get("PYTHONPATH", "").split(os.pathsep)
        if entry and os.path.dirname(entry.rstrip("/")) != versions
    ]
    env["PYTHONPATH"] = os.pathsep.join([str(code_dir), *kept])
    env["PYTHONSAFEPATH"] = "1"
    return env


def stage(data: bytes, versions_dir: Path, version: str) -> Path:
    """Unpack and check the package; returns ``versions_dir/version`` holding it."""
    staging = versions_dir / f".staging-{version}-{os.getpid()}"
    try:
        unpack(data, staging)
        verify(staging, version)
        final = versions_dir / version
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


class AgentUpdater:
    """Takes the ``agentUpdate`` offers of state frames and carries out at most one at a time.

    ``report`` sends one progress frame and answers whether it was written; ``ready`` gets the
    :class:`Replacement` once the new code is staged (the agent then stops and execs it)."""

    def __init__(
        self,
        *,
        state_dir: Path,
        endpoint: str,
        credentials: Callable[[], Any],
        region: str,
        argv: Sequence[str],
        run_blocking: Callable[..., Awaitable[Any]],
        report: Callable[[dict[str, Any]], Awaitable[bool]],
        ready: Callable[[Replacement], Awaitable[None]],
        failed: Sequence[str] = (),
    ) -> None:
        self.versions_dir = state_dir / "versions"
        self.endpoint, self.credentials, self.region = endpoint.rstrip("/"), credentials, region
        self.argv, self.run_blocking, self.report, self.ready = tuple(argv), run_blocking, report, ready
        self.failed: set[str] = set(failed)
        self.task: asyncio.Task[None] | None = None

    def offer(self, offer: Any) -> None:
        """A state frame's ``agentUpdate`` member (None when no update is wanted)."""
        if not isinstance(offer, dict) or (self.task is not None and not self.task.done()):
            return
        version, path = str(offer.get("version") or ""), str(offer.get("packagePath") or "")
        current = agent_version()
        if version == current:
            return  # nothing to do: the next registration tells the control plane so
        self.task = asyncio.create_task(self._update(version, path, current), name="agent-update")

    async def _update(self, version: str, path: str, current: str) -> None:
        if version in self.failed:
            await self._status("FAILED")  # said again: the first report may have been lost
            return
        try:
            if not VERSION_PATTERN.match(version):
                raise UpdateError(f"the offered version {version!r} is not a version")
            if version_key(version) <= version_key(current):
                raise UpdateError(f"the offered version {version} is not newer than {current}")
            if not path.startswith("/") or path.startswith("//"):
                raise UpdateError(f"the package path {path!r} is not a path on the control plane")
            log.info("updating the agent from %s to %s", current, version)
            await self._status("STAGING")
            data, announced = await self.run_blocking(
                download, self.endpoint + path, self.credentials(), self.region
            )
            if announced and announced != version:
                raise UpdateError(f"the control plane now offers {announced}, not {version}")
            self.versions_dir.mkdir(parents=True, exist_ok=True)
            code_dir: Path = await self.run_blocking(stage, data, self.versions_dir, version)
            await self._status("STAGED")
            await self._status("UPDATING")
            log.info("agent %s staged in %s; restarting into it", version, code_dir)
            await self.ready(
                Replacement(
                    version=version,
                    executable=sys.executable,
                    argv=self.argv,
                    env=replacement_env(os.environ, code_dir),
                )
            )
        except UpdateError as error:
            log.error("agent update to %s failed: %s", version, error)
            await self._failed(version)
        except Exception:  # whatever went wrong, the running agent carries on
            log.exception("agent update to %s failed", version)
            await self._failed(version)

    async def _failed(self, version: str) -> None:
        self.failed.add(version)
        await self._status("FAILED")

    async def _status(self, status: str) -> None:
        if not await self.report({"type": "agentUpdate", "status": status}):
            log.warning("agent update status %s not sent: the channel is down", status)
