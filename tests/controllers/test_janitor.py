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


def _sweep(server: DockyardServer, now: float) -> None:
    engine = make_engine(server.store_url)
    try:
        janitor.sweep(engine, now=now)
    finally:
        engine.dispose()


def test_a_deleted_cluster_stays_discoverable_for_the_retention_then_is_purged(
    server: DockyardServer, ecs: Any, hollow: HollowAgents
) -> None:
    ecs.create_cluster(clusterName="gone")
    ecs.create_cluster(clusterName="kept")
    fleet = hollow.start(cluster="gone", reports=False)
    register_task_definition(ecs, "x")
    (task,) = ecs.run_task(cluster="gone", taskDefinition="x")["tasks"]
    ecs.submit_task_state_change(cluster="gone", task=task["taskArn"], status="STOPPED")
    hollow.stop(fleet)
    ecs.deregister_container_instance(cluster="gone", containerInstance=fleet.arns[0], force=True)
    deleted = ecs.delete_cluster(cluster="gone")["cluster"]["clusterArn"]
    retention = janitor.INACTIVE_CLUSTER_RETENTION_SECONDS

    _sweep(server, time.time() + retention - 60)  # within the retention: still discoverable
    assert [c["status"] for c in ecs.describe_clusters(clusters=["gone"])["clusters"]] == ["INACTIVE"]
    assert deleted in ecs.list_clusters()["clusterArns"]

    _sweep(server, time.time() + retention + 60)
    described = ecs.describe_clusters(clusters=["gone", "kept"])
    assert [c["clusterName"] for c in described["clusters"]] == ["kept"]
    assert [f["reason"] for f in described["failures"]] == ["MISSING"]
    assert deleted not in ecs.list_clusters()["clusterArns"]

    # The name is free again, and the new cluster places on its own instances (the server's
    # placement snapshot of the purged cluster, at a higher version, is not taken for it).
    ecs.create_cluster(clusterName="gone")
    old = ecs.describe_container_instances(cluster="gone", containerInstances=fleet.arns)
    assert old["containerInstances"] == [], "the purged cluster's deregistered instance went with it"
    hollow.start(cluster="gone", reports=False)
    placed = ecs.run_task(cluster="gone", taskDefinition="x")
    assert placed["failures"] == [] and len(placed["tasks"]) == 1
