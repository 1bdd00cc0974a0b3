"""The ``docker`` driver: containers on a Docker Engine, through the Docker SDK.

It creates containers with deterministic names (a second create of the same task container
hits Docker's name conflict and returns the existing one), labels them with their task and
this agent's instance id, follows their output, and watches the engine's event stream so a
container that exits is noticed at once rather than at the next poll.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from datetime import datetime
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.utils import parse_repository_tag

from dockyard.agent import labels as names
from dockyard.agent.drivers import (
    OOM_REASON,
    DriverError,
    DriverInfo,
    EventCallback,
    LogSink,
    NetworkBinding,
    Observed,
)
from dockyard.agent.drivers.docker_config import VolumeRequest, docker_create
from dockyard.agent.images import ImageFetchError, ImageSource
from dockyard.agent.spec import ContainerSpec, TaskSpec
from dockyard.agent.status import ContainerStatus, HealthStatus

log = logging.getLogger(__name__)

STATUSES = {
    "created": ContainerStatus.CREATED,
    "running": ContainerStatus.RUNNING,
    "paused": ContainerStatus.RUNNING,
    "restarting": ContainerStatus.RUNNING,
    "removing": ContainerStatus.STOPPED,
    "exited": ContainerStatus.STOPPED,
    "dead": ContainerStatus.STOPPED,
}
HEALTH = {"healthy": HealthStatus.HEALTHY, "unhealthy": HealthStatus.UNHEALTHY}
NEVER = "0001-01-01T00:00:00Z"
MIN_REMOTE_API = (1, 17)
RECENT_LINES = 10000  # lines remembered to skip when a read starts again a second back
CAPABILITIES = (
    "com.amazonaws.ecs.capability.privileged-container",
    "com.amazonaws.ecs.capability.logging-driver.json-file",
    "com.amazonaws.ecs.capability.logging-driver.none",
    # awslogs output goes to the control plane's logs instead, and awsvpc tasks run in
    # bridge mode (both with a warning), so task definitions written for ECS run unchanged.
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "ecs.capability.task-eni",
    "ecs.capability.container-health-check",
    "ecs.capability.container-ordering",
    "ecs.capability.docker-plugin.local",
    "ecs.capability.task-cpu-mem-limit",
    "ecs.capability.pid-ipc-namespace-sharing",
)


def explain(error: Exception) -> str:
    """The engine's own words for a failed call, without the SDK's HTTP preamble."""
    if isinstance(error, APIError) and error.explanation:
        return str(error.explanation)
    return str(error)


def parse_time(text: str | None) -> float | None:
    """Docker's RFC 3339 time with nanoseconds, as epoch seconds (None for 'never')."""
    if not text or text.startswith("0001-"):
        return None
    head, _, fraction = text.rstrip("Z").partition(".")
    fraction = fraction.split("+")[0].split("-")[0]
    stamp = datetime.fromisoformat(head + "+00:00").timestamp()
    return stamp + (float("0." + fraction) if fraction.isdigit() else 0.0)


def network_bindings(data: dict[str, Any]) -> tuple[NetworkBinding, ...]:
    """The host ports the container actually got (IPv4 preferred; one binding per port)."""
    found: dict[tuple[int, str], NetworkBinding] = {}
    if data.get("HostConfig", {}).get("NetworkMode") == "host":
        for key in data.get("Config", {}).get("ExposedPorts") or {}:
            port, _, protocol = key.partition("/")
            found[(int(port), protocol)] = NetworkBinding(int(port), int(port), protocol or "tcp")
        return tuple(found.values())
    for key, targets in (data.get("NetworkSettings", {}).get("Ports") or {}).items():
        port, _, protocol = key.partition("/")
        for target in targets or ():
            binding = NetworkBinding(
                int(port), int(target["HostPort"]), protocol or "tcp", target.get("HostIp") or "0.0.0.0"
            )
            current = found.get((binding.container_port, binding.protocol))
            if current is None or (":" in current.bind_ip and ":" not in binding.bind_ip):
                found[(binding.container_port, binding.protocol)] = binding
    return tuple(found.values())


