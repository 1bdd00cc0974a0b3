"""Dockyard against moto, side by side in one run: requests/s, latency and server CPU/request
of every read-only action a user polls (``bench.read_state``).

Both servers start fresh (Dockyard on SQLite in a temp data dir, signature verification on;
moto's standalone server) and get the same small state through boto3 (``bench.read_state``:
clusters, task definition revisions, container instances, tasks, services, an attribute,
tags, a setting). Dockyard's instances are hollow agents (``dockyard agent --hollow``), which
stay connected through the run as real agents would: their upkeep (heartbeats) is measured
on its own, idle, and printed. Then each action is driven by the same load generator
(``bench.loadgen``) against one server at a time, alternating servers round by round. For
every measurement the server's CPU time (its whole process tree, from /proc) is read before
and after, so CPU per request holds even when other work shares the machine.

    .venv/bin/python -m bench.api_throughput --duration 5 --repeat 3
    .venv/bin/python -m bench.api_throughput --operations DescribeClusters,PutAccountSetting

``--baseline DIR`` adds a Dockyard server run from another source tree (an older commit:
``git archive <commit> | tar -x -C DIR``), measured in the same rounds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from bench import loadgen, read_state
from bench.servers import (
    BENCH_KEY_ID,
    BENCH_SECRET,
    ServerProcess,
    ecs_client,
    machine,
    start_dockyard,
    start_moto,
)

# The read-only actions, then a write for comparison (on request only).
SCENARIOS = [
    *read_state.READS,
    read_state.Read("PutAccountSetting", lambda f: {"name": "containerInsights", "value": "enabled"}),
]
UPKEEP_SECONDS = 3.0


@dataclass
class Measurement:
    server: str
    operation: str
    result: loadgen.LoadResult
    cpu_seconds: float

    @property
    def cpu_us_per_request(self) -> float:
        return 1e6 * self.cpu_seconds / max(1, self.result.completed)


@dataclass
class Prepared:
    """A server with the state made, what it answered, and what it costs idle."""

    server: ServerProcess
    fixture: read_state.Fixture
    supported: set[str]
    upkeep_ms_per_s: float = 0.0


def boto_call(server: ServerProcess) -> read_state.Call:
    """``call(operation, body)`` through a boto3 client: ECS's wire members are boto3's."""
    client = ecs_client(server)
    return lambda operation, body: dict(client._make_api_call(operation, body))


def hollow_agents(server: ServerProcess, log_dir: Path, timeout: float = 120.0) -> subprocess.Popen[bytes]:
    """``dockyard agent --hollow`` for the cluster's instances, once all are connected."""
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=BENCH_KEY_ID,
        AWS_SECRET_ACCESS_KEY=BENCH_SECRET,
        AWS_DEFAULT_REGION="us-east-1",
    )
    command = [sys.executable, "-m", "dockyard", "agent", "--endpoint", server.endpoint]
    command += ["--cluster", read_state.CLUSTER, "--hollow", str(read_state.INSTANCES)]
    command += ["--hollow-memory", "7680", "--hollow-instance-type", "m5.large"]
    log_path = log_dir / "hollow.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + timeout
    while f"all {read_state.INSTANCES} connected" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"hollow agents did not connect: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)
    return process


def moto_instances(server: ServerProcess, call: read_state.Call) -> None:
    """RegisterContainerInstance for instances made in moto's EC2 (moto looks them up there)."""
    import boto3

    ec2 = boto3.client(
        "ec2",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=BENCH_KEY_ID,
        aws_secret_access_key=BENCH_SECRET,
    )
    made = ec2.run_instances(
        ImageId="ami-0123456789abcdef0",
        MinCount=read_state.INSTANCES,
        MaxCount=read_state.INSTANCES,
        InstanceType="m5.large",
    )["Instances"]
    for index, instance in enumerate(made):
        call("RegisterContainerInstance", read_state.registration(index, instance["InstanceId"]))


def prepare(server: ServerProcess, tmp: Path, agents: list[subprocess.Popen[bytes]]) -> Prepared:
    """The state of ``bench.read_state``, then which actions answer, then the idle upkeep."""
    call = boto_call(server)
    if server.name == "moto":
        fixture = read_state.prepare(call, lambda: moto_instances(server, call))
    else:
        log_dir = tmp / f"agents-{server.port}"
        log_dir.mkdir()
        fixture = read_state.prepare(call, lambda: agents.append(hollow_agents(server, log_dir)))
    supported = set()
    for scenario in SCENARIOS:
        try:
            call(scenario.operation, scenario.body(fixture))
            supported.add(scenario.operation)
        except (ClientError, BotoCoreError) as error:
            print(f"# {server.name}: {scenario.operation} fails: {error}", file=sys.stderr)
    before = server.cpu_seconds()
    time.sleep(UPKEEP_SECONDS)
    upkeep = 1000 * (server.cpu_seconds() - before) / UPKEEP_SECONDS
    return Prepared(server, fixture, supported, upkeep)


