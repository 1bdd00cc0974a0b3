"""The floor under every API request: uvicorn alone, then uvicorn plus the SigV4 check.

Serves a minimal ASGI application with the server settings ``dockyard server`` uses
(uvicorn, httptools, uvloop, one process) and drives it with ``bench.loadgen`` exactly as
``bench.api_throughput`` drives Dockyard. ``plain`` answers a fixed AWS JSON body;
``sigv4`` first verifies the request with ``dockyard.identity.sigv4`` (botocore's signer)
against a fixed key. The difference between these floors and a Dockyard operation is what
the request path and the domain add. ``dockyard`` serves the ``plain`` application on the
connection protocol ``dockyard server`` uses (``protocol/connections.py``: deadlines, caps,
one write per small response), so its difference from ``plain`` is that protocol's cost.

    .venv/bin/python -m bench.http_floor --duration 10 [--modes plain,dockyard,sigv4]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.servers import BENCH_KEY_ID, BENCH_SECRET, ServerProcess, free_port, machine

_BODY = b'{"clusters":[],"failures":[]}'
_HEADERS = [(b"content-type", b"application/x-amz-json-1.1"), (b"content-length", str(len(_BODY)).encode())]
_MODE = os.environ.get("DOCKYARD_FLOOR_MODE", "plain")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The whole application: read the body, maybe verify SigV4, answer 200 or 403."""
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    status = 200
    if scope["method"] == "POST" and _MODE == "sigv4":
        from dockyard.errors import ApiError
        from dockyard.identity import sigv4

        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            signed = sigv4.parse_authorization(headers)
            sigv4.check_clock(signed, time.time())
            sigv4.verify_signature(
                signed,
                BENCH_SECRET,
                method="POST",
                path=scope["path"],
                query=scope["query_string"].decode("latin-1"),
                headers=headers,
                body=body,
            )
        except ApiError:
            status = 403
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})


def serve(port: int) -> None:
    """The ``dockyard`` floor: the plain application on Dockyard's connection protocol."""
    import uvicorn

    from dockyard.protocol import connections

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level="warning",
        **connections.uvicorn_settings(connections.ConnectionLimits()),
    )


def start(mode: str, work_dir: Path) -> ServerProcess:
    port = free_port()
    log_path = work_dir / f"floor-{mode}.log"
    env = dict(os.environ, DOCKYARD_FLOOR_MODE="plain" if mode == "dockyard" else mode)
    command = [sys.executable, "-m", "bench.http_floor", "--serve", str(port)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command
            if mode == "dockyard"
            else [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.http_floor:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--http",
                "httptools",
                "--loop",
                "uvloop",
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = ServerProcess(f"uvicorn + {mode}", port, process, log_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{server.endpoint}/", timeout=1):
                return server
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"floor server did not start: {log_path.read_text()}") from None
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--connections", type=int, default=4, help="connections per worker")
    parser.add_argument("--modes", default="plain,dockyard,sigv4", help="floors to measure, in order")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the dockyard floor's process
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return
    plan = loadgen.LoadPlan(
        workers=args.workers, connections=args.connections, duration=args.duration, warmup=args.warmup
    )
    info = machine()
    print(f"# {info['date']}, {info['cpus']} CPUs ({info['cpu']}), load average {info['load']}")
    print("| Server | req/s | p50 ms | p99 ms | server CPU ms/req |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="dockyard-floor-") as tmp:
        for mode in args.modes.split(","):
            server = start(mode, Path(tmp))
            try:
                spec = loadgen.RequestSpec(
                    port=server.port,
                    target=f"{loadgen.ECS_TARGET_PREFIX}.DescribeClusters",
                    body=b'{"clusters": ["bench-0"]}',
                    access_key_id=BENCH_KEY_ID,
                    secret_access_key=BENCH_SECRET,
                )
                runs = []
                for _ in range(args.repeat):
                    before = server.cpu_seconds()
                    result = loadgen.run(spec, plan)
                    cpu = 1000 * (server.cpu_seconds() - before) / max(1, result.completed)
                    if result.errors:
                        raise SystemExit(f"{server.name}: {result.summary()}")
                    runs.append((result, cpu))
                result, _ = sorted(runs, key=lambda run: run[0].rps)[len(runs) // 2]
                cpu = sorted(cpu for _, cpu in runs)[len(runs) // 2]
                print(
                    f"| {server.name} | {result.rps:,.0f} | {result.p50_ms:.2f} | "
                    f"{result.p99_ms:.2f} | {cpu:.3f} |",
                    flush=True,
                )
            finally:
                server.stop()
    print(f"# load average at the end: {machine()['load']}")


if __name__ == "__main__":
    main()
