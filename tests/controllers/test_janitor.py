"""The janitor: stopped tasks stay describable for an hour, as on ECS, then are forgotten."""

from __future__ import annotations

import time
from typing import Any

from dockyard.controllers import janitor
from dockyard.store.db import make_engine
from tests.builders import register_task_definition
from tests.harness import DockyardServer, HollowAgents


def test_stopped_tasks_are_kept_for_the_retention_then_forgotten(
    server: DockyardServer, ecs: Any, hollow: HollowAgents
) -> None:
    ecs.create_cluster()
    hollow.instance(ecs)
    register_task_definition(ecs, "x")
    stopped, running = (t["taskArn"] for t in ecs.run_task(taskDefinition="x", count=2)["tasks"])
    ecs.submit_task_state_change(task=stopped, status="STOPPED")
    ecs.submit_task_state_change(task=running, status="RUNNING")
    engine = make_engine(server.store_url)
    try:
        janitor.sweep(engine)  # within the hour: nothing goes
        assert len(ecs.describe_tasks(tasks=[stopped, running])["tasks"]) == 2
        janitor.sweep(engine, now=time.time() + janitor.STOPPED_TASK_RETENTION_SECONDS + 60)
    finally:
        engine.dispose()
    described = ecs.describe_tasks(tasks=[stopped, running])
    assert [t["taskArn"] for t in described["tasks"]] == [running]
    assert [f["reason"] for f in described["failures"]] == ["MISSING"]
