"""A simulated fleet under a RunTask storm: Dockyard against moto, side by side in one run.

For each fleet size N (100, 1,000 and 5,000 by default) both servers start fresh and get the
same N container instances through RegisterContainerInstance: EC2 identity documents spread
round-robin over three zones and four instance types, with registered resources to match
(moto ignores those: its instances all have 4096 CPU units and 7482 MiB). Then several client
processes (``bench.loadgen``: requests pre-signed with botocore, replayed over keep-alive
connections) call RunTask as fast as the server answers, with the same body on both servers:
count=10, placementStrategy spread(attribute:ecs.availability-zone) then binpack(memory).
Dockyard runs the whole placement engine; moto does first-fit bookkeeping only (it ignores
strategies and constraints).

Why it is built this way:

- No agent runs. Dockyard derives ``agentConnected`` from the last sign of life within 30 s,
  and a re-registration (same identity document, as a restarting agent sends) is one. So
  right before the storm every instance is registered again, oldest first, and a keeper (a
  few threads) re-registers each one 25 s after its last registration from then on: one
  sign of life per instance per 25 s, the least any liveness scheme needs (an agent's
  WebSocket heartbeats write one every 5 to 10 s). A storm that ends within 25 s of the
  refresh sees no keeper traffic; what the keeper sent during the storm is printed (and is
  in Dockyard's server CPU). moto has no notion of a connected agent (and would register a
  second instance), so it gets neither.
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
- ``--verify`` then describes every instance and checks the books: nothing overcommitted,
  and the CPU and memory in use on the instances add up to exactly what the placed tasks hold.
- ``--profile DIR`` samples the Dockyard server with py-spy during each storm and prints the
  functions of ``dockyard/`` that the samples were in (inclusive), largest first.

    .venv/bin/python -m bench.fleet_simulator --sizes 100,1000,5000 --requests 2000 --verify
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import heapq
import json
import os
import shutil
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
AGENT_TIMEOUT_SECONDS = 30.0  # Dockyard's: an agent silent this long is disconnected
KEEP_SECONDS = 25.0  # re-register an instance this long after its last registration
KEEPER_THREADS = 4
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


class Keeper:
    """Keeps every instance's agent connected: re-registers it ``KEEP_SECONDS`` after its last
    registration (the oldest first), from a few threads, from its first registration on."""

    def __init__(self, clients: Clients, threads: int = KEEPER_THREADS) -> None:
        self.clients = clients
        self.due: list[tuple[float, int, SimulatedInstance]] = []  # heap of (registered at, index, ...)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.sent = 0
        self.late = 0  # re-registrations that came after the agent timeout: it was disconnected
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Keeper:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def registered(self, instance: SimulatedInstance, at: float) -> None:
        with self.lock:
            heapq.heappush(self.due, (at, instance.index, instance))

    def _run(self) -> None:
        while not self.stop.is_set():
            now = time.monotonic()
            with self.lock:
                ready = self.due and self.due[0][0] + KEEP_SECONDS <= now
                entry = heapq.heappop(self.due) if ready else None
            if entry is None:
                self.stop.wait(0.1)
                continue
            at, _, instance = entry
            instance.register(self.clients.get())
            with self.lock:
                self.sent += 1
                self.late += now - at > AGENT_TIMEOUT_SECONDS
            self.registered(instance, time.monotonic())


def prepare(server: ServerProcess, instances: list[SimulatedInstance], threads: int) -> tuple[Clients, float]:
    """The cluster, the task definition and every instance registered."""
    clients = Clients(server)
    ecs = clients.get()
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(**TASK_DEFINITION)
    return clients, register_all(clients, instances, threads)


def register_all(
    clients: Clients, instances: list[SimulatedInstance], threads: int, keeper: Keeper | None = None
) -> float:
    """Register (again) every instance, in order, from ``threads`` threads; the seconds it took."""
    started = time.monotonic()

    def one(instance: SimulatedInstance) -> None:
        instance.register(clients.get())
        if keeper:
            keeper.registered(instance, time.monotonic())

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, instances))
    return time.monotonic() - started


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
    keeper_sent: int = 0
    keeper_late: int = 0
    books: str = ""

    @property
    def placements_per_second(self) -> float:
        return self.result.rps * self.placed / max(1, self.result.completed)

    @property
    def cpu_ms_per_placement(self) -> float:
        return 1000 * self.cpu_seconds / max(1, self.placed)


def storm(
    server: ServerProcess,
    clients: Clients,
    size: int,
    plan: loadgen.LoadPlan,
    keeper: Keeper | None,
    check: bool,
    profile: Path | None,
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
    before = placed_tasks(ecs)
    sent_before, late_before = (keeper.sent, keeper.late) if keeper else (0, 0)
    spy = _start_py_spy(server, profile / f"{server.name}-{size}.txt") if profile else None
    cpu_before = server.cpu_seconds()
    result = loadgen.run(spec, plan)
    cpu = server.cpu_seconds() - cpu_before
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes what it sampled so far
        spy.wait(timeout=60)
    placed = placed_tasks(ecs) - before
    run = Storm(
        server.name,
        size,
        result,
        placed,
        cpu,
        (keeper.sent - sent_before) if keeper else 0,
        (keeper.late - late_before) if keeper else 0,
    )
    if check:
        run.books = verify(ecs, placed_tasks(ecs))
    return run


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
    parser.add_argument("--connections", type=int, default=4, help="connections per client process")
    parser.add_argument("--register-threads", type=int, default=8)
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
            with contextlib.chdir(source):
                server = start_dockyard(
                    Path(tmp) / "dockyard", workers=args.dockyard_workers, database_url=database_url
                )
            server.name = name
        else:
            server = start_moto(Path(tmp) / "moto")
        try:
            if not dockyard:
                instances = moto_ec2_instances(server, instances)
            clients, seconds = prepare(server, instances, args.register_threads)
            print(f"# {name:16} {size:5} instances registered in {seconds:.1f} s", flush=True)
            with contextlib.ExitStack() as stack:
                keeper = None
                if dockyard:
                    # Every agent freshly alive when the storm starts; the keeper keeps them so.
                    keeper = stack.enter_context(Keeper(clients))
                    seconds = register_all(clients, instances, args.register_threads, keeper)
                    print(f"# {name:16} {size:5} instances re-registered in {seconds:.1f} s", flush=True)
                profile = args.profile if dockyard else None
                run = storm(server, clients, size, plan, keeper, args.verify, profile)
        finally:
            server.stop()
            if database_url:
                from tests.harness import drop_postgres_database

                drop_postgres_database(database_url)
    print(
        f"# {name:16} {size:5} instances: {run.placed} tasks placed, {run.placements_per_second:,.0f} "
        f"placements/s; {run.result.summary()}; server CPU {run.cpu_ms_per_placement:.3f} ms/placement"
        + (f"; keeper re-registered {run.keeper_sent} ({run.keeper_late} late)" if dockyard else ""),
        flush=True,
    )
    if run.books:
        print(f"#   books: {run.books}", flush=True)
    raw = args.profile / f"{name}-{size}.txt" if args.profile else None
    if raw is not None and raw.exists():
        print(f"#   py-spy, {name}, {size} instances (inclusive share of samples):")
        for function, share in profile_summary(raw):
            print(f"#     {share:5.1f}%  {function}")
    return run


if __name__ == "__main__":
    main()
