"""The agent as an IoT device: it runs its thing's job executions.

The control plane nudges the agent over its connection (the state frame's ``jobs`` moves when
the thing has new work, or work was taken away); the agent then calls
StartNextPendingJobExecution with its own key, like any device, runs what the document asks
(``job_documents.py``) and reports with UpdateJobExecution. While a container runs, every
nudge (and a look every few seconds) checks the execution is still IN_PROGRESS: a
force-canceled or timed-out execution has its container killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from dockyard.agent import job_documents
from dockyard.agent.images import ImageSource
from dockyard.agent.job_documents import LoadImage, RejectedDocument, RunContainer, RunTask, Work, details
from dockyard.agent.job_work import CommandWork, ContainerWork, ImageWork, Outcome, Running, TaskWork

log = logging.getLogger(__name__)

LOOK_SECONDS = 5.0  # how often a running execution's status is read when nothing nudges
POLL_SECONDS = 0.5  # how often a running container's state is read

RunBlocking = Callable[..., Awaitable[Any]]


class JobRunner:
    def __init__(
        self,
        client_for: Callable[[dict[str, str]], Any],
        run_blocking: RunBlocking,
        docker_client: Callable[[], Any] | None,
        *,
        ecs: Any = None,
        images: ImageSource | None = None,
        allow_host_commands: bool = False,
    ) -> None:
        # An iot-jobs-data client for given credentials ({} = the agent's own), so that it can
        # act with the device key the control plane hands this instance's thing.
        self.client_for = client_for
        self.client = client_for({})
        self._key_id: str | None = None
        self.run_blocking = run_blocking
        self.ecs = ecs  # an ECS client of the agent's account: runTask starts tasks with it
        self.allow_host_commands = allow_host_commands  # runCommand runs only when the operator said so
        self.cluster_arn: str | None = None
        self.instance_arn: str | None = None
        self.docker_client = docker_client  # None: no container engine on this host
        self.images = images  # the control plane's image store (loadImage, a missing image)
        self.thing_name: str | None = None
        self._seen: Any = None
        self._woken = asyncio.Event()

    def bind(self, cluster_arn: str, instance_arn: str) -> None:
        self.cluster_arn, self.instance_arn = cluster_arn, instance_arn
        self.thing_name = instance_arn.rsplit("/", 1)[-1]

    def use_device_key(self, frame: dict[str, Any]) -> None:
        """The control plane sent this thing's device key: run executions with it from now on
        (a key that may act only for this thing)."""
        key_id, secret = frame.get("accessKeyId"), frame.get("secretAccessKey")
        if not isinstance(key_id, str) or not isinstance(secret, str) or key_id == self._key_id:
            return
        self.client = self.client_for({"aws_access_key_id": key_id, "aws_secret_access_key": secret})
        self._key_id = key_id

    def nudge(self, version: Any) -> None:
        """A state frame arrived; its ``jobs`` value moved (or this is the first)."""
        if version is not None and version != self._seen:
            self._seen = version
            self._woken.set()

    async def run(self) -> None:
        while True:
            await self._woken.wait()
            self._woken.clear()
            try:
                await self._drain()
            except asyncio.CancelledError:
                raise
            except (BotoCoreError, ClientError) as error:
                log.warning("job executions: %s", error)
            except Exception:
                log.exception("job executions failed")

    async def _drain(self) -> None:
        while self.thing_name is not None:
            reply = await self.run_blocking(
                lambda: self.client.start_next_pending_job_execution(thingName=self.thing_name)
            )
            execution = reply.get("execution")
            if not execution:
                return
            await self._execute(execution)

    async def _execute(self, execution: dict[str, Any]) -> None:
        job_id = execution["jobId"]
        try:
            work = job_documents.parse(execution.get("jobDocument") or "")
            start = self._starter(work, job_id)
        except RejectedDocument as rejected:
            log.info("job %s rejected: %s", job_id, rejected)
            await self._report(job_id, "REJECTED", details("rejected", reason=str(rejected)))
            return
        log.info("job %s: running %s", job_id, work)
        try:
            running = await start()
        except Exception as error:
            await self._report(job_id, "FAILED", details("start", reason=str(error)))
            return
        outcome = await self._supervise(job_id, running, work.timeout_seconds)
        if outcome is not None:
            await self._report(job_id, *outcome)

    def _starter(self, work: Work, job_id: str) -> Callable[[], Awaitable[Running]]:
        """How to start the work; RejectedDocument when this agent may not run it."""
        if isinstance(work, RunContainer):
            if self.docker_client is None:
                raise RejectedDocument("this agent has no container engine")
            docker_client = self.docker_client

            async def container() -> Running:
                docker = await self.run_blocking(docker_client)
                return await ContainerWork.start(self.run_blocking, docker, work, job_id, self.images)

            return container
        if isinstance(work, LoadImage):
            if self.docker_client is None or self.images is None:
                raise RejectedDocument("this agent has no container engine to load an image onto")
            docker_client, images = self.docker_client, self.images

            async def image() -> Running:
                docker = await self.run_blocking(docker_client)
                return await ImageWork.start(self.run_blocking, docker, images, work)

            return image
        if isinstance(work, RunTask):
            if self.ecs is None or self.cluster_arn is None or self.instance_arn is None:
                raise RejectedDocument("this agent cannot start ECS tasks")
            ecs, cluster, instance = self.ecs, self.cluster_arn, self.instance_arn
            return lambda: TaskWork.start(self.run_blocking, ecs, cluster, instance, work, job_id)
        if not self.allow_host_commands:
            raise RejectedDocument(
                "host commands are not allowed here (the agent runs without --allow-host-commands)"
            )
        return lambda: CommandWork.start(work)

    async def _supervise(self, job_id: str, running: Running, timeout: float) -> Outcome | None:
        """Follow the work to its end; the status and details to report, or None when the
        execution ended elsewhere (canceled, timed out) and the work was killed."""
        await self._report(job_id, "IN_PROGRESS", running.progress())
        deadline = time.monotonic() + timeout
        looked = time.monotonic()
        try:
            while True:
                outcome = await running.outcome()
                if outcome is not None:
                    return outcome
                if time.monotonic() >= deadline:
                    return "FAILED", details("timeout", reason=f"ran past {timeout:g} s")
                if self._woken.is_set() or time.monotonic() - looked >= LOOK_SECONDS:
                    self._woken.clear()
                    looked = time.monotonic()
                    if not await self._in_progress(job_id):
                        log.info("job %s ended elsewhere: its work is killed", job_id)
                        return None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_SECONDS):
                        await self._woken.wait()
        finally:
            await running.stop()

    async def _in_progress(self, job_id: str) -> bool:
        reply = await self.run_blocking(
            lambda: self.client.describe_job_execution(
                jobId=job_id, thingName=self.thing_name, includeJobDocument=False
            )
        )
        return bool(reply["execution"]["status"] == "IN_PROGRESS")

    async def _report(self, job_id: str, status: str, status_details: dict[str, str]) -> None:
        try:
            await self.run_blocking(
                lambda: self.client.update_job_execution(
                    jobId=job_id, thingName=self.thing_name, status=status, statusDetails=status_details
                )
            )
        except ClientError as error:  # ended elsewhere meanwhile (canceled, timed out)
            log.info("job %s: %s not reported: %s", job_id, status, error)
