"""The request path in-process, without HTTP: microseconds per request and a profile.

Builds the real ASGI application on a fresh SQLite store, signs a pool of requests with
botocore, and calls the application directly with an ASGI scope, so what is measured is
Dockyard's own work (routing, SigV4, parsing, validation, the transaction, the domain
method, serialization) and nothing of uvicorn or the network.

    .venv/bin/python -m bench.request_path --operation DescribeClusters --rounds 5 [--profile]
    .venv/bin/python -m bench.request_path --operation reads --requests 5000 --rounds 5   # every read
    .venv/bin/python -m bench.request_path --operation reads --no-read-cache   # each read afresh

``--fleet N`` also registers N container instances (as RegisterContainerInstance requests, with
the signs of life their agents' connections would write), and makes RunTask's default body the
fleet simulator's (count=10, spread by zone then binpack memory):

    .venv/bin/python -m bench.request_path --fleet 5000 --operation RunTask --requests 2000 --profile
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import read_state
from bench.api_throughput import SCENARIOS
from bench.loadgen import ECS_TARGET_PREFIX, RequestSpec, sign_pool
from bench.servers import BENCH_KEY_ID, BENCH_SECRET


def _fleet_setup(size: int) -> list[bytes]:
    """The fleet simulator's cluster, task definition and ``size`` instances, as requests."""
    from bench import fleet_simulator as sim

    setup = [
        _signed("CreateCluster", {"clusterName": sim.CLUSTER}),
        _signed("RegisterTaskDefinition", sim.TASK_DEFINITION),
    ]
    setup += [_signed("RegisterContainerInstance", member.registration()) for member in sim.fleet(size)]
    return setup


def _agents_connected(engine: Any) -> None:
    """What the agent channel writes for connected agents (registration is no sign of life and
    no socket reaches an in-process app), for the whole run: every instance takes tasks."""
    from sqlalchemy import update

    from dockyard.store.db import transaction
    from dockyard.store.schema import container_instances

    with transaction(engine) as connection:
        connection.execute(update(container_instances).values(last_seen_at=time.time() + 3600))


def _signed(operation: str, body: dict[str, Any]) -> bytes:
    spec = RequestSpec(
        5566, f"{ECS_TARGET_PREFIX}.{operation}", json.dumps(body).encode(), BENCH_KEY_ID, BENCH_SECRET
    )
    return sign_pool(spec, 1)[0]