# Docker marks a container OOM-killed when it handles containerd's OOM event, which can come
# after the exit event (each container's events are applied in the order containerd sends them):
# a container seen killed (137) without the mark within this long of its exit is looked at again.
OOM_FLAG_GRACE = 1.0
KILLED_EXIT_CODE = 137


def oom_flag_wait(observed: Observed, now: float) -> float:
    """How long to wait before inspecting ``observed`` again for a late OOM mark (0: don't)."""
    if (
        observed.status is not ContainerStatus.STOPPED
        or observed.exit_code != KILLED_EXIT_CODE
        or observed.reason
        or observed.finished_at is None
    ):
        return 0.0
    return min(OOM_FLAG_GRACE, max(0.0, observed.finished_at + OOM_FLAG_GRACE - now))


def observe(data: dict[str, Any]) -> Observed:
    """One ``inspect_container`` answer as an Observed snapshot."""
    state = data.get("State", {})
    labels = data.get("Config", {}).get("Labels") or {}
    status = STATUSES.get(state.get("Status", ""), ContainerStatus.STOPPED)
    reason = ""
    if state.get("OOMKilled"):
        reason = OOM_REASON
    elif state.get("Error"):
        reason = str(state["Error"])
    return Observed(
        runtime_id=data["Id"],
        task_arn=labels.get(names.TASK_ARN, ""),
        container_name=labels.get(names.CONTAINER_NAME, ""),
        status=status,
        labels=dict(labels),
        exit_code=int(state.get("ExitCode", 0)) if status is ContainerStatus.STOPPED else None,
        reason=reason,
        health=HEALTH.get((state.get("Health") or {}).get("Status", ""), HealthStatus.UNKNOWN),
        network_bindings=network_bindings(data),
        started_at=parse_time(state.get("StartedAt")),
        finished_at=parse_time(state.get("FinishedAt")),
    )


def remote_api_capabilities(api_version: str) -> list[str]:
    """``docker-remote-api.1.N`` attributes for every API version the engine speaks."""
    major, _, minor = api_version.partition(".")
    top = int(minor) if major == "1" and minor.isdigit() else MIN_REMOTE_API[1]
    return [
        f"com.amazonaws.ecs.capability.docker-remote-api.1.{n}" for n in range(MIN_REMOTE_API[1], top + 1)
    ]


class DockerLogFollower(threading.Thread):
    """Streams one container's output into a sink until the container stops or we do.

    The engine may end a ``follow`` stream a moment before the last entry of a container is
    in (a line without a newline is flushed as the output closes), so once the container is
    no longer running one more read, without ``follow``, picks up whatever came after the last
    line seen (lines are told apart by their nanosecond timestamps, so none goes up twice).
    A stream that broke while the container still runs is simply opened again. The thread
    ends by itself once everything is in the sink: joining it is how an owner knows."""

    def __init__(self, api: Any, runtime_id: str, since: float | None, sink: LogSink) -> None:
        super().__init__(name=f"logs-{runtime_id[:12]}", daemon=True)
        self.api, self.runtime_id, self.since, self.sink = api, runtime_id, since, sink
        self._stopped = threading.Event()
        self._recent: deque[str] = deque(maxlen=RECENT_LINES)  # raw lines near the resume point
        self._recent_set: set[str] = set()
        self._last_at: float | None = None

    def run(self) -> None:
        try:
            while not self._stopped.is_set():
                running = self._running()
                self._read(follow=running)
                if not running:
                    return
                self._stopped.wait(0.2)  # the stream broke while it runs: open it again
        except Exception:  # the owner joins this thread: it must end, and say why
            log.exception("following the output of %s failed", self.runtime_id[:12])

    def _running(self) -> bool:
        try:
            state = self.api.inspect_container(self.runtime_id).get("State", {})
        except NotFound:
            return False
        return bool(state.get("Running") or state.get("Restarting"))

    def _read(self, follow: bool) -> None:
        options: dict[str, Any] = {"stream": True, "follow": follow, "timestamps": True}
        since = self.since if self._last_at is None else self._last_at - 1.0
        if since is not None:
            options["since"] = since
        partial = ""
        try:
            for chunk in self.api.logs(self.runtime_id, **options):
                if self._stopped.is_set():
                    return
                lines = (partial + chunk.decode("utf-8", "replace")).split("\n")
                partial = lines.pop()
                for line in lines:
                    self._line(line)
        except (DockerException, OSError, ValueError) as error:
            log.debug("log stream of %s ended: %s", self.runtime_id[:12], error)
        if partial and not follow and not self._stopped.is_set():  # a last line, no newline
            self._line(partial)

    def _line(self, raw: str) -> None:
        if raw in self._recent_set:
            return  # seen in an earlier read
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(raw)
        self._recent_set.add(raw)
        stamp, _, text = raw.partition(" ")
        try:
            at = parse_time(stamp) or time.time()
        except ValueError:
            at, text = time.time(), raw
        self._last_at = at
        self.sink(at, text.rstrip("\r"))

    def stop(self) -> None:
        self._stopped.set()


