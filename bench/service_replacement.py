"""Time from a service task's death to its replacement RUNNING, beside a plain ``docker run -d``.

One Dockyard server and one local agent (Docker driver). Each round creates a service of one
busybox task (a new one: deaths seconds apart are throttled as tasks failing to start), kills
the task's container from outside (``docker kill``) and times until the service shows another
task RUNNING (polled every 5 ms). ECS itself takes tens of seconds for this; the target is
under 1 s plus the container's own start, which the ``docker run -d`` rounds (alternating with
ours) measure on the same machine.

    .venv/bin/python -m bench.service_replacement --rounds 10
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from typing import Any

from bench.task_start_latency import _wait, docker_round, local_dockyard, print_rounds


def _running(ecs: Any, service: str) -> set[str]:
    arns = ecs.list_tasks(serviceName=service)["taskArns"]
    if not arns:
        return set()
    return {t["taskArn"] for t in ecs.describe_tasks(tasks=arns)["tasks"] if t["lastStatus"] == "RUNNING"}


def replacement_round(ecs: Any, service: str) -> float:
    """A fresh service each round: repeated deaths within seconds are what ECS (and Dockyard)
    throttle as tasks failing to start, and the first death is what this measures."""
    ecs.create_service(serviceName=service, taskDefinition="replace", desiredCount=1)
    [victim] = _wait(lambda: (running := _running(ecs, service)) and len(running) == 1 and running, 60)
    containers = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.amazonaws.ecs.task-arn={victim}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    started = time.perf_counter()
    subprocess.run(["docker", "kill", *containers], capture_output=True, check=True)
    _wait(lambda: (running := _running(ecs, service)) and victim not in running, 60)
    elapsed = time.perf_counter() - started
    ecs.delete_service(service=service, force=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with local_dockyard("replace") as ecs:
        docker_round()  # warm the image cache
        ours, theirs = [], []
        for number in range(args.rounds):
            ours.append(replacement_round(ecs, f"replace{number}"))
            theirs.append(docker_round())
        _wait(lambda: not ecs.list_tasks()["taskArns"], 60, 0.2)
    print_rounds(args.rounds, [("docker kill -> replacement RUNNING", ours), ("docker run -d", theirs)])
    overhead = statistics.median(ours) - statistics.median(theirs)
    print(
        f"Dockyard's share (median replacement - median docker run): {overhead * 1000:.0f} ms "
        "(target < 1000 ms)"
    )


if __name__ == "__main__":
    main()
