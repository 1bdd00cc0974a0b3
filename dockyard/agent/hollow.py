"""Hollow agents: many simulated container instances in one process (``dockyard agent --hollow N``).

What Kubernetes' kubemark and Nomad's node simulator do for their schedulers: each hollow
instance is a real client of the control plane, with only the host missing. It registers
with RegisterContainerInstance (the request :func:`registration.registration_params` builds
for a real host, signed by botocore, with the CPU units, memory, zone, instance type and
attributes it is given), asks DiscoverPollEndpoint, then holds a WebSocket of its own through
the agent's :class:`~dockyard.agent.channel.Channel` (signed upgrade, heartbeats, acks,
reconnects with back-off, and a new registration when the control plane forgot it) and reports
through the agent's :class:`~dockyard.agent.reporter.Reporter` (in order, in frames up that
socket, retried). What it
reports for the tasks of its state frames, without a container, is :mod:`hollow_tasks`' call.

API calls go through one boto3 client on a thread pool of ``concurrency`` threads, so a fleet
of thousands registers as fast as the control plane answers that many calls at once, and never
opens more connections than that. :class:`HollowThread` runs fleets on a loop of its own for
synchronous callers (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from dockyard.agent import registration
from dockyard.agent.channel import (
    BACKOFF_MAX,
    BACKOFF_START,
    HEARTBEAT_INTERVAL,
    Channel,
    InstanceGone,
    ws_url,
)
from dockyard.agent.drivers import DriverInfo
from dockyard.agent.drivers.docker import CAPABILITIES, remote_api_capabilities
from dockyard.agent.hollow_tasks import HollowTasks, TaskScript
from dockyard.agent.host import HostFacts
from dockyard.agent.reporter import Reporter
from dockyard.agent.threads import Stopped, unless_stopped

log = logging.getLogger(__name__)

DRIVER = DriverInfo("hollow", "hollow", tuple(remote_api_capabilities("1.44")) + CAPABILITIES)
STOP_GRACE = 5.0  # at a stop: the sockets' close handshakes


@dataclass(frozen=True)
class HollowConfig:
    """One fleet of identical hollow instances (zones taken round-robin)."""

    endpoint: str
    count: int = 1
    cluster: str = "default"
    region: str = "us-east-1"
    cpu: int = 2048  # CPU units each instance registers
    memory: int = 4096  # MiB each instance registers
    zones: tuple[str, ...] = ()  # default: the region's "a" zone
    instance_type: str = "dockyard.hollow"
    attributes: tuple[tuple[str, str | None], ...] = ()  # custom attributes, as (name, value)
    script: TaskScript = field(default_factory=TaskScript)
    reports: bool = True  # False: take tasks and say nothing (tests drive the lifecycle by hand)
    concurrency: int = 16  # API calls under way at once for the whole fleet
    id_prefix: str = ""  # EC2 ids are i-<prefix><index>; default: random per fleet
    seed: int | None = None  # which tasks the script fails
    heartbeat_interval: float = HEARTBEAT_INTERVAL  # a long one makes a silent (yet open) agent


class HollowInstance:
    """One simulated container instance: registration, channel and reports, no host."""

    def __init__(self, fleet: HollowFleet, index: int, instance_id: str, zone: str) -> None:
        config = fleet.config
        self.fleet, self.index, self.instance_id, self.zone = fleet, index, instance_id, zone
        self.arn: str | None = None
        self.last_frame: dict[str, Any] | None = None  # the last state frame, and when it came
        self.last_frame_at = 0.0
        seed = None if config.seed is None else config.seed * 1_000_003 + index
        self.tasks = HollowTasks(config.script, random.Random(seed))
        self.reporter = Reporter(fleet.client, fleet.run_blocking)
        self.channel = Channel(
            credentials=fleet.credentials,
            region=config.region,
            on_state=self._on_state,
            on_connect=self._connected,
            heartbeat_interval=config.heartbeat_interval,
            opening=lambda: fleet.opening,
        )
        self.reporter.attach(self.channel)  # task changes up the socket, many to a frame

    def registration_params(self) -> dict[str, Any]:
        config = self.fleet.config
        facts = HostFacts(
            cpu_units=config.cpu,
            memory_mib=config.memory,
            os_type="linux",
            architecture="x86_64",
            hostname=f"hollow-{self.index}",
        )
        params = registration.registration_params(
            cluster=config.cluster,
            facts=facts,
            driver=DRIVER,
            instance_id=self.instance_id,
            region=config.region,
            availability_zone=self.zone,
            private_ip=f"10.{(self.index >> 16) & 255}.{(self.index >> 8) & 255}.{self.index & 255}",
            endpoint=config.endpoint,
            instance_arn=self.arn,
            instance_type=config.instance_type,
        )
        custom = {name for name, _ in config.attributes}
        params["attributes"] = [a for a in params["attributes"] if a["name"] not in custom] + [
            {"name": name, "value": value} if value is not None else {"name": name}
            for name, value in config.attributes
        ]
        return params

    async def run(self, stop: asyncio.Event) -> None:
        """Register, stay connected, register again when forgotten; until ``stop``."""
        reporting = asyncio.create_task(self.reporter.run())
        try:
            while not stop.is_set():
                try:
                    found = await unless_stopped(self._register(stop), stop)
                except Stopped:
                    break
                if found is None:
                    break
                url = ws_url(found.endpoint, found.cluster_arn, found.instance_arn)
                try:
                    await self.channel.run(url, stop)
                except InstanceGone as gone:
                    log.warning("hollow instance %s: %s; registering again", self.index, gone)
                    self.arn = None
            await self.reporter.drain(1.0)
        finally:
            reporting.cancel()
            await asyncio.gather(reporting, return_exceptions=True)

    async def _register(self, stop: asyncio.Event) -> registration.Registration | None:
        fleet, delay = self.fleet, BACKOFF_START
        while not stop.is_set():
            try:
                arn = await fleet.run_blocking(
                    registration.register, fleet.client, self.registration_params()
                )
                self.arn = arn
                endpoint = await fleet.run_blocking(
                    registration.discover, fleet.client, fleet.config.cluster, arn
                )
                return registration.Registration(
                    arn, registration.cluster_arn_of(arn, fleet.config.cluster), endpoint
                )
            except ClientError as error:
                log.warning("hollow instance %s: registration failed: %s", self.index, error)
                if registration.instance_gone(error):
                    self.arn = None
            except (BotoCoreError, OSError) as error:
                log.warning("hollow instance %s: control plane unreachable: %s", self.index, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, BACKOFF_MAX)
        return None

    def _connected(self) -> list[dict[str, Any]]:
        self.fleet.on_connected(self)
        return []

    async def _on_state(self, frame: dict[str, Any]) -> None:
        target = frame.get("containerInstanceArn")
        if target and target != self.arn:
            return
        self.last_frame, self.last_frame_at = frame, time.time()
        if not self.fleet.config.reports:
            return
        for params in self.tasks.apply(frame, time.time()):
            self.reporter.task_change(params)
        loop = asyncio.get_running_loop()
        for arn, seconds in self.tasks.take_endings():
            loop.call_later(seconds, self._end, arn)

    def _end(self, arn: str) -> None:
        report = self.tasks.end(arn, time.time())
        if report is not None:
            self.reporter.task_change(report)


class HollowFleet:
    """``config.count`` hollow instances sharing one API client and thread pool."""

    def __init__(self, config: HollowConfig, credentials: Credentials | None = None) -> None:
        found = credentials or boto3.Session(region_name=config.region).get_credentials()
        if found is None:
            raise ValueError("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        frozen = found.get_frozen_credentials()
        self.config = config
        self.credentials: Callable[[], Any] = lambda: frozen
        self._pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="hollow")
        self.client = boto3.Session(
            aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key,
            aws_session_token=frozen.token,
            region_name=config.region,
        ).client(
            "ecs",
            endpoint_url=config.endpoint,
            config=botocore.config.Config(
                max_pool_connections=config.concurrency,
                retries={"max_attempts": 2, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
            ),
        )
        prefix = config.id_prefix or secrets.token_hex(4)
        zones = config.zones or (f"{config.region}a",)
        self.instances = [
            HollowInstance(self, i, f"i-{prefix}{i:0{max(1, 17 - len(prefix))}x}", zones[i % len(zones)])
            for i in range(config.count)
        ]
        # A fleet opens its sockets a few at a time: thousands of handshakes at once would
        # all time out together, and again at every retry.
        self.opening = asyncio.Semaphore(config.concurrency)
        self._ever_connected: set[int] = set()
        self.ready = asyncio.Event()  # every instance connected at least once

    async def run_blocking(self, function: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function, *args)

    def on_connected(self, instance: HollowInstance) -> None:
        self._ever_connected.add(instance.index)
        if len(self._ever_connected) == len(self.instances):
            self.ready.set()

    @property
    def connected(self) -> int:
        return sum(instance.channel.connected for instance in self.instances)

    @property
    def reports_sent(self) -> int:
        return sum(instance.reporter.sent for instance in self.instances)

    @property
    def report_frames(self) -> int:
        """Report frames the control plane acked (the rest of ``reports_sent`` went over HTTP)."""
        return sum(instance.reporter.frames for instance in self.instances)

    @property
    def arns(self) -> list[str]:
        return [instance.arn for instance in self.instances if instance.arn]

    async def run(self, stop: asyncio.Event) -> None:
        """Every instance until ``stop`` is set."""
        try:
            # Once stopped, a connection that takes longer than the grace to let go is dropped.
            await unless_stopped(asyncio.gather(*(i.run(stop) for i in self.instances)), stop, STOP_GRACE)
        except Stopped:
            log.warning("hollow agents: %d connections did not close in time", self.connected)
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)


class HollowThread:
    """Hollow fleets on an event loop of their own thread, for synchronous code.

    ``start`` returns once every instance of the new fleet is registered and connected;
    ``stop`` (one fleet) and ``close`` (all) let go of the connections, as a stopping agent does."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="hollow-agents", daemon=True)
        self._thread.start()
        self._fleets: dict[int, tuple[HollowFleet, asyncio.Event, asyncio.Task[None]]] = {}

    def start(
        self, config: HollowConfig, credentials: Credentials | None = None, timeout: float = 120.0
    ) -> HollowFleet:
        async def launch() -> HollowFleet:
            fleet, stop = HollowFleet(config, credentials), asyncio.Event()
            self._fleets[id(fleet)] = (fleet, stop, asyncio.create_task(fleet.run(stop)))
            return fleet

        # Bounded by the caller's timeout: on a loaded machine the loop may be busy for seconds.
        fleet = asyncio.run_coroutine_threadsafe(launch(), self.loop).result(timeout)
        try:
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(fleet.ready.wait(), timeout), self.loop).result(
                timeout + STOP_GRACE
            )
        except TimeoutError:
            self.stop(fleet)
            raise TimeoutError(
                f"{fleet.connected} of {config.count} hollow instances connected within {timeout:g} s"
            ) from None
        return fleet

    def stop(self, fleet: HollowFleet) -> None:
        entry = self._fleets.pop(id(fleet), None)
        if entry is None:
            return
        _, stop, run = entry

        async def finish() -> None:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(run, STOP_GRACE)

        # Bounded even if the loop is stuck: a caller (a test, a benchmark) must never hang here.
        asyncio.run_coroutine_threadsafe(finish(), self.loop).result(2 * STOP_GRACE)

    def stop_all(self) -> None:
        for fleet, _, _ in list(self._fleets.values()):
            self.stop(fleet)

    def close(self) -> None:
        self.stop_all()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_GRACE)

    def __enter__(self) -> HollowThread:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


async def run_hollow(config: HollowConfig, stop: asyncio.Event, progress_every: float = 10.0) -> None:
    """``dockyard agent --hollow N``: the fleet until ``stop``, with a progress line now and then."""
    fleet = HollowFleet(config)
    started = time.monotonic()
    log.info("hollow agents: %d instances in cluster %s at %s", config.count, config.cluster, config.endpoint)

    async def progress() -> None:
        announced = False
        while True:
            with contextlib.suppress(TimeoutError):
                waiting = asyncio.sleep(progress_every) if announced else fleet.ready.wait()
                await asyncio.wait_for(waiting, progress_every)
            if fleet.ready.is_set() and not announced:
                announced = True
                log.info(
                    "hollow agents: all %d connected in %.1f s", config.count, time.monotonic() - started
                )
                continue
            log.info(
                "hollow agents: %d registered, %d connected, %d reports sent",
                len(fleet.arns),
                fleet.connected,
                fleet.reports_sent,
            )

    reporter = asyncio.create_task(progress())
    try:
        await fleet.run(stop)
    finally:
        reporter.cancel()
        await asyncio.gather(reporter, return_exceptions=True)
