"""Container definition → Docker create request, field by field (no engine needed)."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.agent.drivers import DriverError
from dockyard.agent.drivers.docker_config import (
    NANOSECONDS,
    DockerCreate,
    docker_create,
    docker_name,
    task_volume_name,
)
from tests.agent.builders import container, task_spec

LABELS = {"dockyard.instance-id": "i-0123456789abcdef0"}


def translate(*containers: dict[str, Any], name: str = "app", **definition: Any) -> DockerCreate:
    spec = task_spec(*containers, **definition)
    return docker_create(spec, spec.container(name), LABELS)


def test_command_entry_point_environment_and_process_fields() -> None:
    request = translate(
        container(
            command=["echo", "hi"],
            entryPoint=["/bin/sh", "-c"],
            workingDirectory="/tmp",
            user="nobody",
            hostname="box",
            environment=[{"name": "A", "value": "1"}],
            interactive=True,
            pseudoTerminal=True,
        )
    )
    assert request.image == "dockyard/busybox:latest"
    assert request.config["command"] == ["echo", "hi"]
    assert request.config["entrypoint"] == ["/bin/sh", "-c"]
    assert request.config["environment"] == {"A": "1"}
    assert (request.config["working_dir"], request.config["user"]) == ("/tmp", "nobody")
    assert request.config["hostname"] == "box"
    assert request.config["stdin_open"] and request.config["tty"]
    assert request.config["labels"] == LABELS
    assert request.config["stop_timeout"] == 30


def test_cpu_and_memory_limits() -> None:
    request = translate(container(cpu=256, memory=64, memoryReservation=32))
    host = request.host_config
    assert host["cpu_shares"] == 256
    assert (host["mem_limit"], host["memswap_limit"], host["mem_reservation"]) == ("64m", "64m", "32m")


def test_swap_only_when_asked() -> None:
    request = translate(container(memory=64, linuxParameters={"maxSwap": 32, "swappiness": 10}))
    assert request.host_config["memswap_limit"] == "96m"
    assert request.host_config["mem_swappiness"] == 10


def test_a_container_without_cpu_gets_the_minimum_share() -> None:
    assert translate(container()).host_config["cpu_shares"] == 2


def test_static_and_dynamic_ports_in_bridge_mode() -> None:
    request = translate(
        container(
            portMappings=[
                {"containerPort": 80, "hostPort": 8080},
                {"containerPort": 53, "protocol": "udp"},
                {"containerPortRange": "9000-9001"},
            ]
        )
    )
    assert request.host_config["port_bindings"] == {
        "80/tcp": 8080,
        "53/udp": None,
        "9000/tcp": None,
        "9001/tcp": None,
    }
    assert (53, "udp") in request.config["ports"]


def test_host_network_exposes_without_publishing() -> None:
    request = translate(container(portMappings=[{"containerPort": 80}], hostname="x"), networkMode="host")
    assert request.host_config["network_mode"] == "host"
    assert "port_bindings" not in request.host_config
    assert request.config["ports"] == [(80, "tcp")]
    assert "hostname" not in request.config and request.warnings


def test_awsvpc_falls_back_to_bridge_with_a_warning() -> None:
    request = translate(container(), networkMode="awsvpc")
    assert request.host_config["network_mode"] == "bridge"
    assert any("awsvpc" in warning for warning in request.warnings)


def test_volumes_bind_mounts_and_named_volumes() -> None:
    spec = task_spec(
        container(
            mountPoints=[
                {"sourceVolume": "host", "containerPath": "/h", "readOnly": True},
                {"sourceVolume": "scratch", "containerPath": "/s"},
                {"sourceVolume": "shared", "containerPath": "/d"},
                {"sourceVolume": "empty", "containerPath": "/e"},
            ]
        ),
        volumes=[
            {"name": "host", "host": {"sourcePath": "/srv/data"}},
            {
                "name": "scratch",
                "dockerVolumeConfiguration": {"scope": "task", "driverOpts": {"type": "tmpfs"}},
            },
            {"name": "shared", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True}},
            {"name": "empty"},
        ],
    )
    request = docker_create(spec, spec.container("app"), LABELS)
    assert request.host_config["binds"] == [
        "/srv/data:/h:ro",
        f"{task_volume_name(spec, 'scratch')}:/s:rw",
        "shared:/d:rw",
        f"{task_volume_name(spec, 'empty')}:/e:rw",
    ]
    by_name = {volume.name: volume for volume in request.volumes}
    scratch = by_name[task_volume_name(spec, "scratch")]
    assert scratch.driver_opts == {"type": "tmpfs"}
    assert scratch.labels["com.amazonaws.ecs.task-arn"] == spec.arn
    assert by_name["shared"].create and "com.amazonaws.ecs.task-arn" not in by_name["shared"].labels


def test_an_unknown_source_volume_cannot_be_created() -> None:
    with pytest.raises(DriverError, match="CannotCreateContainerError"):
        translate(container(mountPoints=[{"sourceVolume": "nope", "containerPath": "/x"}]))


def test_volumes_from_and_links_name_the_task_own_containers() -> None:
    spec = task_spec(
        container("data"),
        container("db"),
        container("app", volumesFrom=[{"sourceContainer": "data", "readOnly": True}], links=["db:database"]),
    )
    request = docker_create(spec, spec.container("app"), LABELS)
    assert request.host_config["volumes_from"] == [docker_name(spec, "data") + ":ro"]
    assert request.host_config["links"] == {docker_name(spec, "db"): "database"}


def test_linux_parameters_ulimits_and_security() -> None:
    request = translate(
        container(
            linuxParameters={
                "initProcessEnabled": True,
                "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                "tmpfs": [{"containerPath": "/run", "size": 64, "mountOptions": ["noexec"]}],
                "sharedMemorySize": 128,
            },
            ulimits=[{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
            readonlyRootFilesystem=True,
            privileged=True,
            extraHosts=[{"hostname": "db.local", "ipAddress": "10.0.0.9"}],
            dnsServers=["1.1.1.1"],
            dnsSearchDomains=["corp"],
            dockerSecurityOptions=["no-new-privileges"],
            systemControls=[{"namespace": "net.core.somaxconn", "value": "1024"}],
        )
    )
    host = request.host_config
    assert host["init"] is True
    assert (host["cap_add"], host["cap_drop"]) == (["NET_ADMIN"], ["MKNOD"])
    assert host["tmpfs"] == {"/run": "size=64m,noexec"}
    assert host["shm_size"] == "128m"
    assert host["ulimits"] == [{"name": "nofile", "soft": 1024, "hard": 2048}]
    assert host["read_only"] and host["privileged"]
    assert host["extra_hosts"] == {"db.local": "10.0.0.9"}
    assert (host["dns"], host["dns_search"]) == (["1.1.1.1"], ["corp"])
    assert host["security_opt"] == ["no-new-privileges"]
    assert host["sysctls"] == {"net.core.somaxconn": "1024"}


def test_health_check_and_stop_timeout() -> None:
    request = translate(
        container(healthCheck={"command": ["CMD-SHELL", "true"], "interval": 5, "retries": 2}, stopTimeout=7)
    )
    assert request.config["healthcheck"] == {
        "test": ["CMD-SHELL", "true"],
        "interval": 5 * NANOSECONDS,
        "timeout": 5 * NANOSECONDS,
        "retries": 2,
        "start_period": 0,
    }
    assert request.config["stop_timeout"] == 7


def test_docker_labels_do_not_override_ours() -> None:
    request = docker_create(
        spec := task_spec(container(dockerLabels={"team": "a", "dockyard.instance-id": "evil"})),
        spec.container("app"),
        {"team": "a", "dockyard.instance-id": "i-mine"},
    )
    assert request.config["labels"]["dockyard.instance-id"] == "i-mine"


def test_container_names_are_deterministic_and_docker_safe() -> None:
    spec = task_spec(container("web"), family="x" * 200)
    name = docker_name(spec, "web")
    assert name == docker_name(spec, "web") and name.endswith("-web-" + spec.task_id)
    assert len(name) < 160
