"""State-frame tasks as specs: overrides, implied dependencies, defaults."""

from __future__ import annotations

from dockyard.agent.spec import DEFAULT_STOP_TIMEOUT, Dependency, apply_overrides
from dockyard.agent.status import Condition, TaskStatus
from tests.agent.builders import container, task_spec


def test_overrides_replace_command_and_limits_and_merge_environment() -> None:
    definition = container(
        command=["a"],
        cpu=10,
        memory=64,
        environment=[{"name": "KEEP", "value": "1"}, {"name": "CHANGE", "value": "old"}],
    )
    merged = apply_overrides(
        definition,
        {
            "name": "app",
            "command": ["b", "c"],
            "cpu": 20,
            "memory": 128,
            "memoryReservation": 32,
            "environment": [{"name": "CHANGE", "value": "new"}, {"name": "ADD", "value": "2"}],
        },
    )
    assert merged["command"] == ["b", "c"]
    assert (merged["cpu"], merged["memory"], merged["memoryReservation"]) == (20, 128, 32)
    assert {e["name"]: e["value"] for e in merged["environment"]} == {
        "KEEP": "1",
        "CHANGE": "new",
        "ADD": "2",
    }
    assert definition["command"] == ["a"]  # the task definition itself is untouched


def test_task_overrides_reach_the_named_container_only() -> None:
    spec = task_spec(
        container("a", command=["x"]),
        container("b", command=["y"]),
        overrides={"containerOverrides": [{"name": "b", "command": ["z"]}]},
    )
    assert spec.container("a").definition["command"] == ["x"]
    assert spec.container("b").definition["command"] == ["z"]


def test_links_and_volumes_from_imply_start_dependencies() -> None:
    spec = task_spec(
        container("db"),
        container("data"),
        container(
            "app",
            links=["db:database"],
            volumesFrom=[{"sourceContainer": "data"}],
            dependsOn=[{"containerName": "db", "condition": "HEALTHY"}],
        ),
    )
    assert spec.container("app").depends_on == (
        Dependency("db", Condition.HEALTHY),
        Dependency("data", Condition.START),
    )


def test_defaults() -> None:
    spec = task_spec(container("app"))
    app = spec.container("app")
    assert app.essential and app.stop_timeout == DEFAULT_STOP_TIMEOUT
    assert app.start_timeout is None and not app.has_health_check
    assert spec.network_mode == "bridge" and spec.desired is TaskStatus.RUNNING
    assert len(spec.task_id) == 32 and spec.arn.endswith(spec.task_id)
    assert app.container_arn.endswith("/container/app")


def test_desired_stopped() -> None:
    assert task_spec(container(), desired="STOPPED").desired is TaskStatus.STOPPED
