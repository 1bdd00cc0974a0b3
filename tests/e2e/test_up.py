"""``dockyard up`` (what ``scripts/up`` runs): a control plane and its local agent, started,
used with boto3, stopped with SIGTERM and started again on the same data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.harness import ADMIN_KEY_ID, ADMIN_SECRET, Credentials, DockyardServer, wait_for


class DockyardUp(DockyardServer):
    def command(self) -> list[str]:
        # The process driver: this test is about `up`, the docker driver has tests of its own.
        return [
            sys.executable,
            "-m",
            "dockyard",
            "up",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--driver",
            "process",
        ]


def connected_instances(ecs: Any) -> list[dict[str, Any]]:
    try:
        arns = ecs.list_container_instances()["containerInstanceArns"]
    except ecs.exceptions.ClusterNotFoundException:  # `up` creates it right after the server starts
        return []
    if not arns:
        return []
    described = ecs.describe_container_instances(containerInstances=arns)["containerInstances"]
    return [instance for instance in described if instance["agentConnected"]]


def children_of(data_dir: Path) -> str:
    """The processes still running for this data directory (server or agent)."""
    found = subprocess.run(["pgrep", "-af", str(data_dir)], capture_output=True, text=True, check=False)
    return "\n".join(line for line in found.stdout.splitlines() if "pgrep" not in line)


def test_up_serves_runs_tasks_locally_stops_cleanly_and_comes_back(tmp_path: Path) -> None:
    up = DockyardUp(data_dir=tmp_path / "data").start(timeout=60)
    try:
        ecs = up.client(Credentials(ADMIN_KEY_ID, ADMIN_SECRET, "123456789012"))
        [instance] = wait_for(lambda: connected_instances(ecs), 60, message=up.log())
        ecs.register_task_definition(
            family="hello",
            containerDefinitions=[
                {"name": "app", "image": "dockyard/busybox", "memory": 32, "command": ["sh", "-c", "exit 5"]}
            ],
        )
        arn = ecs.run_task(taskDefinition="hello")["tasks"][0]["taskArn"]
        task = wait_for(
            lambda: (t := ecs.describe_tasks(tasks=[arn])["tasks"][0])["lastStatus"] == "STOPPED" and t,
            60,
            message=up.log(),
        )
        assert task["containers"][0]["exitCode"] == 5
        assert task["containerInstanceArn"] == instance["containerInstanceArn"]
        assert ecs.describe_clusters()["clusters"][0]["clusterName"] == "default"
    finally:
        assert up.stop() == 0, up.log()
    wait_for(lambda: not children_of(tmp_path / "data"), 30, message=children_of(tmp_path / "data"))

    up.start(timeout=60)  # the same data directory: the same instance, the task still there
    try:
        ecs = up.client(Credentials(ADMIN_KEY_ID, ADMIN_SECRET, "123456789012"))
        [again] = wait_for(lambda: connected_instances(ecs), 60, message=up.log())
        assert again["containerInstanceArn"] == instance["containerInstanceArn"]
        assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["containers"][0]["exitCode"] == 5
    finally:
        assert up.stop() == 0, up.log()
