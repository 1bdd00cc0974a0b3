"""``dockyard agent`` options and start-up refusals."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.agent.cli import add_agent_arguments
from dockyard.agent.state_dir import StateDir


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_agent_arguments(parser)
    return parser.parse_args(list(argv))


def test_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    args = parse(
        "--endpoint", "http://plane:5566", "--cluster", "prod", "--state-dir", "/tmp/x", "--driver", "process"
    )
    assert (args.endpoint, args.cluster, args.driver, args.region) == (
        "http://plane:5566",
        "prod",
        "process",
        "eu-west-1",
    )
    assert Path(args.state_dir) == Path("/tmp/x")
    defaults = parse()
    assert defaults.cluster == "default" and defaults.driver is None
    assert str(defaults.state_dir).endswith(".dockyard-agent")
    with pytest.raises(SystemExit):
        parse("--driver", "podman")


def agent(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard.agent", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_an_endpoint_is_required(tmp_path: Path) -> None:
    done = agent("--state-dir", str(tmp_path), env={"PATH": "/usr/bin:/bin"})
    assert done.returncode != 0 and "--endpoint" in done.stderr


def test_a_busy_state_dir_is_refused(tmp_path: Path) -> None:
    holder = StateDir(tmp_path)
    holder.lock()
    try:
        done = agent("--endpoint", "http://127.0.0.1:9", "--state-dir", str(tmp_path), "--driver", "process")
    finally:
        holder.unlock()
    assert done.returncode != 0 and "another agent is using" in done.stderr
