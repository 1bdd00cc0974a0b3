"""Agents as IoT devices: jobs on a cluster's thing group run as real containers on every
instance's Docker Engine, reported through iot-jobs-data by the agents themselves."""

from __future__ import annotations

import io
import json
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.glance.harness import client as glance_client
from tests.glance.harness import docker_archive, token_for
from tests.harness import Credentials, DockyardAgent, DockyardServer, connected_instances, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.agents]
CLUSTER = "devices"


@dataclass
class Devices:
    server: DockyardServer
    account: Credentials
    agents: list[DockyardAgent]
    iot: Any
    ecs: Any
    group_arn: str

    def job(self, job_id: str, document: dict[str, Any], **extra: Any) -> None:
        self.iot.create_job(jobId=job_id, targets=[self.group_arn], document=json.dumps(document), **extra)

    def executions(self, job_id: str) -> list[dict[str, Any]]:
        things = self.iot.list_things_in_thing_group(thingGroupName=CLUSTER)["things"]
        return [self.iot.describe_job_execution(jobId=job_id, thingName=t)["execution"] for t in things]

    def wait_all(self, job_id: str, statuses: set[str], timeout: float = 90) -> list[dict[str, Any]]:
        def done() -> list[dict[str, Any]] | None:
            found = self.executions(job_id)
            return found if found and all(e["status"] in statuses for e in found) else None

        return wait_for(done, timeout=timeout, message=f"{job_id}: {[a.log()[-2000:] for a in self.agents]}")

    def log(self) -> str:
        return "\n".join(agent.log()[-3000:] for agent in self.agents)


@pytest.fixture(scope="module")
def devices(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devices]:
    """A server of its own (its job minute is two seconds) and two Docker agents in a cluster."""
    root = Path(tmp_path_factory.mktemp("iot-agents"))
    server = DockyardServer(
        data_dir=root / "server", environment={"DOCKYARD_JOBS_MINUTE_SECONDS": "2"}
    ).start()
    account = server.new_account()
    ecs = server.client(account)
    ecs.create_cluster(clusterName=CLUSTER)
    # Only the first agent lets jobs run host commands.
    agents = [
        DockyardAgent(
            server,
            account,
            root / f"agent-{n}",
            cluster=CLUSTER,
            driver="docker",
            options=("--allow-host-commands",) if n == 0 else (),
        ).start()
        for n in range(2)
    ]
    connected_instances(ecs, count=2, cluster=CLUSTER, message=agents[0].log())
    iot = server.client(account, "iot")
    group = iot.describe_thing_group(thingGroupName=CLUSTER)["thingGroupArn"]
    yield Devices(server, account, agents, iot, ecs, group)
    for agent in agents:
        if agent.process is not None:
            agent.stop()
    server.stop()


def _unique(job_id: str) -> str:
    """A job id of this run only: containers are found by their job-id label on an engine that
    another suite (or server) may share."""
    return f"{job_id}-{secrets.token_hex(4)}"


def _job_containers(job_id: str) -> list[str]:
    found = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=dockyard.iot-job={job_id}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.split()


def test_a_snapshot_job_runs_on_every_instance_and_completes(devices: Devices) -> None:
    hello = _unique("hello")
    devices.job(
        hello,
        {"operation": "runContainer", "image": "dockyard/busybox", "command": ["sh", "-c", "echo all done"]},
    )
    executions = devices.wait_all(hello, {"SUCCEEDED"})
    assert len(executions) == 2
    for execution in executions:
        assert execution["statusDetails"]["detailsMap"] == {
            "step": "exited",
            "exitCode": "0",
            "lastLine": "all done",
        }
    job = wait_for(
        lambda: (found := devices.iot.describe_job(jobId=hello)["job"])["status"] == "COMPLETED" and found,
        timeout=30,
    )
    assert job["jobProcessDetails"]["numberOfSucceededThings"] == 2
    assert _job_containers(hello) == []


def test_a_failing_command_fails_and_an_unknown_operation_is_rejected(devices: Devices) -> None:
    devices.job(
        "exit3", {"operation": "runContainer", "image": "dockyard/busybox", "command": ["sh", "-c", "exit 3"]}
    )
    failed = devices.wait_all("exit3", {"FAILED"})
    assert {e["statusDetails"]["detailsMap"]["exitCode"] for e in failed} == {"3"}
    devices.job("unknown", {"operation": "formatDisk"})
    rejected = devices.wait_all("unknown", {"REJECTED"})
    assert "formatDisk" in rejected[0]["statusDetails"]["detailsMap"]["reason"]


