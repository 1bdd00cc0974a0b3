"""``dockyard up`` (what ``scripts/up`` runs): a control plane and its local agent, started,
used with boto3, stopped with SIGTERM and started again on the same data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ADMIN_KEY_ID, ADMIN_SECRET, Credentials, DockyardServer, wait_for

pytestmark = pytest.mark.agents  # starts agent processes: not in the quick tier


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


def summary_block(log: str) -> list[str] | None:
    """The lines between the two rules of ``dockyard up``'s summary, once both are out."""
    lines = log.splitlines()
    rules = [index for index, line in enumerate(lines) if line == "=" * 72]
    return lines[rules[0] + 1 : rules[1]] if len(rules) >= 2 else None


def children_of(data_dir: Path) -> str:
    """The processes still running for this data directory (server or agent)."""
    found = subprocess.run(["pgrep", "-af", str(data_dir)], capture_output=True, text=True, check=False)
    return "\n".join(line for line in found.stdout.splitlines() if "pgrep" not in line)


def test_up_serves_runs_tasks_locally_stops_cleanly_and_comes_back(tmp_path: Path) -> None:
    up = DockyardUp(data_dir=tmp_path / "data").start()
    try:
        ecs = up.client(Credentials(ADMIN_KEY_ID, ADMIN_SECRET, "123456789012"))
        [instance] = wait_for(lambda: connected_instances(ecs), 60, message=up.log)
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
            message=up.log,
        )
        assert task["containers"][0]["exitCode"] == 5
        assert task["containerInstanceArn"] == instance["containerInstanceArn"]
        assert ecs.describe_clusters()["clusters"][0]["clusterName"] == "default"
    finally:
        assert up.stop() == 0, up.log()
    wait_for(lambda: not children_of(tmp_path / "data"), 120, message=children_of(tmp_path / "data"))

    up.start()  # the same data directory: the same instance, the task still there
    try:
        ecs = up.client(Credentials(ADMIN_KEY_ID, ADMIN_SECRET, "123456789012"))
        [again] = wait_for(lambda: connected_instances(ecs), 60, message=up.log)
        assert again["containerInstanceArn"] == instance["containerInstanceArn"]
        assert ecs.describe_tasks(tasks=[arn])["tasks"][0]["containers"][0]["exitCode"] == 5
    finally:
        assert up.stop() == 0, up.log()


def dockyard(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dockyard", *argv], capture_output=True, text=True, timeout=60, check=False
    )


def test_up_ends_with_its_summary_and_down_stops_what_it_left_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    up = DockyardUp(data_dir=data_dir).start()
    try:
        # The summary closes the start: its block is complete once its closing rule is out. Lines
        # the server or agent log later (a busy machine has warnings to give) may follow it.
        closing = wait_for(lambda: summary_block(up.log()), 60)
        assert any(line.startswith("Dockyard is up: http://127.0.0.1:") for line in closing), closing
        assert any("printed at the first start of" in line for line in closing), closing  # keys from env
        ecs = up.client(Credentials(ADMIN_KEY_ID, ADMIN_SECRET, "123456789012"))
        ecs.register_task_definition(
            family="forever",
            containerDefinitions=[
                {"name": "app", "image": "dockyard/busybox", "memory": 32, "command": ["sleep", "600"]}
            ],
        )
        arn = ecs.run_task(taskDefinition="forever")["tasks"][0]["taskArn"]
        wait_for(lambda: ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING", 60)
        refused = dockyard("down", "--data-dir", str(data_dir))
        assert refused.returncode != 0 and "dockyard up is still running" in refused.stderr
    finally:
        assert up.stop() == 0, up.log()
    done = wait_for(lambda: (d := dockyard("down", "--data-dir", str(data_dir))).returncode == 0 and d, 120)
    assert "stopped 1 running container(s)" in done.stdout
    from dockyard.agent.drivers.process import ProcessDriver
    from dockyard.agent.state_dir import StateDir

    driver = ProcessDriver(StateDir(data_dir / "agent").instance_id(), data_dir / "agent")
    try:
        assert driver.list_containers() == []
    finally:
        driver.close()
