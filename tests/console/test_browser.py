"""The console in headless Chromium against a real server with real (hollow) agents: sign in,
open a cluster, run a task and watch it go RUNNING without a reload, stop it; scale a service
and watch its deployment bar move. A screenshot of each main page lands in artifacts/console/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.console.browser import Page
from tests.harness import Credentials, DockyardAgent, DockyardServer, HollowAgents, connected_instances

# One backend is enough for the browser: the pages read through the ECS actions, which the
# rest of the suite covers on both.
pytestmark = [pytest.mark.agents, pytest.mark.parametrize("server", ["sqlite"], indirect=True)]

CONTAINERS = [{"name": "web", "image": "dockyard/busybox", "memory": 64, "command": ["sleep", "3600"]}]


def test_run_a_task_watch_it_run_and_stop_it(
    page: Page, ecs: Any, account: Credentials, hollow: HollowAgents
) -> None:
    ecs.create_cluster(clusterName="shop")
    hollow.start(2, cluster="shop")
    instances = connected_instances(ecs, 2, cluster="shop")
    ecs.register_task_definition(family="storefront", containerDefinitions=CONTAINERS)

    page.sign_in(account)
    page.wait(lambda: "shop" in page.text("clusters"), "the cluster in the list")
    page.screenshot("clusters")
    page.click_link("shop")
    page.wait(lambda: page.text("running-count") == "0", "the cluster page")
    page.click_link("Instances")
    page.wait(lambda: "connected" in page.text("instances"), "the instances tab")
    page.screenshot("cluster-instances")

    page.click("run-task-panel")
    page.fill("taskDefinition", "storefront")
    page.click("run-task")
    page.wait(lambda: "/tasks/" in page.browser.current_url, "the new task's page")
    assert "started" in page.text("notice")
    page.mark()
    page.wait(lambda: page.text("last-status") == "RUNNING", "the task to be RUNNING")
    assert page.not_reloaded(), "the status came in without a reload"
    page.screenshot("task-running")
    task_id = page.browser.current_url.rsplit("/", 1)[-1]
    assert ecs.describe_tasks(cluster="shop", tasks=[task_id])["tasks"][0]["lastStatus"] == "RUNNING"

    page.click("stop-task")
    page.confirm()
    page.wait(lambda: "is stopping" in page.text("notice"), "the stop notice")
    page.mark()
    page.wait(lambda: page.text("last-status") == "STOPPED", "the task to be STOPPED")
    assert page.not_reloaded()
    page.screenshot("task-stopped")
    stopped = ecs.describe_tasks(cluster="shop", tasks=[task_id])["tasks"][0]
    assert stopped["lastStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == "Stopped from the console by tester"

    page.go(f"/console/clusters/shop/instances/{instances[0].rsplit('/', 1)[-1]}")
    page.wait(lambda: "ACTIVE" in page.text("instance-status"), "the instance page")
    page.screenshot("instance")

    ecs.register_task_definition(
        family="too-big", containerDefinitions=[{**CONTAINERS[0], "memory": 100_000}]
    )
    page.go("/console/clusters/shop")
    page.click("run-task-panel")
    page.fill("taskDefinition", "too-big")
    page.click("run-task")
    page.wait(lambda: "could be placed" in page.text("not-placed"), "the why-not-placed page")
    assert page.text("verdicts").count("RESOURCE:MEMORY") == 2
    page.screenshot("why-not-placed")


def test_scale_a_service_and_watch_its_deployment_bar_move(
    page: Page, ecs: Any, account: Credentials, hollow: HollowAgents
) -> None:
    ecs.create_cluster(clusterName="api")
    hollow.start(1, cluster="api", memory=100)  # room for one task of 64 MiB
    connected_instances(ecs, 1, cluster="api")
    ecs.register_task_definition(family="backend", containerDefinitions=CONTAINERS)
    ecs.register_task_definition(family="backend", containerDefinitions=[{**CONTAINERS[0], "memory": 96}])
    ecs.create_service(cluster="api", serviceName="orders", taskDefinition="backend:1", desiredCount=1)

    page.sign_in(account)
    page.go("/console/clusters/api/services/orders")
    page.wait(lambda: page.text("running-count") == "1", "the first task to run")
    page.fill("desiredCount", "3")
    page.click("scale")
    page.wait(lambda: "desired count 3" in page.text("notice"), "the scale notice")
    page.wait(lambda: _bar(page) == (1, 0, 3), "one of three tasks in the bar (no room for more)", timeout=60)
    page.screenshot("service-scaling")
    page.mark()
    hollow.start(2, cluster="api", memory=100)  # room for the other two
    try:
        page.wait(lambda: _bar(page) == (3, 0, 3), "three of three tasks in the bar", timeout=60)
    except Exception as error:  # say what the service saw
        events = ecs.describe_services(cluster="api", services=["orders"])["services"][0]["events"][:5]
        raise AssertionError(f"the bar shows {_bar(page)}; the service's events: {events}") from error
    assert page.not_reloaded(), "the bar moved without a reload"
    assert ecs.describe_services(cluster="api", services=["orders"])["services"][0]["runningCount"] == 3
    page.screenshot("service")

    page.click_link("Task definitions")
    page.click_link("backend")
    page.click_link("diff with 1")
    page.wait(lambda: '"memory": 96' in page.text("diff-lines"), "the diff")
    page.screenshot("task-definition-diff")


def _bar(page: Page) -> tuple[int, int, int]:
    """running, pending and desired of the service's first deployment, as its bar shows them."""
    script = (
        "const f = document.querySelector('#deployments .bar-figures');"
        "return f ? [f.dataset.running, f.dataset.pending, f.dataset.desired] : null;"
    )
    values = page.browser.execute_script(script)
    return (int(values[0]), int(values[1]), int(values[2])) if values else (-1, -1, -1)


def test_a_running_tasks_log_lines_appear_on_its_page(
    page: Page, server: DockyardServer, account: Credentials, tmp_path: Path, docker_engine: None
) -> None:
    ecs = server.client(account)
    ecs.create_cluster()
    agent = DockyardAgent(server, account, tmp_path / "agent", driver="docker").start()
    try:
        connected_instances(ecs, 1, message=agent.log()[-3000:])
        ecs.register_task_definition(
            family="talker",
            containerDefinitions=[
                {
                    "name": "talker",
                    "image": "dockyard/busybox",
                    "memory": 32,
                    "command": [
                        "sh",
                        "-c",
                        "echo first line; sleep 3; echo hello from the console; sleep 300",
                    ],
                }
            ],
        )
        page.sign_in(account)
        page.go("/console/clusters/default?tab=tasks")
        page.click("run-task-panel")
        page.fill("taskDefinition", "talker")
        page.click("run-task")
        page.wait(lambda: "/tasks/" in page.browser.current_url, "the new task's page")
        page.mark()
        page.wait(lambda: "hello from the console" in page.text("log-lines"), "the log line", timeout=90)
        assert page.not_reloaded(), "the log line came in without a reload"
        page.screenshot("task-logs")
        page.click("stop-task")
        page.confirm()
        page.wait(lambda: page.text("last-status") == "STOPPED", "the task to be STOPPED", timeout=60)
    finally:
        agent.stop()
