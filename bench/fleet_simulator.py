"""A simulated fleet under a RunTask storm: Dockyard against moto, side by side in one run.

For each fleet size N (100, 1,000 and 5,000 by default) both servers start fresh and get N
container instances spread round-robin over three zones and four instance types. Dockyard gets
them as **hollow agents** (``dockyard agent --hollow``, one process per instance type): each
instance registers with RegisterContainerInstance, holds its own WebSocket (heartbeats, state
frames, acks) and, with ``--hollow-reports`` (the default), reports every task it is given
PENDING then RUNNING with SubmitTaskStateChange, as an agent does, without starting anything.
moto gets the same instances through RegisterContainerInstance (it has no agents; its instances
all have 4096 CPU units and 7482 MiB). Then several client processes (``bench.loadgen``: requests
pre-signed with botocore, replayed over keep-alive connections; 2 x 2 = 4 concurrent by default)
call RunTask as fast as the server answers, with the same body on both servers: count=10,
placementStrategy spread(attribute:ecs.availability-zone) then binpack(memory). Tasks
accumulate over the storm. Dockyard runs the whole placement engine; moto does first-fit
bookkeeping only (it ignores strategies and constraints).

Why it is built this way:

- An instance registered through the API with no agent behind it takes no tasks (as in ECS),
  so Dockyard's fleet is live: what the fleet costs the server (heartbeats, the hub's tick,
  the state frames each placement pushes, the agents' reports) is in its server CPU, as it
  would be in production. The fleet's upkeep alone is measured before the storm (server CPU
  per second with every agent connected and nothing else going on) and printed.
- ``--servers dockyard-nocache`` runs Dockyard with ``DOCKYARD_PLACEMENT_CACHE=off``: the
  snapshot read from the store on every RunTask, as before the snapshot cache;
  ``dockyard-baseline`` runs the source tree given by ``--baseline`` (an older commit).
- A storm is a fixed number of requests (``--requests``), not a duration, so both servers
  place the same number of tasks into the same capacity; the task is tiny (4 CPU units,
  8 MiB) so that even the 100-instance fleet never runs full. The run refuses a plan that
  would use more than 70% of the smallest fleet's capacity.
- Placements per second are counted by the server: the cluster's running + pending task
  counts (DescribeClusters) after the storm, warm-up included, scaled to the measured
  window (``rps * placed / requests sent``). Latency is RunTask's, from the load generator.
- One RunTask goes before the measured window: a server's first placement in a cluster loads
  the cluster into its placement cache (every instance with its attributes: ~1.5 s of CPU at
  5,000 instances), once per process.
- ``--verify`` then describes every instance and checks the books: nothing overcommitted,
  and the CPU and memory in use on the instances add up to exactly what the placed tasks hold.
- ``--profile DIR`` samples the Dockyard server with py-spy during each storm and prints the
  functions of ``dockyard/`` that the samples were in (inclusive), largest first; the idle
  fleet's upkeep is sampled too (``NAME-SIZE-upkeep.txt``).
- ``--cpu-profile DIR`` runs the Dockyard server under ``bench.cpu_sampler`` instead, which
  samples its CPU time, not the wall clock, during each storm (``NAME-SIZE-cpu.txt``, collapsed
  stacks), and prints how a placement's CPU splits into its parts (``PARTS``: the reports, the
  insert, placement, the commit, HTTP, sockets, state frames ...), in µs per placement.

    .venv/bin/python -m bench.fleet_simulator --sizes 100,1000,5000 --requests 2000 --verify
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.servers import (
    BENCH_KEY_ID,
    BENCH_SECRET,
    ServerProcess,
    ecs_client,
    machine,
    process_tree_cpu,
    start_dockyard,
    start_moto,
)

CLUSTER = "fleet"
FAMILY = "fleet-sim"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
# name: (CPU units, MiB registered), as an agent reports them (memory minus a small reserve).
INSTANCE_TYPES = {
    "m5.large": (2048, 7680),
    "c5.xlarge": (4096, 7680),
    "m5.xlarge": (4096, 15616),
    "r5.large": (2048, 15616),
}
MOTO_INSTANCE = (4096, 7482)
TASK_CPU, TASK_MEMORY = 4, 8
COUNT = 10
STRATEGY = [
    {"type": "spread", "field": "attribute:ecs.availability-zone"},
    {"type": "binpack", "field": "memory"},
]
CAPACITY_SHARE = 0.7
TASK_DEFINITION: dict[str, Any] = {
    "family": FAMILY,
    "containerDefinitions": [
        {
            "name": "app",
            "image": "dockyard/busybox",
            "cpu": TASK_CPU,
            "memory": TASK_MEMORY,
            "essential": True,
            "command": ["sleep", "3600"],
        }
    ],
}
RUN_TASK: dict[str, Any] = {
    "cluster": CLUSTER,
    "taskDefinition": FAMILY,
    "count": COUNT,
    "placementStrategy": STRATEGY,
}


@dataclass(frozen=True)
class SimulatedInstance:
    index: int
    ec2_instance_id: str
    zone: str
    instance_type: str

    def registration(self) -> dict[str, Any]:
        """RegisterContainerInstance's input for this instance, as an agent sends it."""
        cpu, memory = INSTANCE_TYPES[self.instance_type]
        document = {
            "instanceId": self.ec2_instance_id,
            "instanceType": self.instance_type,
            "availabilityZone": self.zone,
            "region": "us-east-1",
            "imageId": "ami-0123456789abcdef0",
            "privateIp": f"10.0.{self.index // 250}.{self.index % 250}",
        }
        return {
            "cluster": CLUSTER,
            "instanceIdentityDocument": json.dumps(document),
            "totalResources": [
                {"name": "CPU", "type": "INTEGER", "integerValue": cpu},
                {"name": "MEMORY", "type": "INTEGER", "integerValue": memory},
                {"name": "PORTS", "type": "STRINGSET", "stringSetValue": ["22", "2375", "2376", "51678"]},
                {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": []},
            ],
            "versionInfo": {"agentVersion": "1.0.0", "agentHash": "fleetsim", "dockerVersion": "simulated"},
        }

    def register(self, ecs: Any) -> dict[str, Any]:
        return dict(ecs.register_container_instance(**self.registration())["containerInstance"])


def fleet(size: int) -> list[SimulatedInstance]:
    types = list(INSTANCE_TYPES)
    return [
        SimulatedInstance(i, f"i-{i:017x}", ZONES[i % len(ZONES)], types[(i // len(ZONES)) % len(types)])
        for i in range(size)
    ]


def moto_ec2_instances(server: ServerProcess, instances: list[SimulatedInstance]) -> list[SimulatedInstance]:
    """The same fleet with EC2 instances made in moto's EC2 (its RegisterContainerInstance
    looks the identity document's instance up there)."""
    import boto3

    ec2 = boto3.client(
        "ec2",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=BENCH_KEY_ID,
        aws_secret_access_key=BENCH_SECRET,
    )
    groups: dict[tuple[str, str], list[SimulatedInstance]] = collections.defaultdict(list)
    for instance in instances:
        groups[(instance.zone, instance.instance_type)].append(instance)
    made: list[SimulatedInstance] = []
    for (zone, instance_type), members in groups.items():
        reply = ec2.run_instances(
            ImageId="ami-0123456789abcdef0",
            MinCount=len(members),
            MaxCount=len(members),
            InstanceType=instance_type,
            Placement={"AvailabilityZone": zone},
        )
        made += [
            dataclasses.replace(member, ec2_instance_id=created["InstanceId"])
            for member, created in zip(members, reply["Instances"], strict=True)
        ]
    return sorted(made, key=lambda instance: instance.index)


def capacity(instances: list[SimulatedInstance], moto: bool) -> int:
    """How many tasks the fleet holds; a zone is full when its instances are."""
    per_zone: collections.Counter[str] = collections.Counter()
    for instance in instances:
        cpu, memory = MOTO_INSTANCE if moto else INSTANCE_TYPES[instance.instance_type]
        per_zone[instance.zone] += min(cpu // TASK_CPU, memory // TASK_MEMORY)
    # Spread keeps the zones even, so the smallest zone bounds what fits evenly.
    return min(per_zone.values()) * len(per_zone)


class Clients:
    """One boto3 client per thread (a client is not to be shared while it is being built)."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.local = threading.local()

    def get(self) -> Any:
        client = getattr(self.local, "ecs", None)
        if client is None:
            client = self.local.ecs = ecs_client(self.server)
        return client


def prepare(server: ServerProcess) -> Clients:
    """The cluster and the task definition."""
    clients = Clients(server)
    ecs = clients.get()
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(**TASK_DEFINITION)
    return clients


def register_all(clients: Clients, instances: list[SimulatedInstance], threads: int) -> float:
    """Register every instance through the API (moto), from ``threads`` threads; seconds taken."""
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda instance: instance.register(clients.get()), instances))
    return time.monotonic() - started


class HollowFleet:
    """The fleet as hollow agents: one ``dockyard agent --hollow`` process per instance type,
    each spreading its instances over the zones."""

    def __init__(self, server: ServerProcess, size: int, log_dir: Path, reports: bool, concurrency: int):
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[tuple[Path, int]] = []
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=BENCH_KEY_ID,
            AWS_SECRET_ACCESS_KEY=BENCH_SECRET,
            AWS_DEFAULT_REGION="us-east-1",
        )
        types = list(INSTANCE_TYPES.items())
        for index, (name, (cpu, memory)) in enumerate(types):
            count = size // len(types) + (index < size % len(types))
            if not count:
                continue
            command = [sys.executable, "-m", "dockyard", "agent", "--endpoint", server.endpoint]
            command += ["--cluster", CLUSTER, "--hollow", str(count), "--hollow-cpu", str(cpu)]
            command += ["--hollow-memory", str(memory), "--hollow-zones", ",".join(ZONES)]
            command += ["--hollow-instance-type", name, "--hollow-concurrency", str(concurrency)]
            command += ["--hollow-seed", str(index)] + ([] if reports else ["--hollow-no-reports"])
            log_path = log_dir / f"hollow-{name}.log"
            with log_path.open("ab") as log:
                self.processes.append(
                    subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
                )
            self.logs.append((log_path, count))

    def wait_connected(self, timeout: float = 600.0) -> float:
        """Seconds until every instance of every process is registered and connected."""
        started = time.monotonic()
        while True:
            texts = [path.read_text(errors="replace") if path.exists() else "" for path, _ in self.logs]
            if all(
                f"all {count} connected" in text for text, (_, count) in zip(texts, self.logs, strict=True)
            ):
                return time.monotonic() - started
            if any(process.poll() is not None for process in self.processes) or (
                time.monotonic() - started > timeout
            ):
                raise RuntimeError(
                    "hollow agents did not all connect:\n" + "\n".join(t[-2000:] for t in texts)
                )
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        return sum(process_tree_cpu(process.pid) for process in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def placed_tasks(ecs: Any) -> int:
    cluster = ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]
    return int(cluster["runningTasksCount"]) + int(cluster["pendingTasksCount"])


def verify(ecs: Any, placed: int) -> str:
    """Check the books of every instance; return a one-line verdict."""
    arns: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = ecs.list_container_instances(cluster=CLUSTER, maxResults=100, **token)
        arns += page["containerInstanceArns"]
        if not page.get("nextToken"):
            break
        token = {"nextToken": page["nextToken"]}
    used_cpu = used_memory = overcommitted = 0
    for start in range(0, len(arns), 100):
        described = ecs.describe_container_instances(
            cluster=CLUSTER, containerInstances=arns[start : start + 100]
        )
        for instance in described["containerInstances"]:
            registered = {r["name"]: r.get("integerValue", 0) for r in instance["registeredResources"]}
            remaining = {r["name"]: r.get("integerValue", 0) for r in instance["remainingResources"]}
            if remaining["CPU"] < 0 or remaining["MEMORY"] < 0:
                overcommitted += 1
            used_cpu += registered["CPU"] - remaining["CPU"]
            used_memory += registered["MEMORY"] - remaining["MEMORY"]
    exact = used_cpu == placed * TASK_CPU and used_memory == placed * TASK_MEMORY
    return (
        f"{len(arns)} instances, {overcommitted} overcommitted, CPU/memory in use "
        f"{'match' if exact else 'DO NOT match'} {placed} tasks ({used_cpu} units, {used_memory} MiB)"
    )


@dataclass
class Storm:
    server: str
    size: int
    result: loadgen.LoadResult
    placed: int
    cpu_seconds: float
    agents_cpu_seconds: float = 0.0  # the hollow agents' processes, during the storm
    running: int = 0  # tasks RUNNING at the end of the storm (the agents' reports came in)
    upkeep_ms_per_second: float = 0.0  # server CPU of the idle, connected fleet, before the storm
    books: str = ""

    @property
    def placements_per_second(self) -> float:
        return self.result.rps * self.placed / max(1, self.result.completed)

    @property
    def cpu_ms_per_placement(self) -> float:
        return 1000 * self.cpu_seconds / max(1, self.placed)


def upkeep(server: ServerProcess, seconds: float, profile: Path | None = None) -> float:
    """Server CPU ms per second while the connected fleet does nothing but stay connected."""
    spy = _start_py_spy(server, profile) if profile else None
    before = server.cpu_seconds()
    time.sleep(seconds)
    cpu = server.cpu_seconds() - before
    if spy is not None:
        _stop_py_spy(spy)
    return 1000 * cpu / seconds


def counts(ecs: Any) -> tuple[int, int]:
    """The cluster's (running + pending, running) tasks."""
    cluster = ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]
    running = int(cluster["runningTasksCount"])
    return running + int(cluster["pendingTasksCount"]), running


def storm(
    server: ServerProcess,
    clients: Clients,
    size: int,
    plan: loadgen.LoadPlan,
    fleet: HollowFleet | None,
    check: bool,
    profile: Path | None,
    cpu_sampled: bool = False,
) -> Storm:
    body = RUN_TASK
    spec = loadgen.RequestSpec(
        port=server.port,
        target=f"{loadgen.ECS_TARGET_PREFIX}.RunTask",
        body=json.dumps(body).encode(),
        access_key_id=BENCH_KEY_ID,
        secret_access_key=BENCH_SECRET,
    )
    ecs = clients.get()
    # One RunTask outside the window: a server's first placement in a cluster loads the
    # cluster into its placement cache (every instance, its attributes and task groups), once
    # per process; the storm measures placement as a running server does it.
    ecs.run_task(**body)
    before = placed_tasks(ecs)
    spy = _start_py_spy(server, profile / f"{server.name}-{size}.txt") if profile else None
    cpu_before = server.cpu_seconds()
    agents_before = fleet.cpu_seconds() if fleet else 0.0
    if cpu_sampled:
        os.kill(server.pid, signal.SIGUSR2)  # bench.cpu_sampler: on
    result = loadgen.run(spec, plan)
    if cpu_sampled:
        os.kill(server.pid, signal.SIGUSR2)  # off: the stacks are written
    cpu = server.cpu_seconds() - cpu_before
    agents_cpu = (fleet.cpu_seconds() - agents_before) if fleet else 0.0
    if spy is not None:
        _stop_py_spy(spy)
    placed, running = counts(ecs)
    run = Storm(server.name, size, result, placed - before, cpu, agents_cpu, running)
    if check:
        run.books = verify(ecs, placed_tasks(ecs))
    return run


def _stop_py_spy(spy: subprocess.Popen[bytes]) -> None:
    spy.send_signal(2)  # SIGINT: py-spy writes what it sampled so far
    spy.wait(timeout=60)


def _start_py_spy(server: ServerProcess, out: Path) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(server.pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaches
    return spy


def profile_summary(raw: Path, top: int = 30) -> list[tuple[str, float]]:
    """Inclusive share of samples per ``dockyard/`` function (and per SQL driver call)."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        total += int(count)
        seen = set()
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            if "dockyard/" in where:
                key = f"{name} ({where.split('dockyard/', 1)[1].split(':')[0]})"
            elif "sqlite3" in frame or "psycopg" in where:
                key = "database driver (sqlite3 / psycopg)"
            else:
                continue
            if key not in seen:
                seen.add(key)
                counts[key] += int(count)
    return [(key, 100 * value / max(1, total)) for key, value in counts.most_common(top)]


# The parts of a placement's cost, for ``--cpu-profile``: a sample goes to the first part one of
# whose markers is in its stack (the group commit runs the writes inside it, so it comes late).
PARTS = [
    ("the agents' reports applied", ("task_report_frames.py", "submit_task_state_changes")),
    ("RunTask's task insert", ("_insert_tasks",)),
    ("RunTask's placement and reservation", ("place_and_reserve",)),
    ("state frames", ("_send_state_if_changed", "FrameBuilder")),
    ("the hub", ("ChannelHub",)),
    ("RunTask's other work", ("run_task (",)),
    ("the agents' sockets otherwise", ("AgentSocket", "websockets", "Connection.run", "Connection._read")),
    ("HTTP, SigV4, parsing", ("httptools_impl", "pipeline.py", "protocol/endpoint.py", "connections.py")),
    ("controllers", ("controllers/",)),
    ("the commit", ("do_commit",)),
    ("the group commit otherwise", ("GroupCommit",)),
]


def cpu_parts(raw: Path) -> list[tuple[str, float]]:
    """Share of CPU-time samples per part of a placement's cost (``PARTS``), largest first."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        part = next((name for name, marks in PARTS if any(mark in stack for mark in marks)), "the rest")
        counts[part] += int(count)
    total = max(1, sum(counts.values()))
    return [(part, 100 * value / total) for part, value in counts.most_common()]


def table(storms: list[Storm]) -> str:
    lines = [
        "| instances | server | placements/s | RunTask/s | p50 ms | p99 ms | server CPU ms/placement "
        "| errors |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    by_size: dict[int, dict[str, Storm]] = collections.defaultdict(dict)
    for run in storms:
        by_size[run.size][run.server] = run
        lines.append(
            f"| {run.size:,} | {run.server} | {run.placements_per_second:,.0f} | "
            f"{run.result.rps:,.1f} | {run.result.p50_ms:.1f} | {run.result.p99_ms:.1f} | "
            f"{run.cpu_ms_per_placement:.3f} | "
            f"{run.result.errors} |"
        )
    for size, runs in by_size.items():
        moto = runs.get("moto")
        for name, dock in runs.items():
            if moto is None or not name.startswith("dockyard"):
                continue
            ratio = dock.placements_per_second / max(1e-9, moto.placements_per_second)
            lines.append(
                f"| {size:,} | **{name}/moto** | **{ratio:.1f}x** | "
                f"| {dock.result.p50_ms / moto.result.p50_ms:.2f}x "
                f"| {dock.result.p99_ms / moto.result.p99_ms:.2f}x "
                f"| {dock.cpu_ms_per_placement / moto.cpu_ms_per_placement:.2f}x | |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="fleet sizes, comma-separated")
    parser.add_argument("--requests", type=int, default=2000, help="RunTask calls measured per storm")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=2, help="connections per client process")
    parser.add_argument("--register-threads", type=int, default=8, help="moto's registrations")
    parser.add_argument(
        "--hollow-reports",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the hollow agents report their tasks PENDING then RUNNING (--no-hollow-reports: "
        "they take them and say nothing, the tasks stay PROVISIONING)",
    )
    parser.add_argument(
        "--hollow-concurrency", type=int, default=16, help="API calls at once per agent process"
    )
    parser.add_argument("--upkeep-seconds", type=float, default=5.0, help="idle fleet measured this long")
    parser.add_argument(
        "--servers",
        default="dockyard,moto",
        help="any of dockyard, dockyard-nocache, dockyard-baseline, moto",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="the source tree dockyard-baseline runs, e.g. `git archive <commit> | tar -x -C DIR`",
    )
    parser.add_argument(
        "--database-url",
        help="Dockyard on this PostgreSQL server (a fresh database per size) instead of SQLite",
    )
    parser.add_argument("--dockyard-workers", type=int, default=1, help="uvicorn processes of Dockyard")
    parser.add_argument("--verify", action="store_true", help="check every instance's books after a storm")
    parser.add_argument("--profile", type=Path, help="py-spy the Dockyard server; raw stacks go here")
    parser.add_argument(
        "--cpu-profile",
        type=Path,
        help="run the Dockyard server under bench.cpu_sampler; the storm's CPU-time stacks go here",
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    plan = loadgen.LoadPlan(
        workers=args.workers,
        connections=args.connections,
        duration=None,
        requests=args.requests,
        warmup=args.warmup,
        timeout=60.0,
    )
    wanted = args.servers.split(",")
    info = machine()
    print(
        f"# {info['date']}, {info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, "
        f"load average {info['load']}"
    )
    print(
        f"# RunTask count={COUNT} {json.dumps(STRATEGY)}; task {TASK_CPU} CPU units / {TASK_MEMORY} MiB; "
        f"{args.workers} client processes x {args.connections} connections; {args.requests} requests "
        f"after {args.warmup:.0f} s warm-up; Dockyard on "
        f"{'PostgreSQL' if args.database_url else 'SQLite'}",
        flush=True,
    )
    storms: list[Storm] = []
    for size in sizes:
        instances = fleet(size)
        # Warm-up requests place tasks too: allow for twice the measured count.
        needed = 2 * args.requests * COUNT
        room = min(capacity(instances, moto=False), capacity(instances, moto=True))
        if needed > CAPACITY_SHARE * room:
            sys.exit(f"{size} instances hold {room} tasks: too few for {args.requests} requests of {COUNT}")
        for name in wanted if sizes.index(size) % 2 == 0 else wanted[::-1]:
            storms.append(_one(name, size, instances, plan, args))
    print(f"# load average at the end: {machine()['load']}")
    print()
    print(table(storms))


def _one(
    name: str, size: int, instances: list[SimulatedInstance], plan: loadgen.LoadPlan, args: argparse.Namespace
) -> Storm:
    """One server, fresh: ``dockyard``, ``dockyard-nocache`` (the snapshot read from the store
    on every RunTask, as before the cache) or ``moto``."""
    dockyard = name.startswith("dockyard")
    with tempfile.TemporaryDirectory(prefix="dockyard-fleet-") as tmp:
        database_url = None
        if dockyard and args.database_url:
            from tests.harness import new_postgres_database

            database_url = new_postgres_database(args.database_url)
        if dockyard:
            os.environ["DOCKYARD_PLACEMENT_CACHE"] = "off" if name == "dockyard-nocache" else "on"
            # python -m dockyard imports the package from the working directory first.
            source = args.baseline if name == "dockyard-baseline" else Path.cwd()
            runner = None
            if args.cpu_profile:
                args.cpu_profile.mkdir(parents=True, exist_ok=True)
                os.environ["DOCKYARD_CPU_SAMPLES"] = str(args.cpu_profile / f"{name}-{size}-cpu.txt")
                runner = "bench.cpu_sampler"
            with contextlib.chdir(source):
                server = start_dockyard(
                    Path(tmp) / "dockyard",
                    workers=args.dockyard_workers,
                    database_url=database_url,
                    runner=runner,
                )
            server.name = name
        else:
            server = start_moto(Path(tmp) / "moto")
        fleet = None
        try:
            clients = prepare(server)
            if dockyard:
                fleet = HollowFleet(server, size, Path(tmp), args.hollow_reports, args.hollow_concurrency)
                seconds = fleet.wait_connected()
                print(
                    f"# {name:16} {size:5} hollow agents registered and connected in {seconds:.1f} s",
                    flush=True,
                )
                idle = upkeep(
                    server,
                    args.upkeep_seconds,
                    args.profile / f"{name}-{size}-upkeep.txt" if args.profile else None,
                )
            else:
                seconds = register_all(clients, moto_ec2_instances(server, instances), args.register_threads)
                print(f"# {name:16} {size:5} instances registered in {seconds:.1f} s", flush=True)
            profile = args.profile if dockyard else None
            sampled = dockyard and args.cpu_profile is not None
            run = storm(server, clients, size, plan, fleet, args.verify, profile, sampled)
            if dockyard:
                run.upkeep_ms_per_second = idle
        finally:
            if fleet is not None:
                fleet.stop()
            server.stop()
            if database_url:
                from tests.harness import drop_postgres_database

                drop_postgres_database(database_url)
    print(
        f"# {name:16} {size:5} instances: {run.placed} tasks placed, {run.placements_per_second:,.0f} "
        f"placements/s; {run.result.summary()}; server CPU {run.cpu_ms_per_placement:.3f} ms/placement"
        + (
            f"; fleet upkeep {run.upkeep_ms_per_second:.0f} ms CPU/s before the storm; agents' CPU "
            f"{run.agents_cpu_seconds:.1f} s; {run.running} tasks RUNNING at the end"
            if dockyard
            else ""
        ),
        flush=True,
    )
    if run.books:
        print(f"#   books: {run.books}", flush=True)
    sampled = args.cpu_profile / f"{name}-{size}-cpu.txt" if args.cpu_profile else None
    if sampled is not None and sampled.exists():
        print(f"#   CPU time, {name}, {size} instances (share of samples; µs per placement):")
        for part, share in cpu_parts(sampled):
            print(f"#     {share:5.1f}%  {10 * share * run.cpu_ms_per_placement:6.1f}  {part}")
    raw = args.profile / f"{name}-{size}.txt" if args.profile else None
    if raw is not None and raw.exists():
        print(f"#   py-spy, {name}, {size} instances (inclusive share of samples):")
        for function, share in profile_summary(raw):
            print(f"#     {share:5.1f}%  {function}")
    return run


if __name__ == "__main__":
    main()
