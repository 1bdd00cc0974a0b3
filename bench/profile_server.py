"""Where a Dockyard server's CPU goes under load: py-spy samples, grouped by stage.

Starts ``dockyard server`` (fresh SQLite store, signature verification on), creates the state
``bench.api_throughput`` creates, drives one operation with ``bench.loadgen`` and samples the
server with py-spy (``pip install py-spy``; it needs ptrace rights over the server). Each
sample is put in the stage of the request path it was taken in, and the stages are printed
with their share.

    .venv/bin/python -m bench.profile_server --duration 15 [--raw /tmp/stacks.txt]
    .venv/bin/python -m bench.profile_server --in-process --operation ListTaskDefinitions
    .venv/bin/python -m bench.profile_server --cpu --operation ListClusters --duration 8

On a busy machine py-spy's server samples overstate the event loop and the socket writes: a
request waiting for a CPU is sampled where it waits. ``--cpu`` samples the server's CPU time
instead (``bench.cpu_sampler``: no such blur, HTTP included); ``--in-process`` has no blur
and no HTTP either; for the HTTP share see ``bench.http_floor``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.api_throughput import SCENARIOS, prepare
from bench.servers import BENCH_KEY_ID, BENCH_SECRET, ServerProcess, start_dockyard


def classify(frames: list[str]) -> str:
    """The stage of one stack (root first); the first rule that matches wins."""

    def has(*parts: str) -> bool:
        return any(all(part in frame for part in parts) for frame in frames)

    entry = next((i for i, frame in enumerate(frames) if "dockyard/protocol/endpoint.py" in frame), None)
    # Outside the endpoint, or inside it calling back into uvicorn (read body, write response).
    if entry is None or any("uvicorn/" in frame for frame in frames[entry:]):
        return "HTTP server and event loop (uvicorn, httptools, uvloop, socket I/O)"
    if has("verify_signature"):
        return "SigV4: signature recomputed with botocore"
    if has("authenticate") or has("screen ("):
        return "SigV4: header parse, clock, key cache"
    if has("dockyard/store/db.py"):
        return "transaction: pool checkout, BEGIN, COMMIT"
    if has("dockyard/ecs/"):
        if has("dockyard/store/direct.py"):
            return "SQL: execute + rows (prebuilt, on SQLite's driver: store/direct.py)"
        if has("sqlalchemy/sql/cache_key.py"):
            # Computed on execute, once per statement object: a cost of building it per call.
            return "SQL: cache key of a statement built for this call"
        if has("sqlalchemy/engine/"):
            return "SQL: execute + rows (SQLAlchemy engine, SQLite)"
        if has("sqlalchemy/"):
            return "SQL: statement construction in domain code"
        return "domain logic (dockyard/ecs)"
    if has("validate_params"):
        return "request validation"
    if has("parse_params"):
        return "JSON parse"
    if has("serialize_result") or has("serialize_error"):
        return "JSON serialize"
    return "request path glue (context, dispatch, response)"


def summarize(raw: str) -> list[tuple[str, int]]:
    """``(stage, samples)`` from py-spy's raw (collapsed stack) output, largest first."""
    stages: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stages[classify(stack.split(";"))] += int(count)
    return stages.most_common()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--operation", default="DescribeClusters")
    parser.add_argument("--body", help="default: the body bench.api_throughput sends")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--raw", help="also keep py-spy's collapsed stacks in this file")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="sample the server's CPU time (bench.cpu_sampler) instead of py-spy's wall clock: "
        "no blur from waiting for a core",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="profile bench.request_path instead: the request path without HTTP, "
        "sampled in blocking mode (exact stacks, no CPU contention blur)",
    )
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if args.in_process:
        _print(_in_process(py_spy, args))
        return
    with tempfile.TemporaryDirectory(prefix="dockyard-profile-") as tmp:
        out = Path(args.raw or Path(tmp) / "stacks.txt")
        os.environ["DOCKYARD_CPU_SAMPLES"] = str(out)
        server = start_dockyard(Path(tmp) / "data", runner="bench.cpu_sampler" if args.cpu else None)
        agents: list[subprocess.Popen[bytes]] = []
        try:
            fixture = prepare(server, Path(tmp), agents).fixture  # the state bench.api_throughput makes
            if args.cpu:
                summary, stages = _cpu_samples(server, fixture, args, out)
            else:
                summary, stages = _wall_samples(py_spy, server, fixture, args, out)
            print(f"# load: {summary}")
        finally:
            for agent in agents:
                agent.terminate()
                agent.wait(timeout=30)
            server.stop()
    _print(stages)


