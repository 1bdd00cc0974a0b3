"""The work of one job execution while it runs on this host: a container, an ECS task, a host
process or an image load, behind one small interface the job runner supervises (``jobs.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from dockyard.agent.images import ImageSource
from dockyard.agent.job_documents import LoadImage, RunCommand, RunContainer, RunTask, details, last_line

JOB_LABEL = "dockyard.iot-job"
TAIL_LINES = 20
# What a host command sees of the agent's environment: never the agent's credentials.
_HOST_ENV = ("PATH", "HOME", "LANG", "TZ")

RunBlocking = Callable[..., Awaitable[Any]]
Outcome = tuple[str, dict[str, str]]


class Running(Protocol):
    """One execution's work, started."""

    def progress(self) -> dict[str, str]:
        """statusDetails while it runs."""
        ...

    async def outcome(self) -> Outcome | None:
        """The status and details to report once it ended; None while it runs."""
        ...

    async def stop(self) -> None:
        """Kill it if it still runs and clean up after it (idempotent)."""
        ...


class ContainerWork:
    def __init__(self, run_blocking: RunBlocking, work: RunContainer, container: Any) -> None:
        self.run_blocking, self.work, self.container = run_blocking, work, container

    @classmethod
    async def start(
        cls,
        run_blocking: RunBlocking,
        docker: Any,
        work: RunContainer,
        job_id: str,
        images: ImageSource | None = None,
    ) -> ContainerWork:
        return cls(run_blocking, work, await run_blocking(_start_container, docker, work, job_id, images))

    def progress(self) -> dict[str, str]:
        return details("running", image=self.work.image)

    async def outcome(self) -> Outcome | None:
        state = await self.run_blocking(_state_of, self.container)
        if state["Status"] != "exited":
            return None
        code = int(state.get("ExitCode", -1))
        output = await self.run_blocking(lambda: self.container.logs(tail=TAIL_LINES))
        return ("SUCCEEDED" if code == 0 else "FAILED"), details(
            "exited", exitCode=code, lastLine=last_line(output)
        )

    async def stop(self) -> None:
        await self.run_blocking(_remove, self.container)


class TaskWork:
    """An ECS task on this instance (StartTask), started by the job: it succeeds when every
    essential container exited 0, as a service's health would judge it."""

    def __init__(
        self, run_blocking: RunBlocking, ecs: Any, cluster: str, task: dict[str, Any], essential: set[str]
    ):
        self.run_blocking, self.ecs, self.cluster = run_blocking, ecs, cluster
        self.task_arn: str = task["taskArn"]
        self.essential = essential
        self.stopped = False

    @classmethod
    async def start(
        cls, run_blocking: RunBlocking, ecs: Any, cluster: str, instance_arn: str, work: RunTask, job_id: str
    ) -> TaskWork:
        reply = await run_blocking(
            lambda: ecs.start_task(
                cluster=cluster,
                taskDefinition=work.task_definition,
                containerInstances=[instance_arn],
                overrides=work.overrides,
                startedBy=f"iot-job/{job_id}"[:128],
            )
        )
        if not reply.get("tasks"):
            failure = (reply.get("failures") or [{}])[0]
            raise RuntimeError(f"the task was not started: {failure.get('reason', 'no reason given')}")
        task = reply["tasks"][0]
        definition = await run_blocking(
            lambda: ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])["taskDefinition"]
        )
        essential = {c["name"] for c in definition["containerDefinitions"] if c.get("essential", True)}
        return cls(run_blocking, ecs, cluster, task, essential)

    def progress(self) -> dict[str, str]:
        return details("running", taskArn=self.task_arn)

    async def outcome(self) -> Outcome | None:
        reply = await self.run_blocking(
            lambda: self.ecs.describe_tasks(cluster=self.cluster, tasks=[self.task_arn])
        )
        task = (reply.get("tasks") or [{}])[0]
        if task.get("lastStatus") != "STOPPED":
            return None
        self.stopped = True
        essential = [c for c in task.get("containers", []) if c["name"] in self.essential]
        failed = next((c for c in essential if c.get("exitCode") != 0), None)
        if failed is None:
            return "SUCCEEDED", details("stopped", taskArn=self.task_arn, exitCode=0)
        reason = failed.get("reason") or task.get("stoppedReason")
        return "FAILED", details(
            "stopped",
            taskArn=self.task_arn,
            container=failed["name"],
            exitCode=failed.get("exitCode"),
            reason=reason,
        )

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            with contextlib.suppress(Exception):
                await self.run_blocking(
                    lambda: self.ecs.stop_task(
                        cluster=self.cluster, task=self.task_arn, reason="IoT job execution ended"
                    )
                )


