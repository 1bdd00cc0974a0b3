"""The console in headless Chromium against a real server with real (hollow) agents: sign in,
open a cluster, run a task and watch it go RUNNING without a reload, stop it; scale a service
and watch its deployment bar move. A screenshot of each main page lands in artifacts/console/.
"""

from __future__ import annotations

import json
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


def _live(page: Page) -> dict[str, Any]:
    """How the page stays live: its mode (stream / poll), the changes the server announced and
    the fetches the page made since it loaded (the browser's network log)."""
    found: dict[str, Any] = page.browser.execute_script(
        "const root = document.documentElement.dataset;"
        "const fetches = performance.getEntriesByType('resource')"
        "  .filter(e => e.initiatorType === 'fetch').length;"
        "return {mode: root.live || '', changes: Number(root.changes || '0'), fetches: fetches};"
    )
    return found


def test_a_change_made_through_the_api_appears_without_reload_or_polling(
    page: Page, ecs: Any, account: Credentials
) -> None:
    ecs.create_cluster(clusterName="first")
    page.sign_in(account)
    page.wait(lambda: _live(page)["mode"] == "stream", "the page's event stream to open")
    page.mark()
    assert _live(page)["fetches"] == 0, "no request before anything changed: no poll timer"
    ecs.create_cluster(clusterName="second-cluster")
    page.wait(lambda: "second-cluster" in page.text("clusters"), "the new cluster on the open page")
    assert page.not_reloaded(), "it came in without a reload"
    live = _live(page)
    assert live["mode"] == "stream"
    assert 1 <= live["fetches"] <= live["changes"], f"each fetch answered an announced change: {live}"


IOT_DOCUMENT = json.dumps({"operation": "runCommand", "command": ["true"]})


def test_a_jobs_progress_moves_live_and_it_is_cancelled(
    page: Page, server: DockyardServer, account: Credentials
) -> None:
    iot = server.client(account, "iot")
    devices = server.client(account, "iot-jobs-data")
    things = [f"edge-{n}" for n in range(4)]
    arns = [iot.create_thing(thingName=name)["thingArn"] for name in things]
    iot.create_job(
        jobId="firmware-7",
        targets=arns,
        document=IOT_DOCUMENT,
        jobExecutionsRolloutConfig={"maximumPerMinute": 100},
        timeoutConfig={"inProgressTimeoutInMinutes": 30},
    )

    def run(thing: str, status: str, **details: str) -> None:
        execution = devices.start_next_pending_job_execution(thingName=thing)["execution"]
        if status != "IN_PROGRESS":
            devices.update_job_execution(
                jobId="firmware-7",
                thingName=thing,
                status=status,
                statusDetails=details,
                expectedVersion=execution["versionNumber"],
            )

    run(things[0], "SUCCEEDED", exitCode="0")
    page.sign_in(account)
    page.click_link("Jobs")
    page.wait(lambda: "firmware-7" in page.text("jobs"), "the job in the list")
    page.wait(lambda: _live(page)["mode"] == "stream", "the page's event stream to open")
    page.mark()
    run(things[1], "FAILED", exitCode="2", reason="disk full")
    page.wait(lambda: "2 / 4" in page.text("jobs"), "two of four done, live")
    assert page.not_reloaded()
    page.screenshot("jobs")

    page.click_link("firmware-7")
    page.wait(lambda: "succeeded 1" in page.text("job-counts"), "the job's page")
    page.wait(lambda: _live(page)["mode"] == "stream", "the page's event stream to open")
    page.mark()
    run(things[2], "IN_PROGRESS")
    page.wait(lambda: "in progress 1" in page.text("job-counts"), "an execution in progress, live")
    assert "reason=disk full" in page.text("job-executions")
    assert page.not_reloaded()
    page.screenshot("job")

    page.click("cancel-force")
    page.fill("cancel-comment", "bad batch")
    page.click("cancel-job")
    page.confirm()
    page.wait(lambda: "canceled (forced)" in page.text("notice"), "the cancel notice")
    assert "CANCELED" in page.text("job-status")
    job = iot.describe_job(jobId="firmware-7")["job"]
    assert (job["status"], job["forceCanceled"], job["comment"]) == ("CANCELED", True, "bad batch")
    page.screenshot("job-canceled")
