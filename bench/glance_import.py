"""Glance imports and task lists: import throughput and the control plane's memory while it
streams a large image; the cost of one ``GET /v2/tasks`` page as the task table grows.

1. A rootfs tarball of ``--size-mib`` (default 1024) is served by a loopback HTTP server; one
   import task reads it into the image store (embedded rclone). Reported: MB/s from task
   create to ``success`` and the server process's peak RSS growth over its RSS before the
   import (sampled every 50 ms from /proc; rclone, a separate process, is reported apart).
2. With ``--hosts N`` (e.g. 10): N ``dockyard agent`` processes with the docker driver (all on
   the one local Docker Engine), then a ``docker save`` archive of ``--host-image-mib`` (default
   100; one layer of incompressible bytes, removed from the engine first) is imported; reported:
   the time from the image turning active to the last host's answer (``hosts_seconds`` of the
   task's result), task create to ``success``, hosts loaded, and how many agents fetched the
   bytes (on one engine, an agent that starts after another finished finds the digest there).
3. Tasks are written straight into the store (1k, 10k, 100k for one account, others in other
   accounts) and one page (``limit=25``, first page and a page deep in the list after a
   marker) is timed: median of ``--repeat`` requests.

    .venv/bin/python -m bench.glance_import
    .venv/bin/python -m bench.glance_import --size-mib 256 --counts 1000,10000
    .venv/bin/python -m bench.glance_import --skip-import --counts '' --hosts 10
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import statistics
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from bench.servers import BENCH_KEY_ID, BENCH_SECRET, machine, process_tree_cpu, start_dockyard
from dockyard.store.db import sqlite_url

CHUNK = 4 * 1024 * 1024


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def make_rootfs(path: Path, size: int) -> None:
    """A tar of one file of ``size`` pseudo-random bytes (not compressible, not all zeros)."""
    block = os.urandom(CHUNK)

    class Stream:
        def __init__(self) -> None:
            self.left = size

        def read(self, n: int) -> bytes:
            n = min(n, self.left)
            self.left -= n
            return (block * (n // len(block) + 1))[:n]

    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("data/blob.bin")
        info.size = size
        archive.addfile(info, Stream())  # type: ignore[arg-type]


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *_: Any) -> None:
            pass

        def copyfile(self, source: Any, outputfile: Any) -> None:
            # sendfile, as a web server would: the benchmark's own CPU stays off the figure.
            self.connection.sendfile(source)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def call(endpoint: str, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(endpoint + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=600) as response:
        return response.headers, response.read()


def get_token(endpoint: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": BENCH_KEY_ID, "password": BENCH_SECRET}},
            }
        }
    }
    headers, _ = call(endpoint, "POST", "/identity/v3/auth/tokens", body=body)
    return str(headers["X-Subject-Token"])


def bench_import(endpoint: str, pid: int, token: str, url: str, size: int) -> dict[str, float]:
    before = _rss_kib(pid)
    peak, rclone_peak = before, 0
    task_input = {
        "import_from": url,
        "import_from_format": "docker",
        "image_properties": {"name": "bench:1", "container_format": "docker", "disk_format": "raw"},
    }
    cpu_before = process_tree_cpu(pid)
    rclone_before = {child: process_tree_cpu(child) for child in _children(pid)}  # may start later
    started = time.perf_counter()
    _, raw = call(endpoint, "POST", "/image/v2/tasks", token, {"type": "import", "input": task_input})
    task_id = json.loads(raw)["id"]
    last_poll = 0.0
    status = "pending"
    while status not in ("success", "failure"):
        time.sleep(0.05)
        peak = max(peak, _rss_kib(pid))
        rclone_peak = max([rclone_peak, *(_rss_kib(child) for child in _children(pid))])
        if time.perf_counter() - last_poll > 0.5:
            last_poll = time.perf_counter()
            status = json.loads(call(endpoint, "GET", f"/image/v2/tasks/{task_id}", token)[1])["status"]
    elapsed = time.perf_counter() - started
    cpu = process_tree_cpu(pid) - cpu_before  # the server and its rclone: where the time goes
    rclone_cpu = sum(process_tree_cpu(child) - rclone_before.get(child, 0.0) for child in _children(pid))
    task = json.loads(call(endpoint, "GET", f"/image/v2/tasks/{task_id}", token)[1])
    if status != "success":
        raise SystemExit(f"import failed: {task['message']}")
    return {
        "seconds": elapsed,
        "mb_per_s": size / 1e6 / elapsed,
        "rss_before_mib": before / 1024,
        "rss_growth_mib": (peak - before) / 1024,
        "rclone_peak_rss_mib": rclone_peak / 1024,
        "server_cpu_s": cpu - rclone_cpu,
        "rclone_cpu_s": rclone_cpu,
    }


def docker_archive(folder: Path, size: int, name: str) -> Path:
    """A ``docker save`` archive of one ``size``-byte layer, tagged ``name``, not left on the engine."""
    rootfs, archive = folder / "layer.tar", folder / "image.tar"
    make_rootfs(rootfs, size)
    subprocess.run(["docker", "import", str(rootfs), name], check=True, capture_output=True, timeout=600)
    rootfs.unlink()
    subprocess.run(["docker", "save", "-o", str(archive), name], check=True, capture_output=True, timeout=600)
    subprocess.run(["docker", "rmi", name], check=True, capture_output=True, timeout=600)
    return archive


def bench_hosts(server: Any, token: str, folder: Path, hosts: int, size: int) -> dict[str, Any]:
    """``hosts`` docker agents, then an import of a ``size``-byte docker archive they all load."""
    from bench.servers import ecs_client
    from bench.task_start_latency import _agent

    name = f"dockyard-bench/hostload:{uuid.uuid4().hex[:8]}"
    site_dir = folder / "hosts-site"
    site_dir.mkdir()
    archive = docker_archive(site_dir, size, name)
    ecs = ecs_client(server)
    ecs.create_cluster(clusterName="default")
    agents = [_agent(server.endpoint, folder / f"agent-{n}" / "state") for n in range(hosts)]
    try:
        deadline = time.monotonic() + 120
        while True:
            arns = ecs.list_container_instances()["containerInstanceArns"]
            described = (
                ecs.describe_container_instances(containerInstances=arns)["containerInstances"]
                if arns
                else []
            )
            if sum(i["agentConnected"] for i in described) >= hosts:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(described)} of {hosts} agents connected")
            time.sleep(0.2)
        site, base = serve(site_dir)
        try:
            task_input = {
                "import_from": f"{base}/{archive.name}",
                "import_from_format": "docker",
                "image_properties": {"name": name, "container_format": "docker", "disk_format": "raw"},
            }
            started = time.perf_counter()
            _, raw = call(
                server.endpoint, "POST", "/image/v2/tasks", token, {"type": "import", "input": task_input}
            )
            task_id = json.loads(raw)["id"]
            while True:
                task = json.loads(call(server.endpoint, "GET", f"/image/v2/tasks/{task_id}", token)[1])
                if task["status"] in ("success", "failure"):
                    break
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
        finally:
            site.shutdown()
        if task["status"] != "success":
            raise SystemExit(f"import failed: {task['message']}")
        result = task["result"]
        logs = [(folder / f"agent-{n}" / "agent.log").read_text(errors="replace") for n in range(hosts)]
        return {
            "hosts": hosts,
            "image_mib": round(size / 2**20),
            "hosts_seconds": result["hosts_seconds"],
            "task_seconds": round(elapsed, 1),
            "hosts_loaded": len(result["hosts_loaded"]),
            "hosts_failed": result["hosts_errors"],
            "agents_that_fetched": sum("loaded from the control plane" in log for log in logs),
        }
    finally:
        for agent in agents:
            agent.terminate()
        for agent in agents:
            agent.wait(timeout=60)
        subprocess.run(["docker", "rmi", "-f", name], capture_output=True, check=False, timeout=600)


def fill_tasks(store_url: str, account: str, count: int, start: float) -> str:
    """Write ``count`` ended tasks; the id of the one in the middle (a deep page's marker)."""
    from sqlalchemy import insert

    from dockyard.store.db import make_engine, transaction
    from dockyard.store.schema import glance_tasks

    engine = make_engine(store_url)
    middle = ""
    try:
        for offset in range(0, count, 5000):
            rows = [
                {
                    "id": str(uuid.uuid4()),
                    "account_id": account,
                    "type": "import",
                    "status": ("success", "failure")[n % 2],
                    "input": {"import_from": "http://example.com/x.tar"},
                    "result": None,
                    "message": "",
                    "user_id": "AKIABENCH",
                    "request_id": "req-bench",
                    "image_id": None,
                    "created_at": start + n,
                    "updated_at": start + n,
                    "expires_at": time.time() + 86400 * 365,
                }
                for n in range(offset, min(count, offset + 5000))
            ]
            if offset <= count // 2 < offset + len(rows):
                middle = str(rows[count // 2 - offset]["id"])
            with transaction(engine) as connection:
                connection.execute(insert(glance_tasks), rows)
    finally:
        engine.dispose()
    return middle


def time_page(endpoint: str, token: str, path: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call(endpoint, "GET", path, token)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--counts", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--hosts", type=int, default=0, help="docker agents that load an imported image")
    parser.add_argument("--host-image-mib", type=int, default=100)
    args = parser.parse_args()
    os.environ["DOCKYARD_IMAGE_IMPORT_ALLOWED_PORTS"] = ""  # the loopback site's random port
    print(json.dumps({"machine": machine(), "load": os.getloadavg()}))
    with tempfile.TemporaryDirectory(prefix="glance-bench-") as work:
        folder = Path(work)
        server = start_dockyard(folder / "data")
        try:
            token = get_token(server.endpoint)
            if not args.skip_import:
                size = args.size_mib * 1024 * 1024
                site_dir = folder / "site"
                site_dir.mkdir()
                make_rootfs(site_dir / "big.tar", size)
                size = (site_dir / "big.tar").stat().st_size
                site, base = serve(site_dir)
                try:
                    result = bench_import(server.endpoint, server.pid, token, f"{base}/big.tar", size)
                finally:
                    site.shutdown()
                (site_dir / "big.tar").unlink()
                print(json.dumps({"import_mib": args.size_mib} | {k: round(v, 1) for k, v in result.items()}))
            if args.hosts:
                figures = bench_hosts(server, token, folder, args.hosts, args.host_image_mib * 2**20)
                print(json.dumps(figures | {"load": os.getloadavg()}))
            store_url = sqlite_url(folder / "data")
            account = "123456789012"
            have = 0
            pages = {
                "first_page_ms": "/image/v2/tasks?limit=25",
                "deep_page_ms": "/image/v2/tasks?limit=25&marker={middle}",
                "status_filter_ms": "/image/v2/tasks?limit=25&status=failure",
                "status_sorted_ms": "/image/v2/tasks?limit=25&sort_key=status",
            }
            for count in [int(c) for c in args.counts.split(",") if c]:
                middle = fill_tasks(store_url, account, count - have, 1_000_000.0 + have)
                have = count
                figures: dict[str, Any] = {"tasks": count}
                for name, path in pages.items():
                    ms = time_page(server.endpoint, token, path.format(middle=middle), args.repeat)
                    figures[name] = round(ms, 2)
                print(json.dumps(figures))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
