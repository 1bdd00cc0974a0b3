"""Dockyard against moto, side by side in one run: requests/s, latency and server CPU/request.

Both servers start fresh (Dockyard on SQLite in a temp data dir, signature verification on;
moto's standalone server), get the same state through boto3 (clusters and task definition
revisions), then each operation is driven by the same load generator (``bench.loadgen``)
against one server at a time, alternating servers round by round. For every measurement the
server's CPU time (its whole process tree, from /proc) is read before and after, so CPU per
request holds even when other work shares the machine.

    .venv/bin/python -m bench.api_throughput --duration 10 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bench import loadgen
from bench.servers import (
    BENCH_KEY_ID,
    BENCH_SECRET,
    ServerProcess,
    ecs_client,
    machine,
    start_dockyard,
    start_moto,
)

FAMILY = "bench-web"
CONTAINER = {
    "name": "web",
    "image": "nginx:1.27",
    "cpu": 128,
    "memory": 256,
    "essential": True,
    "portMappings": [{"containerPort": 80, "protocol": "tcp"}],
    "environment": [{"name": "MODE", "value": "bench"}],
}


@dataclass(frozen=True)
class Scenario:
    operation: str
    body: dict[str, Any]


# One named cluster, as a poller or waiter asks; one family's revisions (one page, no token).
SCENARIOS = [
    Scenario("DescribeClusters", {"clusters": ["bench-0"]}),
    Scenario("ListTaskDefinitions", {"familyPrefix": FAMILY}),
    Scenario("PutAccountSetting", {"name": "containerInsights", "value": "enabled"}),  # a write
]


@dataclass
class Measurement:
    server: str
    operation: str
    result: loadgen.LoadResult
    cpu_seconds: float

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.cpu_seconds / max(1, self.result.completed)


def prepare(server: ServerProcess, clusters: int, revisions: int) -> set[str]:
    """Create the same state through boto3; return the operations the server supports."""
    ecs = ecs_client(server)
    for index in range(clusters):
        ecs.create_cluster(clusterName=f"bench-{index}")
    supported = {"DescribeClusters", "PutAccountSetting"}
    try:
        for _ in range(revisions):
            ecs.register_task_definition(family=FAMILY, containerDefinitions=[CONTAINER])
        # A second family, so the prefix filter has something to leave out.
        ecs.register_task_definition(family="other", containerDefinitions=[CONTAINER])
        supported.add("ListTaskDefinitions")
    except ClientError as error:
        print(f"# {server.name}: no task definitions ({error.response['Error']['Code']})", file=sys.stderr)
    return supported


def measure(server: ServerProcess, scenario: Scenario, plan: loadgen.LoadPlan) -> Measurement:
    spec = loadgen.RequestSpec(
        port=server.port,
        target=f"{loadgen.ECS_TARGET_PREFIX}.{scenario.operation}",
        body=json.dumps(scenario.body).encode(),
        access_key_id=BENCH_KEY_ID,
        secret_access_key=BENCH_SECRET,
    )
    before = server.cpu_seconds()
    result = loadgen.run(spec, plan)
    cpu = server.cpu_seconds() - before
    return Measurement(server.name, scenario.operation, result, cpu)


def median_run(runs: list[Measurement]) -> Measurement:
    return sorted(runs, key=lambda run: run.result.rps)[len(runs) // 2]


def table(results: dict[tuple[str, str], list[Measurement]], operations: list[str], names: list[str]) -> str:
    lines = [
        "| Operation | Server | req/s | p50 ms | p99 ms | server CPU ms/req | errors |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for operation in operations:
        rows: dict[str, tuple[Measurement, float]] = {}
        for server in names:
            runs = results.get((server, operation))
            if not runs:
                continue
            middle = median_run(runs)
            cpu = statistics.median(run.cpu_ms_per_request for run in runs)
            errors = sum(run.result.errors for run in runs)
            rows[server] = (middle, cpu)
            lines.append(
                f"| {operation} | {server} | {middle.result.rps:,.0f} | "
                f"{middle.result.p50_ms:.2f} | {middle.result.p99_ms:.2f} | {cpu:.3f} | {errors} |"
            )
        if "moto" not in rows:
            continue
        moto, moto_cpu = rows["moto"]
        for server, (dock, dock_cpu) in rows.items():
            if server == "moto":
                continue
            lines.append(
                f"| {operation} | **{server}/moto** | **{dock.result.rps / moto.result.rps:.1f}x** | "
                f"{dock.result.p50_ms / moto.result.p50_ms:.2f}x | "
                f"{dock.result.p99_ms / moto.result.p99_ms:.2f}x | "
                f"{dock_cpu / moto_cpu:.2f}x (moto/Dockyard {moto_cpu / dock_cpu:.1f}x) | |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--connections", type=int, default=4, help="connections per worker")
    parser.add_argument(
        "--dockyard-workers",
        default="1",
        help="uvicorn worker processes of the Dockyard server; a list such as "
        "1,2 starts one server per value",
    )
    parser.add_argument("--clusters", type=int, default=5)
    parser.add_argument(
        "--revisions", type=int, default=20, help="task definition revisions of the listed family"
    )
    parser.add_argument("--operations", default="DescribeClusters,ListTaskDefinitions")
    parser.add_argument("--servers", default="dockyard,moto")
    args = parser.parse_args(argv)
    plan = loadgen.LoadPlan(
        workers=args.workers, connections=args.connections, duration=args.duration, warmup=args.warmup
    )
    wanted = args.operations.split(",")
    info = machine()
    print(
        f"# {info['date']}, {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"load average {info['load']}"
    )
    print(
        f"# load generator: {plan.workers} processes x {plan.connections} connections, "
        f"{plan.duration:.0f} s after {plan.warmup:.0f} s warm-up, {args.repeat} rounds"
    )
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        servers: list[ServerProcess] = []
        try:
            if "dockyard" in args.servers:
                for workers in (int(value) for value in args.dockyard_workers.split(",")):
                    server = start_dockyard(Path(tmp) / f"dockyard-{workers}", workers=workers)
                    if workers != 1:
                        server.name = f"dockyard ({workers} workers)"
                    servers.append(server)
            if "moto" in args.servers:
                servers.append(start_moto(Path(tmp) / "moto"))
            supported = {server.name: prepare(server, args.clusters, args.revisions) for server in servers}
            operations = [op for op in wanted if all(op in ops for ops in supported.values())]
            results: dict[tuple[str, str], list[Measurement]] = {}
            for scenario in SCENARIOS:
                if scenario.operation not in operations:
                    continue
                for round_index in range(args.repeat):
                    # Alternate who goes first, so a burst of outside load hits all alike.
                    order = servers if round_index % 2 == 0 else servers[::-1]
                    for server in order:
                        run = measure(server, scenario, plan)
                        results.setdefault((server.name, scenario.operation), []).append(run)
                        print(
                            f"# {server.name} {scenario.operation} round {round_index + 1}: "
                            f"{run.result.summary()}; server CPU {run.cpu_ms_per_request:.3f} "
                            f"ms/req",
                            flush=True,
                        )
        finally:
            for server in servers:
                server.stop()
    print(f"# load average at the end: {machine()['load']}")
    print()
    print(table(results, operations, [server.name for server in servers]))


if __name__ == "__main__":
    main()