def measure(prepared: Prepared, scenario: read_state.Read, plan: loadgen.LoadPlan) -> Measurement:
    server = prepared.server
    spec = loadgen.RequestSpec(
        port=server.port,
        target=f"{loadgen.ECS_TARGET_PREFIX}.{scenario.operation}",
        body=json.dumps(scenario.body(prepared.fixture)).encode(),
        access_key_id=BENCH_KEY_ID,
        secret_access_key=BENCH_SECRET,
    )
    before = server.cpu_seconds()
    result = loadgen.run(spec, plan)
    cpu = server.cpu_seconds() - before
    return Measurement(server.name, scenario.operation, result, cpu)


def median_run(runs: list[Measurement]) -> Measurement:
    return sorted(runs, key=lambda run: run.result.rps)[len(runs) // 2]


def _cells(runs: list[Measurement] | None) -> tuple[list[str], Measurement | None, float]:
    if not runs:
        return ["n/a"] * 4, None, 0.0
    middle = median_run(runs)
    cpus = [run.cpu_us_per_request for run in runs]
    cpu_text = f"{statistics.median(cpus):.0f} ({min(cpus):.0f}–{max(cpus):.0f})"
    errors = sum(run.result.errors for run in runs)
    rps = f"{middle.result.rps:,.0f}" + (f" ({errors} errors)" if errors else "")
    return (
        [rps, f"{middle.result.p50_ms:.2f}", f"{middle.result.p99_ms:.2f}", cpu_text],
        middle,
        statistics.median(cpus),
    )


def table(results: dict[tuple[str, str], list[Measurement]], operations: list[str], names: list[str]) -> str:
    """One row per action (and Dockyard variant): Dockyard and moto side by side. CPU is the
    median over the rounds with their range."""
    lines = [
        "| Action | Server | req/s | p50 ms | p99 ms | server CPU µs/req | moto req/s | moto p50 ms "
        "| moto p99 ms | moto CPU µs/req | req/s vs moto | CPU vs moto |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for operation in operations:
        moto_cells, moto, moto_cpu = _cells(results.get(("moto", operation)))
        for name in names:
            if name == "moto":
                continue
            cells, dock, dock_cpu = _cells(results.get((name, operation)))
            faster = f"{dock.result.rps / moto.result.rps:.1f}x" if dock and moto else ""
            cheaper = f"{moto_cpu / dock_cpu:.1f}x less" if dock and moto else ""
            lines.append(
                f"| {operation} | {name} | " + " | ".join([*cells, *moto_cells, faster, cheaper]) + " |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--connections", type=int, default=4, help="connections per worker")
    parser.add_argument(
        "--dockyard-workers",
        default="1",
        help="uvicorn worker processes of the Dockyard server; a list such as "
        "1,2 starts one server per value",
    )
    parser.add_argument(
        "--operations",
        default=",".join(read_state.READ_OPERATIONS),
        help="actions to drive (default: every read-only one; PutAccountSetting is a write)",
    )
    parser.add_argument("--servers", default="dockyard,moto")
    parser.add_argument("--baseline", type=Path, help="also run Dockyard from this source tree")
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
    results: dict[tuple[str, str], list[Measurement]] = {}
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        servers: list[ServerProcess] = []
        agents: list[subprocess.Popen[bytes]] = []
        try:
            if "dockyard" in args.servers:
                for workers in (int(value) for value in args.dockyard_workers.split(",")):
                    server = start_dockyard(Path(tmp) / f"dockyard-{workers}", workers=workers)
                    if workers != 1:
                        server.name = f"dockyard ({workers} workers)"
                    servers.append(server)
            if args.baseline:
                # python -m dockyard imports the package from the working directory first.
                with contextlib.chdir(args.baseline):
                    server = start_dockyard(Path(tmp) / "dockyard-baseline")
                server.name = "dockyard (baseline)"
                servers.append(server)
            if "moto" in args.servers:
                servers.append(start_moto(Path(tmp) / "moto"))
            prepared = [prepare(server, Path(tmp), agents) for server in servers]
            for ready in prepared:
                print(f"# {ready.server.name}: idle upkeep {ready.upkeep_ms_per_s:.1f} ms CPU per second")
            for scenario in SCENARIOS:
                if scenario.operation not in wanted:
                    continue
                for round_index in range(args.repeat):
                    # Alternate who goes first, so a burst of outside load hits all alike.
                    order = prepared if round_index % 2 == 0 else prepared[::-1]
                    for ready in order:
                        if scenario.operation not in ready.supported:
                            continue
                        run = measure(ready, scenario, plan)
                        results.setdefault((ready.server.name, scenario.operation), []).append(run)
                        print(
                            f"# {ready.server.name} {scenario.operation} round {round_index + 1}: "
                            f"{run.result.summary()}; server CPU {run.cpu_us_per_request:.0f} µs/req",
                            flush=True,
                        )
        finally:
            for agent in agents:
                agent.terminate()
                agent.wait(timeout=30)
            for server in servers:
                server.stop()
    print(f"# load average at the end: {machine()['load']}")
    print()
    print(
        table(
            results, [op for op in wanted if any(key[1] == op for key in results)], [s.name for s in servers]
        )
    )


if __name__ == "__main__":
    main()
