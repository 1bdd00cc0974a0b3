"""The service scheduler at scale, on hollow agents: time to steady state for S services of 10
tasks on 1,000 instances, the scheduler's CPU per reconcile at each S (it should stay flat),
and a rolling deployment of one 500-task service.

Every instance is a hollow agent (``dockyard.agent.hollow``): a real registration, a real
WebSocket and real state reports, no containers. Services are created by 4 concurrent boto3
clients; steady state is when the cluster runs S x 10 tasks and every service says it has
reached a steady state. Server CPU is the whole server process tree's; reconciles come from
``/_dockyard/controllers``.

    .venv/bin/python -m bench.service_scale --instances 1000 --services 100,1000 --rollout 500
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.credentials import Credentials

from bench.servers import BENCH_KEY_ID, BENCH_SECRET, ServerProcess, ecs_client, machine, start_dockyard
from bench.task_start_latency import _wait
from dockyard.agent.hollow import HollowConfig, HollowThread

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
TASK = {"name": "app", "image": "busybox", "memory": 16, "cpu": 8, "command": ["sleep", "600"]}


def _scheduler(server: ServerProcess) -> tuple[int, float]:
    """The service controller's reconciles so far and the CPU seconds spent in them."""
    with urllib.request.urlopen(f"{server.endpoint}/_dockyard/controllers", timeout=10) as reply:
        stats = json.loads(reply.read())["services"]
    return int(stats["reconciles"]), float(stats["cpu_seconds"])


def _running(ecs: Any) -> int:
    return int(ecs.describe_clusters()["clusters"][0]["runningTasksCount"])


def _all_steady(ecs: Any, names: list[str]) -> bool:
    for start in range(0, len(names), 10):
        for service in ecs.describe_services(services=names[start : start + 10])["services"]:
            primary = service["deployments"][0]
            if len(service["deployments"]) != 1 or primary["rolloutState"] != "COMPLETED":
                return False
    return True


def measure_services(server: ServerProcess, clients: list[Any], count: int, prefix: str) -> dict[str, Any]:
    ecs = clients[0]
    names = [f"{prefix}{index}" for index in range(count)]
    before_tasks = _running(ecs)
    cpu, (reconciles, in_scheduler), started = server.cpu_seconds(), _scheduler(server), time.perf_counter()
    with ThreadPoolExecutor(len(clients)) as pool:
        list(
            pool.map(
                lambda item: clients[item[0] % len(clients)].create_service(
                    serviceName=item[1], taskDefinition="scale", desiredCount=10
                ),
                enumerate(names),
            )
        )
    _wait(lambda: _running(ecs) >= before_tasks + 10 * count, 1800, 0.5)
    _wait(lambda: _all_steady(ecs, names), 600, 0.5)
    elapsed = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu
    now_reconciles, now_in_scheduler = _scheduler(server)
    reconciles, in_scheduler = now_reconciles - reconciles, now_in_scheduler - in_scheduler
    return {
        "services": count,
        "tasks": 10 * count,
        "seconds to steady state": round(elapsed, 1),
        "reconciles": reconciles,
        "scheduler CPU ms per reconcile": round(in_scheduler * 1000 / max(1, reconciles), 2),
        "server CPU s (everything)": round(cpu, 1),
        "server CPU ms per task (everything)": round(cpu * 1000 / (10 * count), 2),
    }


def measure_rollout(server: ServerProcess, ecs: Any, size: int) -> dict[str, Any]:
    ecs.create_service(serviceName="big", taskDefinition="scale:1", desiredCount=size)
    _wait(lambda: _all_steady(ecs, ["big"]), 900, 0.5)
    ecs.register_task_definition(family="scale", containerDefinitions=[{**TASK, "command": ["sleep", "601"]}])
    cpu, (reconciles, in_scheduler), started = server.cpu_seconds(), _scheduler(server), time.perf_counter()
    ecs.update_service(service="big", taskDefinition="scale:2")
    _wait(lambda: _all_steady(ecs, ["big"]), 900, 0.5)
    elapsed = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu
    now_reconciles, now_in_scheduler = _scheduler(server)
    return {
        "rolling deployment of": size,
        "seconds": round(elapsed, 1),
        "reconciles": now_reconciles - reconciles,
        "scheduler CPU s": round(now_in_scheduler - in_scheduler, 2),
        "server CPU s (everything)": round(cpu, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--services", default="100,1000", help="service counts, measured in turn")
    parser.add_argument("--rollout", type=int, default=500, help="tasks of the rolled-out service (0: skip)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.services.split(",") if size]
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as work:
        hollow = HollowThread()
        for size in sizes:
            server = start_dockyard(Path(work) / f"server-{size}")
            try:
                clients = [ecs_client(server) for _ in range(4)]
                clients[0].create_cluster()
                clients[0].register_task_definition(family="scale", containerDefinitions=[TASK])
                fleet = hollow.start(
                    HollowConfig(
                        endpoint=server.endpoint,
                        count=args.instances,
                        zones=ZONES,
                        cpu=4096,
                        memory=16384,
                        concurrency=32,
                    ),
                    Credentials(BENCH_KEY_ID, BENCH_SECRET),
                    timeout=600,
                )
                print(
                    json.dumps({"instances": args.instances, **measure_services(server, clients, size, "s")})
                )
                if args.rollout and size == sizes[-1]:
                    print(json.dumps(measure_rollout(server, clients[0], args.rollout)))
                hollow.stop(fleet)
            finally:
                server.stop()
        hollow.close()


if __name__ == "__main__":
    main()
