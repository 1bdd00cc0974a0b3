"""What a hollow instance does with the tasks of its state frames: no containers, only reports.

A pure bookkeeper, so that it can be tested by tables: ``apply`` takes one full state frame and
returns the SubmitTaskStateChange requests a real agent would make for it, in the shape the
task owner makes them (``docs/agent-protocol.md`` §3). A new task desired RUNNING is PENDING
then RUNNING at once (its containers "start" without an image or a process); a task whose
desired status becomes STOPPED is reported STOPPED (exit code 143, as after a SIGTERM), without
a reason (the control plane knows why). A script may end a task by itself: every task's
container exits with 0 after ``task_seconds``, and a ``fail_rate`` share of them exits with 1
after ``fail_seconds`` instead; ``end`` is called when that time has come. A task that ends
at once (0 s) is reported PENDING, RUNNING and STOPPED by the one ``apply``, so its whole short
life goes up in one report frame.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from dockyard.agent.spec import TaskSpec, task_from_frame
from dockyard.agent.status import TaskStatus

STOPPED_EXIT_CODE = 143  # what `docker stop` leaves a container that obeyed SIGTERM with
FAILED_EXIT_CODE = 1
ESSENTIAL_EXITED = "Essential container in task exited"


@dataclass(frozen=True)
class TaskScript:
    """How hollow tasks end by themselves (by default they run until they are told to stop)."""

    task_seconds: float | None = None  # every task's container exits 0 after this long
    fail_rate: float = 0.0  # the share of tasks whose container exits 1 ...
    fail_seconds: float = 0.0  # ... this long after it started


@dataclass
class HollowTask:
    spec: TaskSpec
    status: TaskStatus = TaskStatus.NONE
    exit_code: int | None = None  # set when the script ends the task by itself


@dataclass
class HollowTasks:
    """The tasks of one hollow instance, as far as its reports have taken them."""

    script: TaskScript = field(default_factory=TaskScript)
    rng: random.Random = field(default_factory=random.Random)
    tasks: dict[str, HollowTask] = field(default_factory=dict)
    endings: list[tuple[str, float]] = field(default_factory=list)  # (task ARN, seconds) to arm

    def apply(self, frame: dict[str, Any], now: float) -> list[dict[str, Any]]:
        """The reports one state frame calls for; new tasks get their scripted end."""
        reports: list[dict[str, Any]] = []
        listed: set[str] = set()
        for raw in frame.get("tasks") or ():
            known = self.tasks.get(str(raw.get("taskArn"))) if isinstance(raw, dict) else None
            if known is not None and raw.get("desiredStatus") == known.spec.desired.name:
                listed.add(known.spec.arn)  # as it was: a busy instance's frame is mostly these
                continue
            try:
                spec = task_from_frame(raw, str(frame.get("clusterArn", "")))
            except (KeyError, TypeError, ValueError):
                continue
            listed.add(spec.arn)
            task = self.tasks.get(spec.arn)
            if task is None:
                task = self.tasks[spec.arn] = HollowTask(spec)
                if spec.desired is TaskStatus.RUNNING:
                    reports += [
                        self._move(task, TaskStatus.PENDING, now),
                        self._move(task, TaskStatus.RUNNING, now),
                    ]
                    ending = self._plan_end(task)
                    if ending is not None and ending <= 0:
                        # Exits at once: its whole short life goes up together (one frame).
                        reports.append(
                            self._move(task, TaskStatus.STOPPED, now, task.exit_code, ESSENTIAL_EXITED)
                        )
                    elif ending is not None:
                        self.endings.append((spec.arn, ending))
            task.spec = spec
            if spec.desired is TaskStatus.STOPPED and task.status < TaskStatus.STOPPED:
                reports.append(self._move(task, TaskStatus.STOPPED, now, STOPPED_EXIT_CODE))
        # A task leaves the frame once its STOPPED report is in (or the control plane gave up).
        for arn in [arn for arn in self.tasks if arn not in listed]:
            del self.tasks[arn]
        return reports

    def end(self, arn: str, now: float) -> dict[str, Any] | None:
        """The STOPPED report of a task whose scripted end has come (None if it is over)."""
        task = self.tasks.get(arn)
        if task is None or task.exit_code is None or task.status >= TaskStatus.STOPPED:
            return None
        return self._move(task, TaskStatus.STOPPED, now, task.exit_code, ESSENTIAL_EXITED)

    def take_endings(self) -> list[tuple[str, float]]:
        """The scripted ends planned since the last call: (task ARN, seconds from now)."""
        endings, self.endings = self.endings, []
        return endings

    def _plan_end(self, task: HollowTask) -> float | None:
        """When the script ends the task by itself (seconds from its start), if it does."""
        script = self.script
        if script.fail_rate > 0 and self.rng.random() < script.fail_rate:
            task.exit_code = FAILED_EXIT_CODE
            return script.fail_seconds
        if script.task_seconds is not None:
            task.exit_code = 0
            return script.task_seconds
        return None

    @staticmethod
    def _move(
        task: HollowTask, status: TaskStatus, now: float, exit_code: int | None = None, reason: str = ""
    ) -> dict[str, Any]:
        ran = task.status >= TaskStatus.RUNNING
        task.status = status
        containers = []
        for container in task.spec.containers:
            report: dict[str, Any] = {"containerName": container.name, "status": status.name}
            if status >= TaskStatus.RUNNING or ran:
                report["runtimeId"] = f"hollow-{task.spec.task_id}-{container.name}"
            if status is TaskStatus.STOPPED and ran and exit_code is not None:
                report["exitCode"] = exit_code
            containers.append(report)
        params: dict[str, Any] = {
            "cluster": task.spec.cluster_arn,
            "task": task.spec.arn,
            "status": status.name,
            "containers": containers,
        }
        if status is TaskStatus.RUNNING:
            params["pullStartedAt"] = params["pullStoppedAt"] = now
        if status is TaskStatus.STOPPED:
            params["executionStoppedAt"] = now
            if reason:
                params["reason"] = reason
        return params
