"""Hollow agents against a real control plane: registration, connection, task reports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from typing import Any

from dockyard.agent.hollow_tasks import TaskScript
from tests.builders import container, register_task_definition
from tests.harness import Credentials, DockyardServer, HollowAgents, wait_for

ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")


def instances(ecs: Any, cluster: str) -> list[dict[str, Any]]:
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if not arns:
        return []
    return list(
        ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"]
    )


def statuses(ecs: Any, cluster: str, arns: list[str]) -> list[str]:
    return [t["lastStatus"] for t in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]]


def test_a_hollow_fleet_registers_connects_and_runs_tasks(ecs: Any, hollow: HollowAgents) -> None:
    ecs.create_cluster(clusterName="fleet")
    fleet = hollow.start(
        6, cluster="fleet", cpu=1024, memory=2048, zones=ZONES, attributes=(("tier", "gold"),)
    )
    found = instances(ecs, "fleet")
    assert len(found) == 6 and all(i["agentConnected"] for i in found)
    zones = Counter(
        next(a["value"] for a in i["attributes"] if a["name"] == "ecs.availability-zone") for i in found
    )
    assert zones == Counter({zone: 2 for zone in ZONES})
    assert {r["name"]: r.get("integerValue") for r in found[0]["registeredResources"]}["MEMORY"] == 2048
    assert all({"name": "tier", "value": "gold"} in i["attributes"] for i in found)
    register_task_definition(ecs, "web", [container("web", memory=64)])
    run = ecs.run_task(
        cluster="fleet",
        taskDefinition="web",
        count=6,
        placementStrategy=[{"type": "spread", "field": "attribute:ecs.availability-zone"}],
    )
    arns = [t["taskArn"] for t in run["tasks"]]
    assert len(arns) == 6 and run["failures"] == []
    wait_for(lambda: set(statuses(ecs, "fleet", arns)) == {"RUNNING"}, message="for hollow tasks to run")
    task = ecs.describe_tasks(cluster="fleet", tasks=arns[:1])["tasks"][0]
    assert task["containers"][0]["runtimeId"].startswith("hollow-") and "startedAt" in task
    ecs.stop_task(cluster="fleet", task=arns[0], reason="enough")
    stopped = wait_for(
        lambda: (
            (t := ecs.describe_tasks(cluster="fleet", tasks=arns[:1])["tasks"][0])["lastStatus"] == "STOPPED"
            and t
        )
    )
    assert stopped["stopCode"] == "UserInitiated" and stopped["containers"][0]["exitCode"] == 143
    # PENDING and RUNNING of six tasks, one STOPPED: counted once each answer is back, which can
    # be just after the server already shows it.
    wait_for(lambda: fleet.reports_sent >= 13, message=f"for 13 reports ({fleet.reports_sent} counted)")
    assert 1 <= fleet.report_frames < 13  # up the sockets, several reports to a frame


def test_scripted_failures_stop_tasks_as_an_exited_container_does(ecs: Any, hollow: HollowAgents) -> None:
    ecs.create_cluster(clusterName="failing")
    hollow.start(2, cluster="failing", script=TaskScript(fail_rate=1.0))
    register_task_definition(ecs, "crash", [container("crash", memory=64)])
    arns = [t["taskArn"] for t in ecs.run_task(cluster="failing", taskDefinition="crash", count=3)["tasks"]]
    wait_for(lambda: set(statuses(ecs, "failing", arns)) == {"STOPPED"}, message="for the failures")
    for task in ecs.describe_tasks(cluster="failing", tasks=arns)["tasks"]:
        assert task["stopCode"] == "EssentialContainerExited"
        assert task["containers"][0]["exitCode"] == 1


def test_a_deregistered_hollow_instance_registers_again(ecs: Any, hollow: HollowAgents) -> None:
    ecs.create_cluster(clusterName="again")
    fleet = hollow.start(1, cluster="again")
    [first] = fleet.arns
    ecs.deregister_container_instance(cluster="again", containerInstance=first, force=True)
    wait_for(
        lambda: (
            (found := instances(ecs, "again"))
            and found[0]["containerInstanceArn"] != first
            and found[0]["agentConnected"]
        ),
        message="for the new registration",
    )


def test_dockyard_agent_hollow_runs_a_fleet_until_sigterm(
    server: DockyardServer, account: Credentials, ecs: Any
) -> None:
    ecs.create_cluster(clusterName="cli")
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID=account.access_key_id,
        AWS_SECRET_ACCESS_KEY=account.secret_access_key,
        AWS_DEFAULT_REGION="us-east-1",
    )
    command = [sys.executable, "-m", "dockyard", "agent", "--endpoint", server.endpoint, "--cluster", "cli"]
    command += ["--hollow", "3", "--hollow-zones", "us-east-1a,us-east-1b", "--hollow-memory", "1000"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        found = wait_for(
            lambda: len(got := instances(ecs, "cli")) == 3 and all(i["agentConnected"] for i in got) and got,
            message="for three connected hollow instances",
        )
        memory = {r["name"]: r.get("integerValue") for r in found[0]["registeredResources"]}["MEMORY"]
        assert memory == 1000
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0, output
    assert "all 3 connected" in output
    wait_for(lambda: not any(i["agentConnected"] for i in instances(ecs, "cli")), message="for the goodbye")
