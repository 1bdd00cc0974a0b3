"""Server processes for the benchmarks: start Dockyard and moto, read their CPU time.

CPU time is read from ``/proc/<pid>/stat`` (utime + stime, plus reaped children) summed over
the server's whole process tree, so it counts every uvicorn worker and every moto thread. On
a shared 2-core machine it is the least noisy figure: another process stealing the CPU makes
requests slower but does not make them cost more CPU.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
BENCH_KEY_ID = "AKIADOCKYARDBENCH"
BENCH_SECRET = "dockyard-bench-secret"
_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        # The command name may hold spaces and parentheses: split after the last ")".
        return stat.read().rsplit(")", 1)[1].split()


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents.setdefault(int(_stat_fields(int(entry))[1]), []).append(int(entry))
            except (OSError, IndexError):
                continue  # gone in the meantime
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = _stat_fields(current)
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat(5), counted after the ")".
        total += sum(int(value) for value in fields[11:15])
        todo.extend(parents.get(current, ()))
    return total / _TICKS


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
                "",
            )
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "load": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


@dataclass
class ServerProcess:
    """A server started by a benchmark; stopped (and its temp files kept) by ``stop``."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        return process_tree_cpu(self.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def wait_until_up(self, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start: {self.log_path.read_text()[-2000:]}")


def start_dockyard(
    data_dir: Path,
    *,
    workers: int = 1,
    database_url: str | None = None,
    extra_args: tuple[str, ...] = (),
    runner: str | None = None,
) -> ServerProcess:
    """``dockyard server`` on a free port with signature verification on and a known key;
    ``runner``, a module that runs another (``bench.cpu_sampler``), runs it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        sys.executable,
        "-m",
        *((runner,) if runner else ()),
        "dockyard",
        "server",
        "--host",
        HOST,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        *extra_args,
    ]
    if workers != 1:
        command += ["--workers", str(workers)]
    if database_url:
        command += ["--database-url", database_url]
    env = dict(
        os.environ, DOCKYARD_ADMIN_ACCESS_KEY_ID=BENCH_KEY_ID, DOCKYARD_ADMIN_SECRET_ACCESS_KEY=BENCH_SECRET
    )
    log_path = data_dir / "server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = ServerProcess("dockyard", port, process, log_path)
    server.wait_until_up(f"{server.endpoint}/_dockyard/health")
    return server


def start_moto(work_dir: Path) -> ServerProcess:
    """moto's standalone server (``moto_server``) on a free port."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    executable = Path(sys.executable).with_name("moto_server")
    found = str(executable) if executable.exists() else shutil.which("moto_server")
    command = [found, "-p", str(port)] if found else [sys.executable, "-m", "moto.server", "-p", str(port)]
    log_path = work_dir / "moto.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=work_dir)
    server = ServerProcess("moto", port, process, log_path)
    server.wait_until_up(f"{server.endpoint}/moto-api/data.json")
    return server


def ecs_client(server: ServerProcess, key_id: str = BENCH_KEY_ID, secret: str = BENCH_SECRET) -> Any:
    """A boto3 ECS client for ``server`` (moto accepts any key)."""
    import boto3
    import botocore.config

    return boto3.client(
        "ecs",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
