"""``dockyard agent`` options and start-up refusals."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.agent.cli import add_agent_arguments, agent_argv, parse_duration
from dockyard.agent.state_dir import StateDir

pytestmark = pytest.mark.agents  # starts agent processes: not in the quick tier


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


def test_reserved_ports_and_the_cleanup_wait_come_from_ecs_agent_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = parse()
    assert (defaults.reserved_ports, defaults.reserved_udp_ports) == ((), ())
    assert defaults.task_cleanup_wait == 3 * 3600
    monkeypatch.setenv("ECS_RESERVED_PORTS", "[80, 8080]")
    monkeypatch.setenv("ECS_RESERVED_PORTS_UDP", "[53]")
    monkeypatch.setenv("ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION", "10m")
    configured = parse("--endpoint", "http://plane:5566")
    assert (configured.reserved_ports, configured.reserved_udp_ports) == ((80, 8080), (53,))
    assert configured.task_cleanup_wait == 600
    again = parse(*agent_argv(configured)[4:])  # what a self-update runs keeps every setting
    assert (again.reserved_ports, again.reserved_udp_ports, again.task_cleanup_wait) == (
        (80, 8080),
        (53,),
        600,
    )
    assert parse("--task-cleanup-wait", "0").task_cleanup_wait == 0
    with pytest.raises(SystemExit):
        parse("--reserved-ports", "http")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("3h", 10800), ("1h30m", 5400), ("45s", 45), ("0", 0), ("1.5s", 1.5), ("250ms", 0.25)],
    ids=["hours", "hours and minutes", "seconds", "zero", "a fraction", "milliseconds"],
)
def test_durations_read_as_go_writes_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "3 hours", "h", "10"], ids=["empty", "words", "no number", "no unit"])
def test_a_bad_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


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
