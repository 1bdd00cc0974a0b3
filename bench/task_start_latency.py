"""Time from RunTask to RUNNING for a busybox task, beside a plain ``docker run -d``.

One Dockyard server and one local agent (Docker driver) on this host. Each round times
(a) RunTask until DescribeTasks first reports RUNNING (polled every 5 ms), and
(b) ``docker run -d`` of the same image and command until the CLI returns (the container is
then running). Rounds alternate, so both see the same machine state; the medians are compared.

    .venv/bin/python -m bench.task_start_latency --rounds 30
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.servers import BENCH_KEY_ID, BENCH_SECRET, ecs_client, machine, start_dockyard

IMAGE = "dockyard/busybox:latest"
COMMAND = ["sleep", "300"]


def _agent(endpoint: str, state_dir: Path) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=BENCH_KEY_ID,
        AWS_SECRET_ACCESS_KEY=BENCH_SECRET,
        AWS_DEFAULT_REGION="us-east-1",
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir.parent / "agent.log").open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dockyard",
                "agent",
                "--endpoint",
                endpoint,
                "--cluster",
                "default",
                "--state-dir",
                str(state_dir),
                "--driver",
                "docker",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _wait(check: Any, timeout: float, interval: float = 0.005) -> Any:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError


def _connected(ecs: Any) -> bool:
    """The local agent's instance is registered and its agent connected (it takes tasks)."""
    arns = ecs.list_container_instances()["containerInstanceArns"]
    return (
        bool(arns)
        and ecs.describe_container_instances(containerInstances=arns)["containerInstances"][0][
            "agentConnected"
        ]
    )


def dockyard_round(ecs: Any) -> float:
    started = time.perf_counter()
    arn = ecs.run_task(taskDefinition="latency")["tasks"][0]["taskArn"]
    _wait(lambda: ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING", 60)
    elapsed = time.perf_counter() - started
    ecs.stop_task(task=arn)
    return elapsed


def docker_round() -> float:
    started = time.perf_counter()
    container = subprocess.run(
        ["docker", "run", "-d", "--memory", "64m", IMAGE, *COMMAND],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    elapsed = time.perf_counter() - started
    subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
    return elapsed


@contextlib.contextmanager
def local_dockyard(family: str) -> Iterator[Any]:
    """A Dockyard server and one local Docker agent; yields a connected client, and leaves
    no container of ``family`` behind."""
    with tempfile.TemporaryDirectory() as work:
        server = start_dockyard(Path(work) / "server")
        agent = _agent(server.endpoint, Path(work) / "agent" / "state")
        try:
            ecs = ecs_client(server)
            ecs.create_cluster()
            _wait(lambda: _connected(ecs), 30, 0.1)
            ecs.register_task_definition(
                family=family,
                containerDefinitions=[
                    {"name": "main", "image": IMAGE, "memory": 64, "command": COMMAND, "stopTimeout": 1}
                ],
            )
            yield ecs
        finally:
            agent.terminate()
            agent.wait(timeout=30)
            server.stop()
            subprocess.run(
                f"docker ps -aq --filter label=com.amazonaws.ecs.task-definition-family={family}"
                " | xargs -r docker rm -f",
                shell=True,
                capture_output=True,
                check=False,
            )


def print_rounds(rounds: int, rows: list[tuple[str, list[float]]]) -> None:
    print(f"machine: {machine()}")
    print(f"rounds: {rounds}")
    print("| path | median ms | p90 ms | min ms |")
    print("| --- | --- | --- | --- |")
    for name, values in rows:
        ordered = sorted(values)
        print(
            f"| {name} | {statistics.median(values) * 1000:.0f} | "
            f"{ordered[int(len(ordered) * 0.9) - 1] * 1000:.0f} | {ordered[0] * 1000:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with local_dockyard("latency") as ecs:
        dockyard_round(ecs), docker_round()  # warm both paths (image cache, connections)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(dockyard_round(ecs))
            theirs.append(docker_round())
        _wait(lambda: not ecs.list_tasks()["taskArns"], 60, 0.2)
    print_rounds(args.rounds, [("Dockyard RunTask -> RUNNING", ours), ("docker run -d", theirs)])
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"ratio (Dockyard / docker run): {ratio:.2f}x (target <= 1.5x)")


if __name__ == "__main__":
    main()