def _wall_samples(
    py_spy: str, server: ServerProcess, fixture: Any, args: argparse.Namespace, out: Path
) -> tuple[str, list[tuple[str, int]]]:
    """Drive the operation while py-spy samples the server (by the wall clock)."""
    command = [py_spy, "record", "--pid", str(server.pid), "--duration", str(int(args.duration))]
    command += ["--rate", str(args.rate), "--format", "raw", "--nonblocking", "--output", str(out)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    plan = loadgen.LoadPlan(
        workers=args.workers, connections=args.connections, duration=args.duration + 1, warmup=0.5
    )
    result = loadgen.run(_spec(server, fixture, args), plan)  # outlasts the sampling by a second
    _, errors = spy.communicate()
    if spy.returncode != 0:
        sys.exit(f"py-spy failed: {errors.decode(errors='replace')}")
    return result.summary(), summarize(out.read_text())


def _spec(server: ServerProcess, fixture: Any, args: argparse.Namespace) -> loadgen.RequestSpec:
    bodies = {scenario.operation: scenario.body for scenario in SCENARIOS}
    return loadgen.RequestSpec(
        port=server.port,
        target=f"{loadgen.ECS_TARGET_PREFIX}.{args.operation}",
        body=(args.body or json.dumps(bodies[args.operation](fixture))).encode(),
        access_key_id=BENCH_KEY_ID,
        secret_access_key=BENCH_SECRET,
    )


def _cpu_samples(
    server: ServerProcess, fixture: Any, args: argparse.Namespace, out: Path
) -> tuple[str, list[tuple[str, int]]]:
    """Drive the operation with the server's CPU sampler on for the measured part only."""
    spec = _spec(server, fixture, args)
    plan = loadgen.LoadPlan(
        workers=args.workers, connections=args.connections, duration=args.duration, warmup=0
    )
    loadgen.run(spec, loadgen.LoadPlan(workers=1, connections=1, duration=1.0, warmup=0))  # warm
    os.kill(server.pid, signal.SIGUSR2)  # on
    result = loadgen.run(spec, plan)
    os.kill(server.pid, signal.SIGUSR2)  # off: the stacks are written
    deadline = time.monotonic() + 30
    while not (out.exists() and out.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result.summary(), summarize(out.read_text())


def _in_process(py_spy: str, args: argparse.Namespace) -> list[tuple[str, int]]:
    with tempfile.TemporaryDirectory(prefix="dockyard-profile-") as tmp:
        out = Path(args.raw or Path(tmp) / "stacks.txt")
        command = [
            py_spy,
            "record",
            "--rate",
            str(args.rate),
            "--format",
            "raw",
            "--output",
            str(out),
            "--",
            sys.executable,
            "-m",
            "bench.request_path",
            "--operation",
            args.operation,
            "--requests",
            str(int(args.duration * 2000)),
        ]
        if args.body:
            command += ["--body", args.body]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"py-spy failed: {run.stderr}")
        print("".join(f"# {line}\n" for line in run.stdout.splitlines() if "us CPU" in line), end="")
        # Only the requests, not the set-up before them.
        kept = "\n".join(line for line in out.read_text().splitlines() if "AwsJsonEndpoint.__call__" in line)
        return summarize(kept)


def _print(stages: list[tuple[str, int]]) -> None:
    total = sum(count for _, count in stages) or 1
    print("| Stage | share of CPU samples |")
    print("|---|---:|")
    for stage, count in stages:
        print(f"| {stage} | {100 * count / total:.1f}% |")


if __name__ == "__main__":
    main()
