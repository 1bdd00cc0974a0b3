"""``dockyard agent`` processes against a real ``dockyard server``, driven with boto3."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from dockyard.agent.drivers.process import ProcessDriver
from tests.agent.conftest import remove_docker_leftovers
from tests.harness import DockyardAgent, DockyardServer, Tenant, wait_for

pytestmark = pytest.mark.agents  # starts agent processes: not in the quick tier


class Host(Tenant):
    """One account, its default cluster and one agent on this host."""

    def __init__(self, server: DockyardServer, state_dir: Path, driver: str) -> None:
        account = server.new_account()
        super().__init__(server, account, DockyardAgent(server, account, state_dir, driver=driver))
        self.state_dir, self.driver = state_dir, driver
        self.ecs.create_cluster(clusterName="default")

    def start(self) -> Host:
        self.agent.start()
        wait_for(self.connected, 120, message=self.agent.log())
        return self

    def instances(self) -> list[str]:
        return list(self.ecs.list_container_instances()["containerInstanceArns"])

    def connected(self) -> bool:
        arns = self.instances()
        return bool(arns) and all(
            i["agentConnected"]
            for i in self.ecs.describe_container_instances(containerInstances=arns)["containerInstances"]
        )

    @property
    def instance_id(self) -> str:
        return str(json.loads((self.state_dir / "agent.json").read_text())["instanceId"])

    def logs(self, arn: str) -> str:
        """Through the logs endpoint itself, signed as any HTTP client would sign it."""
        url = f"{self.server.endpoint}/_dockyard/logs/{arn.rsplit('/', 1)[-1]}"
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(
            BotoCredentials(self.account.access_key_id, self.account.secret_access_key), "ecs", "us-east-1"
        ).add_auth(request)
        outgoing = urllib.request.Request(url, headers=dict(request.prepare().headers))
        with urllib.request.urlopen(outgoing, timeout=60) as response:
            return str(response.read().decode())

    def close(self) -> None:
        if self.agent.process is not None:
            self.agent.stop()
        if not (self.state_dir / "agent.json").exists():
            return
        if self.driver == "docker":
            remove_docker_leftovers(self.instance_id)
        else:
            leftovers = ProcessDriver(self.instance_id, self.state_dir)
            for observed in leftovers.list_containers():
                leftovers.remove(observed.runtime_id)
            leftovers.close()


@pytest.fixture
def process_host(server: DockyardServer, tmp_path: Path) -> Iterator[Host]:
    host = Host(server, tmp_path / "agent", "process").start()
    yield host
    host.close()


@pytest.fixture
def docker_host(server: DockyardServer, docker_engine: None, tmp_path: Path) -> Iterator[Host]:
    host = Host(server, tmp_path / "agent", "docker").start()
    yield host
    host.close()


def app(command: list[str], **extra: Any) -> dict[str, Any]:
    return {"name": "app", "image": "dockyard/busybox", "memory": 32, "command": command, **extra}


def test_an_instance_reserves_ecs_defaults_and_configured_ports_only(
    server: DockyardServer, tmp_path: Path
) -> None:
    host = Host(server, tmp_path / "agent", "process")
    host.agent.environment["ECS_RESERVED_PORTS"] = "[8080, 9090]"
    host.agent.options = ("--reserved-udp-ports", "53")
    with socket.socket() as listening:  # a port in use on the host is not ECS's business
        listening.bind(("0.0.0.0", 0))
        listening.listen()
        busy = listening.getsockname()[1]
        host.start()
        try:
            described = host.ecs.describe_container_instances(containerInstances=host.instances())
            resources = {
                r["name"]: r.get("stringSetValue")
                for r in described["containerInstances"][0]["registeredResources"]
            }
            assert set(resources["PORTS"]) == {
                str(p) for p in (22, 2375, 2376, 51678, 51679, 8080, 9090, server.port)
            }, busy
            assert resources["PORTS_UDP"] == ["53"]
        finally:
            host.close()


def test_the_process_driver_runs_a_task_and_reports_its_exit(process_host: Host) -> None:
    arn = process_host.run("exit3", [app(["sh", "-c", "echo hello from a process; exit 3"])])
    task = process_host.wait_status(arn, "STOPPED")
    assert task["containers"][0]["exitCode"] == 3
    assert task["stopCode"] == "EssentialContainerExited"
    wait_for(lambda: "hello from a process" in process_host.logs(arn), 120)


def test_a_task_run_through_another_control_plane_reaches_the_agent(
    process_host: Host, tmp_path: Path
) -> None:
    # The agent holds its socket to the first server; the task is run through a replica on
    # the same store, whose commit no notifier of the first one hears: the hub's once-a-second
    # look at the connected instances' desired versions must find it.
    replica = DockyardServer(
        data_dir=tmp_path / "replica",
        database_url=process_host.server.store_url,
        master_key_file=process_host.server.master_key_path,
    ).start()
    try:
        ecs = replica.client(process_host.account)
        ecs.register_task_definition(family="elsewhere", containerDefinitions=[app(["sleep", "600"])])
        arn = ecs.run_task(taskDefinition="elsewhere")["tasks"][0]["taskArn"]
        process_host.wait_status(arn, "RUNNING", timeout=120)
        ecs.stop_task(task=arn)
        process_host.wait_status(arn, "STOPPED", timeout=120)
    finally:
        replica.stop()


def test_an_exit_during_an_agent_restart_is_still_reported(process_host: Host, tmp_path: Path) -> None:
    go, gone = tmp_path / "go", tmp_path / "gone"
    script = f"while [ ! -e {go} ]; do sleep 0.05; done; touch {gone}; exit 4"
    arn = process_host.run("late", [app(["sh", "-c", script])])
    process_host.wait_status(arn, "RUNNING")
    runtime_id = process_host.task(arn)["containers"][0]["runtimeId"]
    assert process_host.agent.stop() == 0  # SIGTERM: the agent goes, the process stays
    go.touch()  # the process exits while no agent watches
    looker = ProcessDriver(process_host.instance_id, process_host.state_dir)
    try:
        wait_for(lambda: gone.exists() and (seen := looker.inspect(runtime_id)) and seen.exit_code == 4, 120)
    finally:
        looker.close()
    process_host.start()
    task = process_host.wait_status(arn, "STOPPED")
    assert task["containers"][0]["exitCode"] == 4


def test_a_task_stopped_while_its_agent_was_away_is_stopped_on_return(process_host: Host) -> None:
    arn = process_host.run("away", [app(["sleep", "600"], stopTimeout=2)])
    process_host.wait_status(arn, "RUNNING")
    runtime_id = process_host.task(arn)["containers"][0]["runtimeId"]
    process_host.agent.stop(signal.SIGKILL)
    process_host.ecs.stop_task(task=arn, reason="while away")
    process_host.start()
    task = process_host.wait_status(arn, "STOPPED")
    assert task["stoppedReason"] == "while away"
    assert task["containers"][0]["runtimeId"] == runtime_id  # the same process, not a new one
    assert task["containers"][0]["exitCode"] in (137, 143)


def test_health_reaches_describe_tasks(process_host: Host) -> None:
    arn = process_host.run(
        "healthy",
        [
            app(
                ["sleep", "600"],
                stopTimeout=1,
                healthCheck={"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1},
            )
        ],
    )
    wait_for(
        lambda: process_host.task(arn).get("healthStatus") == "HEALTHY",
        30,
        message=process_host.agent.log()[-2000:],
    )
    assert process_host.task(arn)["containers"][0]["healthStatus"] == "HEALTHY"
    process_host.ecs.stop_task(task=arn)
    process_host.wait_status(arn, "STOPPED")


@pytest.mark.docker
def test_an_image_that_cannot_be_pulled_fails_the_task(docker_host: Host) -> None:
    arn = docker_host.run("nopull", [app(["true"], image="dockyard.invalid/nothing:none")])
    task = docker_host.wait_status(arn, "STOPPED")
    assert task["stopCode"] == "TaskFailedToStart"
    assert task["stoppedReason"].startswith("CannotPullContainerError: ")
    assert task["containers"][0]["reason"].startswith("CannotPullContainerError: ")


@pytest.mark.docker
def test_a_deregistered_instance_registers_again_and_drops_its_orphans(docker_host: Host) -> None:
    arn = docker_host.run("orphaned", [app(["sleep", "600"], image="dockyard/busybox:latest", stopTimeout=1)])
    docker_host.wait_status(arn, "RUNNING")
    [old] = docker_host.instances()
    docker_host.ecs.deregister_container_instance(containerInstance=old, force=True)
    new = wait_for(
        lambda: [a for a in docker_host.instances() if a != old], 30, message=docker_host.agent.log()[-3000:]
    )
    assert len(new) == 1
    import docker

    client = docker.from_env()
    try:
        wait_for(
            lambda: (
                not client.api.containers(all=True, filters={"label": f"com.amazonaws.ecs.task-arn={arn}"})
            ),
            30,
            message=docker_host.agent.log()[-3000:],
        )
    finally:
        client.close()


@pytest.mark.docker
def test_a_stopped_tasks_containers_stay_on_the_host_to_inspect(
    server: DockyardServer, docker_engine: None, tmp_path: Path
) -> None:
    host = Host(server, tmp_path / "agent", "docker")
    host.agent.environment["ECS_ENGINE_TASK_CLEANUP_WAIT_DURATION"] = "3h"  # ECS's default
    host.start()
    try:
        arn = host.run("brief", [app(["sh", "-c", "echo still here"], image="dockyard/busybox:latest")])
        runtime_id = host.wait_status(arn, "STOPPED")["containers"][0]["runtimeId"]
        wait_for(lambda: "stay on the host" in host.agent.log(), 120, message=host.agent.log()[-3000:])
        import docker

        client = docker.from_env()
        try:
            assert client.api.inspect_container(runtime_id)["State"]["Status"] == "exited"
            assert client.api.logs(runtime_id) == b"still here\n"
        finally:
            client.close()
    finally:
        host.close()


def test_sigterm_ends_an_agent_waiting_on_an_unanswering_control_plane(tmp_path: Path) -> None:
    """A registration call under way (the control plane accepted the connection and says
    nothing) must not hold a stopping agent: it exits cleanly in seconds, not after timeouts."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID="AKIDSILENT",
            AWS_SECRET_ACCESS_KEY="silent",
            AWS_DEFAULT_REGION="us-east-1",
        )
        with (tmp_path / "agent.log").open("ab") as log:
            agent = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dockyard",
                    "agent",
                    "--endpoint",
                    f"http://127.0.0.1:{port}",
                    "--state-dir",
                    str(tmp_path),
                    "--driver",
                    "process",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            silent.settimeout(60)
            connection, _ = silent.accept()  # RegisterContainerInstance is on its way: no answer
            with connection:
                connection.recv(65536)
                agent.send_signal(signal.SIGTERM)
                started = time.monotonic()
                code = agent.wait(timeout=30)
                elapsed = time.monotonic() - started
        finally:
            if agent.poll() is None:
                agent.kill()
                agent.wait()
    assert code == 0, (tmp_path / "agent.log").read_text()
    assert elapsed < 10, f"took {elapsed:.1f}s: {(tmp_path / 'agent.log').read_text()}"
