"""Figures for docs/reliability.md: the stall the heaviest valid requests cause another
account, memory under unauthenticated uploads, and the worst query-language match.

    .venv/bin/python -m bench.hardening [--instances 300] [--rounds 20]
    .venv/bin/python -m bench.hardening --only register [--rounds 20]   # 64 KiB registrations alone
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.servers import ServerProcess, ecs_client, machine, start_dockyard


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _other_account(data_dir: Path) -> tuple[str, str]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dockyard",
            "keys",
            "create",
            "--data-dir",
            str(data_dir),
            "--account-id",
            "210987654321",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    values = dict(line.split("=", 1) for line in done.stdout.splitlines() if line.startswith("AWS_"))
    return values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"]


def _setup(ecs: Any, instances: int) -> dict[str, Any]:
    for index in range(100):
        ecs.create_cluster(clusterName=f"c{index}", tags=[{"key": "k", "value": "v"}])
    ecs.create_cluster(clusterName="big")
    arns = []
    resources = [
        {"name": "CPU", "type": "INTEGER", "integerValue": 4096},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": 8192},
    ]
    for index in range(instances):
        arns.append(
            ecs.register_container_instance(
                cluster="big",
                totalResources=resources,
                instanceIdentityDocument=json.dumps({"instanceId": f"i-{index:017x}"}),
                attributes=[{"name": "evil", "value": "a" * 127 + "b"}],
            )["containerInstance"]["containerInstanceArn"]
        )
    environment = [{"name": f"V{index}", "value": "x" * 200} for index in range(250)]
    return {
        "arns": arns,
        "definition": {
            "family": "heavy",
            "containerDefinitions": [
                {"name": "a", "image": "busybox", "memory": 64, "environment": environment}
            ],
        },
    }


HEAVY = {
    "DescribeClusters x100 (all includes)": lambda ecs, s: ecs.describe_clusters(
        clusters=[f"c{i}" for i in range(100)], include=["SETTINGS", "STATISTICS", "TAGS", "CONFIGURATIONS"]
    ),
    "DescribeContainerInstances x100": lambda ecs, s: ecs.describe_container_instances(
        cluster="big", containerInstances=s["arns"][:100]
    ),
    "ListContainerInstances, hostile regex filter": lambda ecs, s: ecs.list_container_instances(
        cluster="big", filter="attribute:evil =~ '(a+)+'"
    ),
    "ListContainerInstances, hostile wildcard filter": lambda ecs, s: ecs.list_container_instances(
        cluster="big", filter="attribute:evil == '*a*a*a*a*a*a*a*a*a*a*c'"
    ),
    "RegisterTaskDefinition, 55 KB": lambda ecs, s: ecs.register_task_definition(**s["definition"]),
}


def _near_limit_definition() -> dict[str, Any]:
    """A task definition just under ECS's 64 KiB: the heaviest valid write."""
    environment = [{"name": f"V{index:03d}", "value": "x" * 200} for index in range(284)]
    container = {"name": "a", "image": "busybox", "memory": 64, "environment": environment}
    return {"family": "near-limit", "containerDefinitions": [container]}


def _other_account_p99(other: Any, load: Any, calls: int, loaders: int = 1) -> list[float]:
    """Another account's ListClusters latencies (ms, sorted) while ``load`` runs in a loop on
    ``loaders`` threads."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            load()

    workers = [threading.Thread(target=loop) for _ in range(loaders)]
    for worker in workers:
        worker.start()
    latencies = []
    try:
        for _ in range(calls):
            started = time.perf_counter()
            other.list_clusters()
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    return sorted(latencies)


def _summary(latencies: list[float]) -> str:
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return (
        f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms "
        f"({len(latencies)} calls)"
    )


def register_stall(server: ServerProcess, data_dir: Path, rounds: int) -> None:
    """RegisterTaskDefinition at 64 KiB on two threads, and another account's ListClusters."""
    admin = ecs_client(server)
    other = ecs_client(server, *_other_account(data_dir))
    definition = _near_limit_definition()
    took = []
    for _ in range(rounds):
        started = time.perf_counter()
        admin.register_task_definition(**definition)
        took.append((time.perf_counter() - started) * 1000)
    size = len(json.dumps(definition))
    median = statistics.median(took)
    print(f"\nRegisterTaskDefinition, {size:,} bytes: p50 {median:.1f} ms, max {max(took):.1f} ms")
    idle = _other_account_p99(other, lambda: None, rounds * 20, 0)
    print(f"another account's ListClusters, idle: {_summary(idle)}")
    latencies = _other_account_p99(
        other, lambda: admin.register_task_definition(**definition), rounds * 20, 2
    )
    print(f"another account's ListClusters while two clients register in a loop: {_summary(latencies)}")


def stall(server: ServerProcess, data_dir: Path, instances: int, rounds: int) -> None:
    admin = ecs_client(server)
    state = _setup(admin, instances)
    other = ecs_client(server, *_other_account(data_dir))
    print(f"| heaviest valid requests ({instances} instances in the cluster) | p50 ms | max ms |")
    print("| --- | --- | --- |")
    for name, call in HEAVY.items():
        took = []
        for _ in range(rounds):
            started = time.perf_counter()
            call(admin, state)
            took.append((time.perf_counter() - started) * 1000)
        print(f"| {name} | {statistics.median(took):.1f} | {max(took):.1f} |")

    def load() -> None:
        for call in HEAVY.values():
            call(admin, state)

    latencies = _other_account_p99(other, load, rounds * 20)
    print(f"\nanother account's ListClusters while they run in a loop: {_summary(latencies)}")


def uploads(server: ServerProcess, count: int) -> None:
    before = _rss_mb(server.pid)
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"X-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters\r\nContent-Length: 200000000\r\n\r\n"
    )
    started = time.perf_counter()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head + b"{" * 65536)
            sock.recv(4096)
    took = time.perf_counter() - started
    print(
        f"\n{count} unsigned uploads declaring 200 MB each: answered 403 in "
        f"{took * 1000 / count:.2f} ms each, server RSS {before:.0f} -> {_rss_mb(server.pid):.0f} MB"
    )


def query_language() -> None:
    from dockyard.placement.query_language import parse
    from tests.placement.builders import instance

    # Distinct values (each compiled test remembers its answers for the values it has seen).
    targets = [instance(attributes={"evil": "a" * (100 + i % 27) + "b" + str(i)}) for i in range(1000)]
    print("\n| hostile expression, 128-character value | µs per match |")
    print("| --- | --- |")
    for text in (
        "attribute:evil =~ '(a+)+'",
        "attribute:evil =~ '(a|a)*c'",
        "attribute:evil == '*a*a*a*a*a*a*a*a*a*a*a*a*a*c'",
        "attribute:evil in ['" + "*a" * 200 + "*c']",
    ):
        test = parse(text).test
        started = time.perf_counter()
        for target in targets:
            test(target)
        print(f"| `{text[:60]}` | {(time.perf_counter() - started) * 1000:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--only", choices=["register"], help="only this scenario")
    args = parser.parse_args()
    print(machine())
    if not args.only:
        query_language()
    with tempfile.TemporaryDirectory(prefix="dockyard-hardening-") as tmp:
        data_dir = Path(tmp)
        server = start_dockyard(data_dir)
        try:
            if args.only == "register":
                register_stall(server, data_dir, args.rounds)
            else:
                uploads(server, 200)
                stall(server, data_dir, args.instances, args.rounds)
                register_stall(server, data_dir, args.rounds)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
