"""Drains and deregistrations racing with RunTask and the service scheduler on PostgreSQL: a
task never lands on an instance after it was drained or deregistered, and every instance's
books equal the tasks it holds."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.harness import Credentials, DockyardServer, HollowAgents, wait_for


@pytest.mark.parametrize("server", ["postgresql"], indirect=True)
def test_drain_and_deregister_race_run_task_and_services(
    server: DockyardServer, account: Credentials, ecs: Any, hollow: HollowAgents
) -> None:
    ecs.create_cluster(clusterName="default")
    ecs.register_task_definition(
        family="race", containerDefinitions=[{"name": "a", "image": "busybox", "memory": 32, "cpu": 16}]
    )
    fleet = hollow.start(12, zones=("us-east-1a", "us-east-1b"), memory=4096, cpu=4096, reports=True)
    arns = list(fleet.arns)
    drained_at: dict[str, float] = {}
    gone: set[str] = set()
    done = threading.Event()
    clients = [server.client(account) for _ in range(3)]

    def run_tasks(client: Any) -> int:
        placed = 0
        while not done.is_set():
            placed += len(client.run_task(taskDefinition="race", count=10)["tasks"])
        return placed

    def change_instances() -> None:
        client = server.client(account)
        ecs.create_service(serviceName="svc", taskDefinition="race", desiredCount=0)
        for index, arn in enumerate(arns[:8]):
            client.update_service(service="svc", desiredCount=5 * (index + 1))
            if index % 2:
                client.deregister_container_instance(containerInstance=arn, force=True)
                gone.add(arn)
            else:
                client.update_container_instances_state(containerInstances=[arn], status="DRAINING")
            drained_at[arn] = time.time()
            time.sleep(0.2)
        done.set()

    with ThreadPoolExecutor(4) as pool:
        runners = [pool.submit(run_tasks, client) for client in clients]
        try:
            pool.submit(change_instances).result(timeout=120)
        finally:
            done.set()  # the runners stop even when the changes failed, or the pool never closes
        assert sum(runner.result(timeout=60) for runner in runners) > 0
    wait_for(lambda: ecs.describe_services(services=["svc"])["services"][0]["runningCount"] == 40, 60)

    def every_task() -> list[dict[str, Any]]:
        arns_of_tasks = []
        for status in ("RUNNING", "STOPPED"):
            pages = ecs.get_paginator("list_tasks").paginate(desiredStatus=status)
            arns_of_tasks += [arn for page in pages for arn in page["taskArns"]]
        return [
            task
            for start in range(0, len(arns_of_tasks), 100)
            for task in ecs.describe_tasks(tasks=arns_of_tasks[start : start + 100])["tasks"]
        ]

    def settled() -> list[dict[str, Any]] | None:
        # The books are compared once no stop is still on its way: a task told to stop holds
        # its share until its agent reports it STOPPED, which may land between two reads.
        found = every_task()
        stopping = [t for t in found if t["desiredStatus"] == "STOPPED" and t["lastStatus"] != "STOPPED"]
        return None if stopping else found

    tasks = wait_for(settled)
    for task in tasks:
        instance = task["containerInstanceArn"]
        if instance in gone:
            assert task["lastStatus"] == "STOPPED", f"nothing runs on a deregistered instance: {task}"
        if instance in drained_at:
            assert task["createdAt"].timestamp() <= drained_at[instance], "placed after the drain"

    def mismatched_books() -> list[tuple[str, int, int]]:
        # The services' scheduler may still start or stop a task between the read of the tasks
        # and that of the books: a pair of reads is compared until one holds still. A real
        # mismatch stays, and fails below.
        live = [t for t in settled() or () if t["lastStatus"] != "STOPPED"]
        described = ecs.describe_container_instances(containerInstances=[a for a in arns if a not in gone])
        wrong = []
        for instance in described["containerInstances"]:
            held = sum(32 for t in live if t["containerInstanceArn"] == instance["containerInstanceArn"])
            remaining = {r["name"]: r.get("integerValue") for r in instance["remainingResources"]}
            if remaining["MEMORY"] != 4096 - held:
                wrong.append((instance["containerInstanceArn"], remaining["MEMORY"], 4096 - held))
        return wrong

    wait_for(
        lambda: not mismatched_books(),
        message=lambda: f"the books equal the tasks held: {mismatched_books()}",
    )
