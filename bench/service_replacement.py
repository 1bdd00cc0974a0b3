"""Time from a service task's death to its replacement RUNNING, beside a plain ``docker run -d``.

One Dockyard server and one local agent (Docker driver). A service of one busybox task; each
round kills the task's container from outside (``docker kill``) and times until
DescribeServices' task list shows another task RUNNING (polled every 5 ms). ECS itself takes
tens of seconds for this; the target is under 1 s plus the container's own start, which the
``docker run -d`` rounds (alternating with ours) measure on the same machine.

    .venv/bin/python -m bench.service_replacement --rounds 10
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from typing import Any

from bench.task_start_latency import _wait, docker_round, local_dockyard, print_rounds


def _running(ecs: Any) -> set[str]:
    arns = ecs.list_tasks(serviceName="replace")["taskArns"]
    if not arns:
        return set()
    return {t["taskArn"] for t in ecs.describe_tasks(tasks=arns)["tasks"] if t["lastStatus"] == "RUNNING"}


def replacement_round(ecs: Any) -> float:
    [victim] = _wait(lambda: (running := _running(ecs)) and len(running) == 1 and running, 60)
    containers = subprocess.run(
        ["docker", "ps", "-q", "--filter", f"label=com.amazonaws.ecs.task-arn={victim}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    started = time.perf_counter()
    subprocess.run(["docker", "kill", *containers], capture_output=True, check=True)
    _wait(lambda: (running := _running(ecs)) and victim not in running, 60)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with local_dockyard("replace") as ecs:
        ecs.create_service(serviceName="replace", taskDefinition="replace", desiredCount=1)
        docker_round()  # warm the image cache
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(replacement_round(ecs))
            theirs.append(docker_round())
        ecs.delete_service(service="replace", force=True)
        _wait(lambda: not ecs.list_tasks()["taskArns"], 60, 0.2)
    print_rounds(args.rounds, [("docker kill -> replacement RUNNING", ours), ("docker run -d", theirs)])
    overhead = statistics.median(ours) - statistics.median(theirs)
    print(
        f"Dockyard's share (median replacement - median docker run): {overhead * 1000:.0f} ms "
        "(target < 1000 ms)"
    )


if __name__ == "__main__":
    main()
