"""The agent's self-update: unpacking and checking the offered package, and the progress it
reports; the exec itself is covered end to end (tests/e2e/test_agent_update.py)."""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from dockyard.agent import update
from dockyard.agent.threads import BlockingRunner
from dockyard.agent.update import AgentUpdater, Replacement, UpdateError, replacement_env, stage, unpack
from dockyard.agent.version import AGENT_VERSION
from dockyard.agent_channel.agent_update import package


def tarball(files: dict[str, str], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            data = text.encode()
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            archive.addfile(info)
    return buffer.getvalue()


AGENT_FILES = {"dockyard/__init__.py": "", "dockyard/agent/__init__.py": ""}
REFUSED = [
    ("a path out of the folder", tarball({**AGENT_FILES, "dockyard/../../evil.py": ""})),
    ("an absolute path", tarball({**AGENT_FILES, "/tmp/evil.py": ""})),
    ("something besides dockyard", tarball({**AGENT_FILES, "setup.py": ""})),
    ("a symbolic link", tarball(AGENT_FILES, {"dockyard/agent/x.py": "/etc/passwd"})),
    ("no agent in it", tarball({"dockyard/__init__.py": ""})),
    ("not a tarball", b"<html>oops</html>"),
]


@pytest.mark.parametrize("data", [row[1] for row in REFUSED], ids=[row[0] for row in REFUSED])
def test_a_package_that_could_escape_or_is_not_one_is_refused(data: bytes, tmp_path: Path) -> None:
    with pytest.raises(UpdateError):
        unpack(data, tmp_path / "v")
    assert not (tmp_path / "evil.py").exists()


def test_the_control_plane_package_stages_and_checks(tmp_path: Path) -> None:
    staged = stage(package(), tmp_path, AGENT_VERSION)
    assert staged == tmp_path / AGENT_VERSION
    assert (staged / "dockyard" / "agent" / "agent.py").is_file()
    assert [p.name for p in tmp_path.iterdir()] == [AGENT_VERSION]  # no staging leftovers
    with pytest.raises(UpdateError, match="not the offered"):
        stage(package(), tmp_path, "9.9.9")


def test_a_package_that_does_not_import_is_refused(tmp_path: Path) -> None:
    broken = tarball({**AGENT_FILES, "dockyard/agent/cli.py": "this is not python"})
    with pytest.raises(UpdateError, match="does not import"):
        stage(broken, tmp_path, "9.9.9")
    assert list(tmp_path.iterdir()) == []


def test_the_new_code_comes_first_and_the_override_goes(tmp_path: Path) -> None:
    versions = tmp_path / "versions"
    env = replacement_env(
        {"DOCKYARD_AGENT_VERSION": "0.0.1", "PATH": "/bin", "PYTHONPATH": f"{versions / '0.0.9'}:/opt/lib"},
        versions / "1.0.0",
    )
    assert env["PYTHONPATH"] == f"{versions / '1.0.0'}:/opt/lib"  # an older staged version goes
    assert env["PYTHONSAFEPATH"] == "1" and env["PATH"] == "/bin"
    assert "DOCKYARD_AGENT_VERSION" not in env


class Offer:
    """An updater with the channel and the download replaced, recording what it reports."""

    def __init__(self, tmp_path: Path, data: bytes | Exception) -> None:
        self.tmp_path, self.data = tmp_path, data
        self.statuses: list[str] = []
        self.replacements: list[Replacement] = []

    def fake_download(self, url: str, credentials: Any, region: str) -> tuple[bytes, str]:
        assert url == "http://plane:5566/_dockyard/agent/package"
        if isinstance(self.data, Exception):
            raise self.data
        return self.data, AGENT_VERSION

    async def run(self, offer: dict[str, Any]) -> None:
        async def report(frame: dict[str, Any]) -> bool:
            self.statuses.append(frame["status"])
            return True

        async def ready(replacement: Replacement) -> None:
            self.replacements.append(replacement)

        updater = AgentUpdater(
            state_dir=self.tmp_path,
            endpoint="http://plane:5566/",
            credentials=lambda: None,
            region="us-east-1",
            argv=["python", "-m", "dockyard", "agent"],
            run_blocking=BlockingRunner(asyncio.get_running_loop()),
            report=report,
            ready=ready,
        )
        updater.offer(offer)
        updater.offer(offer)  # a second frame while the first offer is under way changes nothing
        assert updater.task is not None
        await updater.task


OFFER = {"version": AGENT_VERSION, "packagePath": "/_dockyard/agent/package"}


def test_an_older_agent_stages_the_offer_and_asks_to_be_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKYARD_AGENT_VERSION", "0.0.1")
    offer = Offer(tmp_path, package())
    monkeypatch.setattr(update, "download", offer.fake_download)
    asyncio.run(offer.run(OFFER))
    assert offer.statuses == ["STAGING", "STAGED", "UPDATING"]
    [replacement] = offer.replacements
    assert replacement.version == AGENT_VERSION
    assert replacement.env["PYTHONPATH"].split(":")[0] == str(tmp_path / "versions" / AGENT_VERSION)
    assert "DOCKYARD_AGENT_VERSION" not in replacement.env
    assert replacement.argv == ("python", "-m", "dockyard", "agent")


FAILURES = [
    ("the download fails", {}, UpdateError("cannot download: 403")),
    ("the offered version is older", {"version": "0.0.0"}, None),
    ("the package path is a URL", {"packagePath": "//evil.example/x"}, None),
]


@pytest.mark.parametrize(("change", "error"), [row[1:] for row in FAILURES], ids=[row[0] for row in FAILURES])
def test_a_failed_update_reports_failed_and_carries_on(
    change: dict[str, str], error: Exception | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKYARD_AGENT_VERSION", "0.0.1")
    offer = Offer(tmp_path, error or package())
    monkeypatch.setattr(update, "download", offer.fake_download)
    asyncio.run(offer.run({**OFFER, **change}))
    assert offer.statuses[-1] == "FAILED" and offer.replacements == []


def test_an_agent_already_on_the_offered_version_does_nothing(tmp_path: Path) -> None:
    async def scenario() -> AgentUpdater:
        async def never(*_: Any) -> Any:
            raise AssertionError("nothing should be reported or replaced")

        updater = AgentUpdater(
            state_dir=tmp_path,
            endpoint="http://plane",
            credentials=lambda: None,
            region="r",
            argv=[],
            run_blocking=never,
            report=never,
            ready=never,
        )
        updater.offer(OFFER)
        return updater

    assert asyncio.run(scenario()).task is None