def test_a_host_command_runs_only_where_the_operator_allowed_it(devices: Devices, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    script = f'echo "key:$AWS_ACCESS_KEY_ID:$STEP"; touch {marker}; exit 4'
    devices.job("host", {"operation": "runCommand", "command": ["sh", "-c", script], "env": {"STEP": "one"}})
    ended = devices.wait_all("host", {"FAILED", "REJECTED"})
    assert sorted(e["status"] for e in ended) == ["FAILED", "REJECTED"]
    ran = next(e["statusDetails"]["detailsMap"] for e in ended if e["status"] == "FAILED")
    # The agent's own credentials never reach the command.
    assert (ran["exitCode"], ran["lastLine"]) == ("4", "key::one")
    refused = next(e["statusDetails"]["detailsMap"] for e in ended if e["status"] == "REJECTED")
    assert "--allow-host-commands" in refused["reason"]
    assert marker.exists()


def test_a_task_job_runs_an_ecs_task_on_each_instance(devices: Devices) -> None:
    devices.ecs.register_task_definition(
        family="patch",
        containerDefinitions=[
            {
                "name": "main",
                "image": "dockyard/busybox",
                "memory": 32,
                "command": ["sh", "-c", "exit $CODE"],
            },
            {
                "name": "side",
                "image": "dockyard/busybox",
                "memory": 32,
                "essential": False,
                "command": ["false"],
            },
        ],
    )
    devices.job("task-ok", {"operation": "runTask", "taskDefinition": "patch"})
    succeeded = devices.wait_all("task-ok", {"SUCCEEDED", "FAILED"})
    assert {e["status"] for e in succeeded} == {"SUCCEEDED"}  # a non-essential container's exit 1 aside
    arns = [e["statusDetails"]["detailsMap"]["taskArn"] for e in succeeded]
    tasks = devices.ecs.describe_tasks(cluster=CLUSTER, tasks=arns)["tasks"]
    assert {t["startedBy"] for t in tasks} == {"iot-job/task-ok"}
    assert len({t["containerInstanceArn"] for t in tasks}) == 2  # each on its own instance
    overrides = {"containerOverrides": [{"name": "main", "environment": [{"name": "CODE", "value": "7"}]}]}
    devices.job("task-bad", {"operation": "runTask", "taskDefinition": "patch:1", "overrides": overrides})
    failed = devices.wait_all("task-bad", {"SUCCEEDED", "FAILED"})
    assert {(e["status"], e["statusDetails"]["detailsMap"]["exitCode"]) for e in failed} == {("FAILED", "7")}


@pytest.fixture
def stored_image(devices: Devices) -> Iterator[str]:
    """An image uploaded through Glance (a ``docker save`` archive), under a name of this test
    only; removed from the engine afterwards."""
    name = f"iot-load/busybox-{secrets.token_hex(4)}:1"
    glance = glance_client(devices.server, token_for(devices.server, devices.account))
    image = glance.images.create(name=name, container_format="docker", disk_format="raw")
    glance.images.upload(image["id"], io.BytesIO(docker_archive()))
    assert glance.images.get(image["id"])["status"] == "active"
    yield name
    subprocess.run(["docker", "rmi", "-f", name], capture_output=True, check=False, timeout=60)


def _engine_image_id(name: str) -> str | None:
    found = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Id}}", name],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return found.stdout.strip() if found.returncode == 0 else None


def test_a_load_image_job_puts_a_stored_image_on_the_engine(devices: Devices, stored_image: str) -> None:
    # An upload is pushed to every connected Docker host as it turns active (issue 14): wait
    # for that, then take the name off the engine; the job must load it again (its statusDetails
    # name the step and the engine's image id, checked below).
    wait_for(lambda: _engine_image_id(stored_image) is not None, timeout=120)
    subprocess.run(["docker", "rmi", "-f", stored_image], capture_output=True, check=True, timeout=60)
    devices.job("preload", {"operation": "loadImage", "image": stored_image})
    executions = devices.wait_all("preload", {"SUCCEEDED", "FAILED", "REJECTED"})
    engine_id = _engine_image_id(stored_image)
    assert engine_id is not None, devices.log()
    for execution in executions:
        assert execution["statusDetails"]["detailsMap"] == {
            "step": "loaded",
            "image": stored_image,
            "imageId": engine_id,
        }, devices.log()
    job = wait_for(
        lambda: (
            (found := devices.iot.describe_job(jobId="preload")["job"])["status"] == "COMPLETED" and found
        ),
        timeout=30,
    )
    assert job["jobProcessDetails"]["numberOfSucceededThings"] == len(devices.agents)
    # A container of a job then runs the loaded image as it is.
    devices.job("use-loaded", {"operation": "runContainer", "image": stored_image, "command": ["echo", "ok"]})
    ran = devices.wait_all("use-loaded", {"SUCCEEDED", "FAILED"})
    assert {e["statusDetails"]["detailsMap"]["lastLine"] for e in ran} == {"ok"}