class DockerDriver:
    """Driver on a Docker Engine; ``instance_id`` tags (and finds) this agent's containers."""

    def __init__(self, instance_id: str, client: docker.DockerClient | None = None) -> None:
        self.client = client or docker.from_env(timeout=120)
        self.api = self.client.api
        self.instance_id = instance_id
        self._closed = threading.Event()
        self._events: Any = None
        self._lock = threading.Lock()
        self._callback: EventCallback | None = None
        self.image_source: ImageSource | None = None  # set by the agent: its control plane's images

    def info(self) -> DriverInfo:
        version = self.api.version()
        capabilities = remote_api_capabilities(str(version.get("ApiVersion", "1.17")))
        return DriverInfo(
            "docker",
            f"DockerVersion: {version.get('Version', 'unknown')}",
            tuple(capabilities) + CAPABILITIES,
        )

    def list_containers(self) -> list[Observed]:
        rows = self.api.containers(all=True, filters={"label": f"{names.INSTANCE_ID}={self.instance_id}"})
        found = (self.inspect(row["Id"]) for row in rows)
        return [observed for observed in found if observed is not None]

    def inspect(self, runtime_id: str, *, oom_settle: bool = True) -> Observed | None:
        try:
            observed = observe(self.api.inspect_container(runtime_id))
            wait = oom_flag_wait(observed, time.time()) if oom_settle else 0.0
            if wait > 0:
                time.sleep(wait)
                observed = observe(self.api.inspect_container(runtime_id))
            return observed
        except NotFound:
            return None

    def pull(self, task: TaskSpec, container: ContainerSpec) -> None:
        image = container.image
        try:
            self.api.inspect_image(image)
            return  # present locally: used as is, as ECS_IMAGE_PULL_BEHAVIOR=prefer-cached
        except ImageNotFound:
            pass
        except APIError as error:
            raise DriverError(f"CannotPullContainerError: {explain(error)}") from error
        if self.image_source is not None:  # the control plane's image store comes first
            try:
                if self.image_source.fetch(self.api, image):
                    return
            except (ImageFetchError, DockerException) as error:
                raise DriverError(f"CannotPullContainerError: {error}") from error
        repository, tag = parse_repository_tag(image)
        try:
            self.api.pull(repository, tag=tag or "latest")
        except (DockerException, OSError) as error:
            raise DriverError(f"CannotPullContainerError: {explain(error)}") from error

    def _ensure_volumes(self, volumes: list[VolumeRequest]) -> None:
        for volume in volumes:
            try:
                self.api.inspect_volume(volume.name)
                continue
            except NotFound:
                if not volume.create:
                    raise DriverError(
                        f"CannotCreateContainerError: volume {volume.name} "
                        "does not exist and autoprovision is off"
                    ) from None
            self.api.create_volume(
                volume.name,
                driver=volume.driver,
                driver_opts=dict(volume.driver_opts) or None,
                labels=dict(volume.labels) or None,
            )

    def create(self, task: TaskSpec, container: ContainerSpec, labels: dict[str, str]) -> Observed:
        request = docker_create(task, container, labels)
        for warning in request.warnings:
            log.warning("task %s container %s: %s", task.task_id, container.name, warning)
        try:
            self._ensure_volumes(request.volumes)
            host_config = self.api.create_host_config(**request.host_config)
            created = self.api.create_container(
                request.image, name=request.name, host_config=host_config, **request.config
            )
        except APIError as error:
            if error.status_code == 409:  # the name is taken: this very container exists
                existing = self.inspect(request.name)
                if existing and (existing.task_arn, existing.container_name) == (task.arn, container.name):
                    return existing
            raise DriverError(f"CannotCreateContainerError: {explain(error)}") from error
        except (DockerException, OSError, ValueError, TypeError) as error:
            raise DriverError(f"CannotCreateContainerError: {explain(error)}") from error
        for warning in created.get("Warnings") or ():
            log.info("engine warning for %s: %s", request.name, warning)
        observed = self.inspect(created["Id"])
        if observed is None:
            raise DriverError("CannotCreateContainerError: the container vanished after create")
        return observed

    def start(self, runtime_id: str) -> Observed:
        try:
            self.api.start(runtime_id)
        except (DockerException, OSError) as error:
            raise DriverError(f"CannotStartContainerError: {explain(error)}") from error
        observed = self.inspect(runtime_id)
        if observed is None:
            raise DriverError("CannotStartContainerError: the container vanished")
        return observed

    def stop(self, runtime_id: str, timeout: float) -> Observed | None:
        try:
            self.api.stop(runtime_id, timeout=max(0, math.ceil(timeout)))
        except NotFound:
            return None
        except (DockerException, OSError) as error:
            raise DriverError(f"CannotStopContainerError: {explain(error)}") from error
        return self.inspect(runtime_id, oom_settle=False)  # its SIGKILL, if any, was the stop's

    def remove(self, runtime_id: str) -> None:
        try:
            self.api.remove_container(runtime_id, v=True, force=True)
        except NotFound:
            pass
        except APIError as error:
            if error.status_code != 409:  # 409: a removal is already under way
                raise DriverError(f"CannotRemoveContainerError: {explain(error)}") from error

    def cleanup_task(self, task_arn: str) -> None:
        volumes = self.api.volumes(
            filters={"label": [f"{names.TASK_ARN}={task_arn}", f"{names.INSTANCE_ID}={self.instance_id}"]}
        )
        for volume in (volumes or {}).get("Volumes") or ():
            try:
                self.api.remove_volume(volume["Name"], force=True)
            except APIError as error:
                log.warning("could not remove volume %s: %s", volume["Name"], explain(error))

    def follow_logs(self, runtime_id: str, since: float | None, sink: LogSink) -> DockerLogFollower:
        follower = DockerLogFollower(self.api, runtime_id, since, sink)
        follower.start()
        return follower

    def watch(self, callback: EventCallback) -> None:
        started = self._callback is not None
        self._callback = callback  # a later call only swaps the receiver
        if not started:
            threading.Thread(target=self._watch, name="docker-events", daemon=True).start()

    def _notify(self, task_arn: str) -> None:
        try:
            if self._callback is not None:
                self._callback(task_arn)
        except Exception:  # the receiver is gone (its loop closed); keep the stream alive
            log.debug("event receiver failed", exc_info=True)

    def _watch(self) -> None:
        filters = {"type": "container", "label": f"{names.INSTANCE_ID}={self.instance_id}"}
        while not self._closed.is_set():
            try:
                events = self.api.events(decode=True, filters=filters)
                with self._lock:
                    self._events = events
                if self._closed.is_set():
                    break
                for event in events:
                    attributes = (event.get("Actor") or {}).get("Attributes") or {}
                    if attributes.get(names.TASK_ARN):
                        self._notify(attributes[names.TASK_ARN])
            except (DockerException, OSError, ValueError) as error:
                if not self._closed.is_set():
                    log.warning("docker event stream broke (%s); reconnecting", error)
            self._closed.wait(1.0)

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self._events is not None:
                self._events.close()
        self.client.close()
