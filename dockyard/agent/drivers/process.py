"""The ``process`` driver: a task's containers as host processes, for hosts with no engine.

Each container is one record, ``<state dir>/processes/<task id>/<container>.json``, with its
output in ``<container>.log`` and its exit code in ``<container>.exit`` beside it. The command
runs under a tiny detached shim (``process_shim.py``) in a session of its own; the shim
writes the exit code, so the agent never parents the process: one it started and one it
adopted after a restart are watched the same way, and both keep running when it stops.
A record's pid is trusted only together with the process start time read from /proc, so a
recycled pid is never mistaken for (or signalled as) the container. The record is the
driver's memory: creating a container whose record exists returns it instead of a second one.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dockyard.agent import labels as names
from dockyard.agent.drivers import (
    DriverError,
    DriverInfo,
    EventCallback,
    LogSink,
    NetworkBinding,
    Observed,
)
from dockyard.agent.drivers.process_health import HealthChecker, health_command
from dockyard.agent.drivers.process_logs import ProcessLogFollower
from dockyard.agent.spec import ContainerSpec, TaskSpec
from dockyard.agent.status import ContainerStatus, HealthStatus

log = logging.getLogger(__name__)

SHIM = str(Path(__file__).with_name("process_shim.py"))
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MONITOR_INTERVAL = 0.2
# What task definitions ask of the engine (labels, health checks, ordering, log drivers) is
# honoured as far as a host process can: labels are kept, health checks run on the host,
# output goes to the control plane. Limits and ulimits are not enforced.
CAPABILITIES = (
    *(f"com.amazonaws.ecs.capability.docker-remote-api.1.{n}" for n in range(17, 25)),
    "com.amazonaws.ecs.capability.logging-driver.json-file",
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "com.amazonaws.ecs.capability.logging-driver.none",
    "ecs.capability.container-ordering",
    "ecs.capability.container-health-check",
)


def process_start_ticks(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), or None if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return None if fields[0] in ("Z", "X") else int(fields[19])


def command_line(definition: dict[str, Any]) -> list[str]:
    """entryPoint + command; a single string with spaces runs through ``/bin/sh -c``."""
    argv = [str(part) for part in (definition.get("entryPoint") or [])]
    argv += [str(part) for part in (definition.get("command") or [])]
    if len(argv) == 1 and " " in argv[0].strip():
        return ["/bin/sh", "-c", argv[0]]
    return argv


class ProcessDriver:
    """Driver running containers as host processes; state lives under ``state_dir``."""

    def __init__(self, instance_id: str, state_dir: Path) -> None:
        self.instance_id = instance_id
        self.root = Path(state_dir) / "processes"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # Running containers by runtime id; pid and start time never change, so the monitor
        # checks these copies instead of reading every record file five times a second.
        self._watched: dict[str, dict[str, Any]] = {}
        self._health: dict[str, HealthChecker] = {}
        self._callback: EventCallback | None = None
        self._closed = threading.Event()
        self._warned_images: set[str] = set()
        for record in self._records():
            if record.get("pid") and record.get("exitCode") is None:
                self._track(record)

    # -- records -----------------------------------------------------------------------
    def _paths(self, runtime_id: str) -> tuple[Path, Path, Path]:
        task_id, _, container = runtime_id.partition("/")
        base = self.root / task_id / container
        return base.with_suffix(".json"), base.with_suffix(".log"), base.with_suffix(".exit")

    def _load(self, runtime_id: str) -> dict[str, Any] | None:
        try:
            loaded: dict[str, Any] = json.loads(self._paths(runtime_id)[0].read_text())
            return loaded
        except (OSError, ValueError):
            return None

    def _save(self, record: dict[str, Any]) -> None:
        path = self._paths(record["runtimeId"])[0]
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(record, indent=1))
        os.replace(temporary, path)

    def _records(self) -> list[dict[str, Any]]:
        found = []
        for path in sorted(self._record_paths()):
            record = self._load(f"{path.parent.name}/{path.stem}")
            if record and record.get("labels", {}).get(names.INSTANCE_ID) == self.instance_id:
                found.append(record)
        return found

    def _record_paths(self) -> list[Path]:
        """Every task directory's container records. A task's directory can be removed while
        we list (its cleanup races this walk), which ``Path.glob`` turns into an error."""
        paths: list[Path] = []
        for task_dir in self.root.iterdir():
            try:
                paths.extend(task_dir.glob("*.json"))
            except OSError:
                continue
        return paths

    def _alive(self, record: dict[str, Any]) -> bool:
        pid, ticks = record.get("pid"), record.get("pidStartTicks")
        if pid is None:
            return False
        if ticks is None:  # a record written before the shim reported its start time
            return (
                process_start_ticks(int(pid)) is not None and not self._paths(record["runtimeId"])[2].exists()
            )
        return process_start_ticks(int(pid)) == int(ticks)

    def _finalize(self, record: dict[str, Any]) -> dict[str, Any]:
        """Record the exit of a process that is gone (idempotent), and announce it: whoever
        notices first (the monitor, an inspect, a log follower) records it, so the
        announcement must come from here or the owner would wait for its next poll."""
        finalized = self._record_exit(record)
        if finalized is not None:
            self._notify(finalized["taskArn"])
            return finalized
        return self._load(record["runtimeId"]) or record

    def _record_exit(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The record with the exit written, or None if it was already (or is no more)."""
        with self._lock:
            fresh = self._load(record["runtimeId"])
            if fresh is None:  # removed meanwhile: writing it again would bring it back
                self._watched.pop(record["runtimeId"], None)
                return None
            if fresh.get("exitCode") is not None or fresh.get("finishedAt"):
                return None
            exit_path = self._paths(fresh["runtimeId"])[2]
            try:
                fresh["exitCode"] = int(exit_path.read_text().strip())
            except (OSError, ValueError):  # the shim itself was killed
                signalled = fresh.get("signalled")
                fresh["exitCode"] = 128 + int(signalled) if signalled else None
                if not signalled:
                    fresh["reason"] = "the process ended without recording its exit code"
            fresh["finishedAt"] = time.time()
            self._save(fresh)
            self._watched.pop(fresh["runtimeId"], None)
            checker = self._health.pop(fresh["runtimeId"], None)
            if checker is not None:
                checker.stop()
            return fresh

    def _observe(self, record: dict[str, Any]) -> Observed:
        if record.get("pid") and not record.get("finishedAt") and not self._alive(record):
            record = self._finalize(record)
        if not record.get("pid"):
            status = ContainerStatus.CREATED
        elif record.get("finishedAt"):
            status = ContainerStatus.STOPPED
        else:
            status = ContainerStatus.RUNNING
        checker = self._health.get(record["runtimeId"])
        return Observed(
            runtime_id=record["runtimeId"],
            task_arn=record["taskArn"],
            container_name=record["containerName"],
            status=status,
            labels=dict(record.get("labels") or {}),
            exit_code=record.get("exitCode") if status is ContainerStatus.STOPPED else None,
            reason=record.get("reason", ""),
            health=checker.status if checker else HealthStatus.UNKNOWN,
            network_bindings=tuple(NetworkBinding(**b) for b in record.get("bindings") or ()),
            started_at=record.get("startedAt"),
            finished_at=record.get("finishedAt"),
        )

    # -- the driver calls ----------------------------------------------------------------
    def info(self) -> DriverInfo:
        return DriverInfo("process", "process", CAPABILITIES)

    def list_containers(self) -> list[Observed]:
        return [self._observe(record) for record in self._records()]

    def inspect(self, runtime_id: str) -> Observed | None:
        record = self._load(runtime_id)
        return self._observe(record) if record else None

    def pull(self, task: TaskSpec, container: ContainerSpec) -> None:
        if container.image and container.image not in self._warned_images:
            self._warned_images.add(container.image)
            log.info("process driver: image %s is not used; the command runs on the host", container.image)

    def create(self, task: TaskSpec, container: ContainerSpec, labels: dict[str, str]) -> Observed:
        runtime_id = f"{task.task_id}/{container.name}"
        with self._lock:
            existing = self._load(runtime_id)
            if existing is not None:
                return self._observe(existing)
            definition = dict(container.definition)
            argv = command_line(definition)
            if not argv:
                raise DriverError(
                    "CannotCreateContainerError: the process driver needs a command or entryPoint"
                )
            (self.root / task.task_id).mkdir(parents=True, exist_ok=True)
            environment = {
                "PATH": os.environ.get("PATH", DEFAULT_PATH),
                "HOME": str(self.root / task.task_id),
            }
            environment.update(
                {
                    str(item["name"]): str(item.get("value", ""))
                    for item in definition.get("environment") or ()
                }
            )
            bindings = [
                {
                    "container_port": int(m["containerPort"]),
                    "host_port": int(m.get("hostPort") or m["containerPort"]),
                    "protocol": str(m.get("protocol") or "tcp"),
                }
                for m in definition.get("portMappings") or ()
                if m.get("containerPort")
            ]
            record = {
                "runtimeId": runtime_id,
                "taskArn": task.arn,
                "containerName": container.name,
                "labels": labels,
                "argv": argv,
                "environment": environment,
                "cwd": str(definition.get("workingDirectory") or self.root / task.task_id),
                "user": definition.get("user"),
                "bindings": bindings,
                "healthCheck": definition.get("healthCheck"),
                "createdAt": time.time(),
                "pid": None,
                "pidStartTicks": None,
                "exitCode": None,
                "reason": "",
            }
            self._save(record)
            return self._observe(record)

    def start(self, runtime_id: str) -> Observed:
        with self._lock:
            record = self._load(runtime_id)
            if record is None:
                raise DriverError("CannotStartContainerError: no such container")
            if record.get("pid"):
                return self._observe(record)
            _, log_path, exit_path = self._paths(runtime_id)
            exit_path.unlink(missing_ok=True)
            argv, environment = record["argv"], record["environment"]
            if shutil.which(argv[0], path=environment.get("PATH")) is None:
                raise DriverError(f"CannotStartContainerError: {argv[0]}: executable file not found in $PATH")
            if not Path(record["cwd"]).is_dir():
                raise DriverError(
                    f"CannotStartContainerError: working directory {record['cwd']} does not exist"
                )
            user, _, group = str(record.get("user") or "").partition(":")
            identity: dict[str, Any] = {}
            if user and os.geteuid() == 0:
                identity = {"user": int(user) if user.isdigit() else user, "extra_groups": []}
                if group:
                    identity["group"] = int(group) if group.isdigit() else group
            elif user:
                log.warning("process driver: user %s ignored (the agent is not root)", user)
            try:
                pid, ticks = self._launch(argv, record, log_path, exit_path, identity)
            except (OSError, ValueError, KeyError) as error:
                raise DriverError(f"CannotStartContainerError: {error}") from error
            record.update(pid=pid, pidStartTicks=ticks, startedAt=time.time())
            self._save(record)
            self._track(record)
            return self._observe(record)

    @staticmethod
    def _launch(
        argv: list[str], record: dict[str, Any], log_path: Path, exit_path: Path, identity: dict[str, Any]
    ) -> tuple[int, int]:
        """Start the detached shim; returns its pid and start time (as the shim read them)
        once its signal handlers are in place."""
        log_path.touch()
        with log_path.open("ab") as errors:
            launcher = subprocess.Popen(
                [sys.executable, "-S", SHIM, str(exit_path), str(log_path), "--", *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                cwd=record["cwd"],
                env=record["environment"],
                **identity,
            )
            assert launcher.stdout is not None
            line = launcher.stdout.readline()
            launcher.stdout.close()
            launcher.wait()
        words = line.split()
        if len(words) != 2 or not all(word.isdigit() for word in words):
            raise OSError(f"the process shim did not start (see {log_path})")
        return int(words[0]), int(words[1])

    def stop(self, runtime_id: str, timeout: float) -> Observed | None:
        record = self._load(runtime_id)
        if record is None:
            return None
        if not record.get("pid") or record.get("finishedAt"):
            return self._observe(record)
        self._mark_signalled(runtime_id, signal.SIGTERM)
        self._signal(record, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self._alive(record) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._alive(record):
            self._mark_signalled(runtime_id, signal.SIGKILL)
            self._signal(record, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while self._alive(record) and time.monotonic() < deadline:
                time.sleep(0.05)
        return self._observe(self._finalize(record))

    def _mark_signalled(self, runtime_id: str, number: int) -> None:
        """Remember the signal sent: if it kills the shim too, it explains the exit code."""
        with self._lock:
            record = self._load(runtime_id)
            if record is not None:
                record["signalled"] = int(number)
                self._save(record)

    def _signal(self, record: dict[str, Any], number: int) -> None:
        if self._alive(record):  # never signal a pid that no longer is this container's
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(record["pid"], number)

    def remove(self, runtime_id: str) -> None:
        record = self._load(runtime_id)
        if record and record.get("pid") and not record.get("finishedAt"):
            self._mark_signalled(runtime_id, signal.SIGKILL)
            self._signal(record, signal.SIGKILL)
            self._finalize(record)
        with self._lock:
            for path in self._paths(runtime_id):
                path.unlink(missing_ok=True)
            self._watched.pop(runtime_id, None)

    def cleanup_task(self, task_arn: str) -> None:
        task_dir = self.root / task_arn.rsplit("/", 1)[-1]
        if task_dir.is_dir() and not any(task_dir.glob("*.json")):
            shutil.rmtree(task_dir, ignore_errors=True)

    def follow_logs(self, runtime_id: str, since: float | None, sink: LogSink) -> ProcessLogFollower:
        def ended() -> bool:
            observed = self.inspect(runtime_id)
            return observed is None or observed.status is ContainerStatus.STOPPED

        follower = ProcessLogFollower(self._paths(runtime_id)[1], since, sink, ended)
        follower.start()
        return follower

    # -- watching --------------------------------------------------------------------------
    def _track(self, record: dict[str, Any]) -> None:
        self._watched[record["runtimeId"]] = record
        command = health_command(record.get("healthCheck"))
        if command and record["runtimeId"] not in self._health:
            checker = HealthChecker(
                command,
                record.get("healthCheck") or {},
                cwd=record["cwd"],
                env=record["environment"],
                on_change=functools.partial(self._notify, record["taskArn"]),
            )
            self._health[record["runtimeId"]] = checker
            checker.start()

    def _notify(self, task_arn: str) -> None:
        try:
            if self._callback is not None:
                self._callback(task_arn)
        except Exception:  # the receiver is gone (its loop closed); keep watching
            log.debug("event receiver failed", exc_info=True)

    def watch(self, callback: EventCallback) -> None:
        started = self._callback is not None
        self._callback = callback  # a later call only swaps the receiver
        if not started:
            threading.Thread(target=self._monitor, name="process-monitor", daemon=True).start()

    def _monitor(self) -> None:
        while not self._closed.wait(MONITOR_INTERVAL):
            for record in list(self._watched.values()):
                if not self._alive(record):
                    self._finalize(record)

    def close(self) -> None:
        self._closed.set()
        for checker in list(self._health.values()):
            checker.stop()