def test_a_load_image_job_fails_on_an_unknown_image_and_rejects_a_bad_document(devices: Devices) -> None:
    missing = f"iot-load/missing-{secrets.token_hex(4)}:1"
    devices.job("load-missing", {"operation": "loadImage", "image": missing})
    failed = devices.wait_all("load-missing", {"SUCCEEDED", "FAILED", "REJECTED"})
    for execution in failed:
        assert execution["status"] == "FAILED"
        found = execution["statusDetails"]["detailsMap"]
        assert (found["step"], found["image"]) == ("load", missing)
        assert found["reason"] == f"the control plane's image store has no image named {missing}"
    devices.job("load-nothing", {"operation": "loadImage"})
    rejected = devices.wait_all("load-nothing", {"SUCCEEDED", "FAILED", "REJECTED"})
    assert {e["status"] for e in rejected} == {"REJECTED"}
    assert rejected[0]["statusDetails"]["detailsMap"]["reason"] == "loadImage needs an image"


def test_a_forced_cancel_and_a_timeout_kill_the_running_containers(devices: Devices) -> None:
    sleeper = {"operation": "runContainer", "image": "dockyard/busybox", "command": ["sleep", "600"]}
    cancel_me, too_slow = _unique("cancel-me"), _unique("too-slow")
    devices.job(cancel_me, sleeper)
    devices.wait_all(cancel_me, {"IN_PROGRESS"})
    wait_for(lambda: len(_job_containers(cancel_me)) == 2, timeout=120)
    devices.iot.cancel_job(jobId=cancel_me, force=True)
    wait_for(lambda: _job_containers(cancel_me) == [], timeout=60, message=devices.log())
    assert {e["status"] for e in devices.executions(cancel_me)} == {"CANCELED"}
    devices.job(too_slow, sleeper, timeoutConfig={"inProgressTimeoutInMinutes": 1})
    devices.wait_all(too_slow, {"TIMED_OUT"})
    wait_for(lambda: _job_containers(too_slow) == [], timeout=60, message=devices.log())


def test_a_continuous_job_reaches_an_agent_registered_later(devices: Devices, tmp_path: Path) -> None:
    devices.job(
        "everyone",
        {"operation": "runContainer", "image": "dockyard/busybox", "command": ["true"]},
        targetSelection="CONTINUOUS",
    )
    devices.wait_all("everyone", {"SUCCEEDED"})
    late = DockyardAgent(
        devices.server, devices.account, tmp_path / "late", cluster=CLUSTER, driver="docker"
    ).start()
    devices.agents.append(late)
    connected_instances(devices.ecs, count=3, cluster=CLUSTER, message=late.log())
    executions = devices.wait_all("everyone", {"SUCCEEDED"})
    assert len(executions) == 3
    assert devices.iot.describe_job(jobId="everyone")["job"]["status"] == "IN_PROGRESS"


def test_a_retry_config_runs_a_failure_again_and_an_abort_config_cancels(devices: Devices) -> None:
    failing = {"operation": "runContainer", "image": "dockyard/busybox", "command": ["sh", "-c", "exit 4"]}
    devices.job(
        "retried",
        failing,
        jobExecutionsRetryConfig={"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]},
    )
    wait_for(
        lambda: all(
            e["executionNumber"] == 2 and e["status"] == "FAILED" for e in devices.executions("retried")
        ),
        timeout=90,
        message=devices.log(),
    )
    devices.job(
        "aborted",
        failing,
        abortConfig={
            "criteriaList": [
                {
                    "failureType": "FAILED",
                    "action": "CANCEL",
                    "thresholdPercentage": 50,
                    "minNumberOfExecutedThings": 1,
                }
            ]
        },
    )
    job = wait_for(
        lambda: (found := devices.iot.describe_job(jobId="aborted")["job"])["status"] == "CANCELED" and found,
        timeout=90,
        message=devices.log(),
    )
    assert job["reasonCode"] == "FAILED_ABORT_THRESHOLD_MET"