def _scope_and_body(raw: bytes) -> tuple[dict[str, Any], bytes]:
    """The ASGI scope uvicorn would build for one of the load generator's raw requests."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = [
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(b":") for line in lines[1:])
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 5566),
    }
    return scope, body


def _in_process_call(app: Any, loop: asyncio.AbstractEventLoop) -> read_state.Call:
    """``call(operation, body)`` on the application itself: the response, or an error raised."""

    def call(operation: str, body: dict[str, Any]) -> dict[str, Any]:
        replies: list[bytes] = []
        if loop.run_until_complete(_drive(app, [_scope_and_body(_signed(operation, body))], 1, replies)):
            raise RuntimeError(f"{operation} failed: {replies[-1].decode(errors='replace')}")
        return dict(json.loads(replies[-1]))

    return call


async def _drive(
    app: Any, requests: list[tuple[dict[str, Any], bytes]], count: int, replies: list[bytes] | None = None
) -> int:
    failures = 0
    status = 0

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif replies is not None:
            replies.append(message["body"])

    for index in range(count):
        scope, body = requests[index % len(requests)]

        async def receive(body: bytes = body) -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, receive, send)
        failures += status != 200
    return failures


def _body_for(args: argparse.Namespace, operation: str, bodies: dict[str, Any], fixture: Any) -> str:
    if args.body:
        return str(args.body)
    if args.fleet and operation == "RunTask":
        from bench import fleet_simulator

        return json.dumps(fleet_simulator.RUN_TASK)
    return json.dumps(bodies[operation](fixture) if operation in bodies else {})


def _measure(
    app: Any, loop: asyncio.AbstractEventLoop, args: argparse.Namespace, operation: str, body: str
) -> None:
    """Drive ``operation`` ``args.rounds`` times and print the cheapest round (and a profile)."""
    pool = sign_pool(
        RequestSpec(5566, f"{ECS_TARGET_PREFIX}.{operation}", body.encode(), BENCH_KEY_ID, BENCH_SECRET), 32
    )
    requests = [_scope_and_body(raw) for raw in pool]
    loop.run_until_complete(_drive(app, requests, 500))  # warm caches
    # CPU time, not wall time: on a shared machine a wait for a core is not our cost.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    best_cpu = best_wall = float("inf")
    failures = 0
    for _ in range(args.rounds):
        started = time.perf_counter()
        cpu = time.process_time()
        if profiler:
            profiler.enable()
        failures += loop.run_until_complete(_drive(app, requests, args.requests))
        if profiler:
            profiler.disable()
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - started)
    print(
        f"{args.requests} x {operation}: {1e6 * best_wall / args.requests:.1f} "
        f"us/request wall, {1e6 * best_cpu / args.requests:.1f} us CPU "
        f"(best of {args.rounds}), failures {failures}",
        flush=True,
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        if os.environ.get("PROFILE_DUMP"):
            profiler.dump_stats(os.environ["PROFILE_DUMP"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument(
        "--operation", default="DescribeClusters", help="an action, a comma list, or 'reads' for every read"
    )
    parser.add_argument("--body", help="default: the body bench.api_throughput sends")
    parser.add_argument("--rounds", type=int, default=1, help="report the cheapest of N runs")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the run")
    parser.add_argument("--fleet", type=int, default=0, help="container instances to register first")
    parser.add_argument(
        "--no-read-cache",
        action="store_true",
        help="every read answered afresh, as the first after a write is (protocol.read_cache off)",
    )
    args = parser.parse_args(argv)
    if args.no_read_cache:
        from dockyard.protocol import read_cache

        read_cache.MAX_NAMED = -1  # no request names fewer than 0 items: none is kept
    bodies = {scenario.operation: scenario.body for scenario in SCENARIOS}

    os.environ["DOCKYARD_ADMIN_ACCESS_KEY_ID"] = BENCH_KEY_ID
    os.environ["DOCKYARD_ADMIN_SECRET_ACCESS_KEY"] = BENCH_SECRET
    from dockyard.app import build_app, build_server_state
    from dockyard.cli import bootstrap_admin_key, open_store
    from dockyard.identity.sealing import load_sealer

    with tempfile.TemporaryDirectory(prefix="dockyard-path-") as tmp:
        engine = open_store(str(Path(tmp)), None)
        sealer = load_sealer(tmp)
        bootstrap_admin_key(engine, sealer)
        app = build_app(build_server_state(engine, public_url="http://127.0.0.1:5566", sealer=sealer))
        loop = asyncio.new_event_loop()
        call = _in_process_call(app, loop)

        def register() -> None:  # no agent reaches an in-process app: its signs of life written
            for index in range(read_state.INSTANCES):
                call("RegisterContainerInstance", read_state.registration(index, f"i-{index:017x}"))
            _agents_connected(engine)

        # The state bench.api_throughput prepares (tasks stay PENDING: no agent reports them).
        fixture = read_state.prepare(call, register, running=False)
        operations = read_state.READ_OPERATIONS if args.operation == "reads" else args.operation.split(",")
        if args.fleet:
            setup = _fleet_setup(args.fleet)
            if loop.run_until_complete(_drive(app, [_scope_and_body(raw) for raw in setup], len(setup))):
                raise SystemExit("setting up the fleet failed")
            _agents_connected(engine)
        for operation in operations:
            _measure(app, loop, args, operation, _body_for(args, operation, bodies, fixture))
        engine.dispose()


if __name__ == "__main__":
    main()