class CommandWork:
    """A process on the host, in its own process group (killed whole), with the agent's
    credentials kept out of its environment."""

    def __init__(self, process: asyncio.subprocess.Process, work: RunCommand) -> None:
        self.process, self.work = process, work
        self.tail: deque[bytes] = deque(maxlen=TAIL_LINES)
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, work: RunCommand) -> CommandWork:
        env = {name: os.environ[name] for name in _HOST_ENV if name in os.environ} | work.env
        process = await asyncio.create_subprocess_exec(
            *work.command,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        return cls(process, work)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.tail.append(line[-4096:])

    def progress(self) -> dict[str, str]:
        return details("running", pid=self.process.pid)

    async def outcome(self) -> Outcome | None:
        if self.process.returncode is None:
            return None
        await self.reader
        code = self.process.returncode
        return ("SUCCEEDED" if code == 0 else "FAILED"), details(
            "exited", exitCode=code, lastLine=last_line(b"".join(self.tail))
        )

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


class ImageWork:
    """An image loaded from the control plane's image store onto the Docker Engine (by the
    loader tasks use, ``images.py``): it succeeds once the engine has the image."""

    def __init__(self, work: LoadImage, loading: asyncio.Future[str]) -> None:
        self.work, self.loading = work, loading

    @classmethod
    async def start(
        cls, run_blocking: RunBlocking, docker: Any, images: ImageSource, work: LoadImage
    ) -> ImageWork:
        return cls(work, asyncio.ensure_future(run_blocking(_load_image, docker, images, work.image)))

    def progress(self) -> dict[str, str]:
        return details("loading", image=self.work.image)

    async def outcome(self) -> Outcome | None:
        if not self.loading.done():
            return None
        try:
            image_id = self.loading.result()
        except Exception as error:  # the store has no such image, bad bytes, the engine refused
            return "FAILED", details("load", image=self.work.image, reason=str(error) or type(error).__name__)
        return "SUCCEEDED", details("loaded", image=self.work.image, imageId=image_id)

    async def stop(self) -> None:
        # A load under way finishes on its thread (the engine cannot be stopped mid-load).
        self.loading.cancel()


class UnknownImage(LookupError):
    def __str__(self) -> str:
        return f"the control plane's image store has no image named {self.args[0]}"


def _load_image(docker: Any, images: ImageSource, image: str) -> str:
    """The engine's id of ``image`` once loaded from the store; UnknownImage if the store has none."""
    if not images.fetch(docker.api, image):
        raise UnknownImage(image)
    return str(docker.api.inspect_image(image)["Id"])


def _start_container(docker: Any, work: RunContainer, job_id: str, images: ImageSource | None) -> Any:
    try:
        docker.images.get(work.image)
    except Exception:
        # A missing image comes from the control plane's store first, else from its registry.
        if images is None or not images.fetch(docker.api, work.image):
            docker.images.pull(work.image)
    return docker.containers.run(
        work.image, work.command, environment=work.env, detach=True, labels={JOB_LABEL: job_id}
    )


def _state_of(container: Any) -> dict[str, Any]:
    container.reload()
    return dict(container.attrs["State"])


def _remove(container: Any) -> None:
    with contextlib.suppress(Exception):
        container.remove(force=True)
