"""The agent process: registration, the channel, the task engine and their lifetimes.

Start-up order: lock the state dir, pick the driver, start the reporter and log shipper,
register (again, as the same instance), open the channel. The engine only acts on state
frames, so nothing on the host is touched before the control plane has said what it wants.
Stopping lets go of every task but leaves the containers running: the next start adopts them.
A stop never waits on the control plane or the engine for long: calls under way when it comes
are given up (their daemon threads are left behind), so SIGTERM ends the agent in seconds.
An agent update (``update``) ends with such a stop too, after which the caller execs the new code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.config
from botocore.exceptions import BotoCoreError, ClientError

from dockyard.agent import host, registration
from dockyard.agent.channel import Channel, InstanceGone, ws_url
from dockyard.agent.drivers import Driver, DriverInfo
from dockyard.agent.drivers.docker import DockerDriver
from dockyard.agent.engine import TaskEngine
from dockyard.agent.images import ImageSource, PushedLoads
from dockyard.agent.jobs import JobRunner
from dockyard.agent.logs import LogShipper
from dockyard.agent.reporter import Reporter
from dockyard.agent.state_dir import StateDir
from dockyard.agent.threads import BlockingRunner, Stopped, unless_stopped
from dockyard.agent.update import AgentUpdater, Replacement
from dockyard.agent.version import agent_version

log = logging.getLogger(__name__)

BACKOFF_START, BACKOFF_MAX = 0.5, 10.0
CHANNEL_GRACE = 5.0  # at a stop: the channel's last frames and close handshake
CLOSE_GRACE = 5.0  # at a stop: the driver letting go of the engine
CLIENT_CONFIG = botocore.config.Config(
    retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30
)


class AgentStartError(RuntimeError):
    """The agent cannot start (no driver, no credentials); the message says why."""


@dataclass
class AgentConfig:
    endpoint: str
    cluster: str = "default"
    state_dir: Path | None = None
    driver: str | None = None  # None: docker when an engine answers, else process
    region: str = "us-east-1"
    availability_zone: str | None = None
    fargate_capacity: bool = False  # offer this host as capacity for FARGATE tasks
    reserved_tcp: Sequence[int] = ()  # host ports to keep from tasks, beyond ECS's defaults
    reserved_udp: Sequence[int] = ()
    task_cleanup_wait: float = 3 * 3600.0  # seconds stopped containers stay (docker driver)
    argv: Sequence[str] = ()  # the command that runs this agent again (for self-updates)
    failed_updates: Sequence[str] = field(default=())  # versions not to try again
    allow_host_commands: bool = False  # IoT jobs may run runCommand documents on the host


class Agent:
    """One agent; ``run`` returns once ``stop`` is set and everything has let go."""

    def __init__(self, config: AgentConfig, session: boto3.Session | None = None) -> None:
        self.config = config
        self.session = session or boto3.Session(region_name=config.region)
        self.state = StateDir(config.state_dir)
        self.registration: registration.Registration | None = None
        self.driver: Driver | None = None
        self.engine: TaskEngine | None = None
        self.channel: Channel | None = None
        self.updater: AgentUpdater | None = None
        self.shipper: LogShipper | None = None
        self.jobs: JobRunner | None = None  # the agent as its thing's IoT device
        self.replacement: Replacement | None = None  # set when an update wants us replaced
        self._first_frame = False  # the next state frame is a new connection's first
        self._stop: asyncio.Event | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set (or an update asks to be replaced), then let go."""
        self.state.lock()
        self._stop = stop
        loop = asyncio.get_running_loop()
        run_blocking = BlockingRunner(loop)
        background: list[asyncio.Task[None]] = []
        try:
            await self._run(stop, run_blocking, background)
        except Stopped:
            pass
        finally:
            if self.engine is not None:
                await self.engine.shutdown()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if self.driver is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(run_blocking(self.driver.close), CLOSE_GRACE)
            self.state.unlock()
        log.info("agent stopped; containers keep running")

    async def _run(
        self, stop: asyncio.Event, run_blocking: BlockingRunner, background: list[asyncio.Task[None]]
    ) -> None:
        loop = asyncio.get_running_loop()
        config = self.config
        instance_id = self.state.instance_id()
        try:
            self.driver = driver = await unless_stopped(
                run_blocking(host.pick_driver, config.driver, instance_id, self.state.path), stop
            )
        except Stopped:
            raise
        except Exception as error:  # e.g. --driver docker without a reachable engine
            raise AgentStartError(f"the {config.driver} driver cannot start: {error}") from error
        info: DriverInfo = await unless_stopped(run_blocking(driver.info), stop)
        log.info(
            "agent %s (version %s, code in %s) on %s, driver %s (%s)",
            instance_id,
            agent_version(),
            Path(__file__).resolve().parents[1],
            config.endpoint,
            info.name,
            info.version,
        )
        client = self.session.client(
            "ecs", endpoint_url=config.endpoint, region_name=config.region, config=CLIENT_CONFIG
        )
        credentials = self.session.get_credentials()
        if credentials is None:
            raise AgentStartError("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        reporter = Reporter(client, run_blocking)
        pushed: PushedLoads | None = None
        source: ImageSource | None = None
        if isinstance(driver, DockerDriver):  # a host missing an image loads it from the image store
            driver.image_source = source = ImageSource(
                config.endpoint, credentials.get_frozen_credentials, config.region
            )
            # ... and the control plane pushes what it imports to every Docker host
            pushed = PushedLoads(source, driver.api, run_blocking, lambda frame: channel.send(frame))
        self.channel = channel = Channel(
            credentials=credentials.get_frozen_credentials,
            region=config.region,
            on_state=self._on_state,
            on_connect=self._on_connect,
            on_device_key=lambda frame: self.jobs.use_device_key(frame) if self.jobs else None,
            on_load_image=pushed.on_frame if pushed is not None else _not_a_docker_host,
        )
        reporter.attach(channel)  # task changes go up the socket while it is connected
        self.shipper = shipper = LogShipper(channel.deliver, lambda: channel.connected)
        self.engine = engine = TaskEngine(
            driver=driver,
            run_blocking=run_blocking,
            reporter=reporter,
            send=channel.send,
            logs=shipper,
            instance_id=instance_id,
            # A process driver's "containers" are files in the state dir: nothing to inspect later.
            cleanup_wait=config.task_cleanup_wait if info.name == "docker" else 0.0,
        )
        self.updater = AgentUpdater(
            state_dir=self.state.path,
            endpoint=config.endpoint,
            credentials=credentials.get_frozen_credentials,
            region=config.region,
            argv=config.argv,
            run_blocking=run_blocking,
            report=channel.deliver,
            ready=self._replace,
            failed=config.failed_updates,
        )
        driver.watch(lambda arn: loop.call_soon_threadsafe(engine.poke, arn))
        self.jobs = jobs = JobRunner(
            lambda credentials: self.session.client(
                "iot-jobs-data",
                endpoint_url=config.endpoint,
                region_name=config.region,
                config=CLIENT_CONFIG,
                **credentials,
            ),
            run_blocking,
            _docker_client if info.name == "docker" else None,
            ecs=client,
            images=source,
            allow_host_commands=config.allow_host_commands,
        )
        background += [
            asyncio.create_task(reporter.run()),
            asyncio.create_task(shipper.run()),
            asyncio.create_task(jobs.run()),
        ]
        while not stop.is_set():
            self.registration = await unless_stopped(
                self._register(client, driver, info, instance_id, run_blocking, stop), stop
            )
            if self.registration is None:
                break
            engine.bind(self.registration.instance_arn)
            jobs.bind(self.registration.cluster_arn, self.registration.instance_arn)
            url = ws_url(
                self.registration.endpoint,
                self.registration.cluster_arn,
                self.registration.instance_arn,
                device_key=True,
            )
            try:
                await unless_stopped(channel.run(url, stop), stop, CHANNEL_GRACE)
            except InstanceGone as gone:
                log.warning("%s: registering again", gone)
                self.state.forget_registration()
        await reporter.drain(2.0)

    async def _replace(self, replacement: Replacement) -> None:
        """An update is staged: ship what output we hold, then stop so the caller execs it."""
        if self.shipper is not None:
            await self.shipper.ship()
        self.replacement = replacement
        if self._stop is not None:
            self._stop.set()

    def _on_connect(self) -> list[dict[str, Any]]:
        assert self.engine is not None
        self._first_frame = True
        return self.engine.health_frames()

    async def _on_state(self, frame: dict[str, Any]) -> None:
        assert self.engine is not None
        target = frame.get("containerInstanceArn")
        if target and target != self.engine.instance_arn:
            log.warning("ignoring a state frame for %s (we are %s)", target, self.engine.instance_arn)
            return
        await self.engine.apply_state(frame)
        if self._first_frame:  # a marker operators (and tests) can wait for
            self._first_frame = False
            log.info("applied the desired state of this connection (version %s)", frame.get("version"))
        if self.updater is not None and self.replacement is None:
            self.updater.offer(frame.get("agentUpdate"))
        if self.jobs is not None:
            self.jobs.nudge(frame.get("jobs"))

    async def _register(
        self,
        client: Any,
        driver: Driver,
        info: DriverInfo,
        instance_id: str,
        run_blocking: Callable[..., Any],
        stop: asyncio.Event,
    ) -> registration.Registration | None:
        """Register and discover the poll endpoint, retrying with back-off until stopped."""
        config, delay = self.config, BACKOFF_START
        while not stop.is_set():
            stored = self.state.instance_arn(config.endpoint, config.cluster)
            try:
                observed = await run_blocking(driver.list_containers)
                own_ports = {b.host_port for c in observed for b in c.network_bindings}
                facts = await run_blocking(host.measure_host)
                params = registration.registration_params(
                    cluster=config.cluster,
                    facts=facts,
                    driver=info,
                    instance_id=instance_id,
                    region=config.region,
                    availability_zone=config.availability_zone or f"{config.region}a",
                    private_ip=host.private_ip(),
                    endpoint=config.endpoint,
                    instance_arn=stored,
                    own_ports=own_ports,
                    reserved_tcp=config.reserved_tcp,
                    reserved_udp=config.reserved_udp,
                    fargate_capacity=config.fargate_capacity,
                )
                arn = await run_blocking(registration.register, client, params)
                self.state.save_registration(config.endpoint, config.cluster, arn)
                endpoint = await run_blocking(registration.discover, client, config.cluster, arn)
                log.info(
                    "registered as %s%s; poll endpoint %s", arn, " (again)" if arn == stored else "", endpoint
                )
                return registration.Registration(
                    arn, registration.cluster_arn_of(arn, config.cluster), endpoint
                )
            except ClientError as error:
                log.warning("registration failed: %s", error)
                if stored and registration.instance_gone(error):
                    self.state.forget_registration()
            except (BotoCoreError, OSError) as error:
                log.warning("control plane unreachable: %s", error)
            except Exception:  # e.g. the engine is down: registration waits for it
                log.exception("registration failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, BACKOFF_MAX)
        return None


def _not_a_docker_host(frame: dict[str, Any]) -> None:
    log.warning("ignoring a loadImage frame for %s: this host runs no Docker Engine", frame.get("name"))


def _docker_client() -> Any:
    """A Docker Engine client for job containers (apart from the task driver's)."""
    import docker

    return docker.from_env()
