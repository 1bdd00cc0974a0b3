"""The console over plain HTTP against a real server: who may see and do what."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dockyard.console import pages
from dockyard.identity import keys
from dockyard.store.db import make_engine, transaction
from tests.console.client import ConsoleClient
from tests.harness import Credentials, DockyardServer, HollowAgents, connected_instances, wait_for


@pytest.fixture
def console(server: DockyardServer, account: Credentials) -> ConsoleClient:
    client = ConsoleClient(server)
    assert client.sign_in(account).status == 303
    return client


@pytest.mark.parametrize(
    "path", ["/console/clusters", "/console/clusters/default", "/console/task-definitions", "/console/"]
)
def test_a_page_without_a_session_sends_to_the_sign_in_page(server: DockyardServer, path: str) -> None:
    reply = ConsoleClient(server).get(path)
    assert reply.status == 303
    assert reply.location.startswith("/console/signin?next=")


def test_a_forged_or_foreign_cookie_is_no_session(server: DockyardServer, console: ConsoleClient) -> None:
    other = ConsoleClient(server)
    cookie = next(c for c in console.jar if c.name == "dockyard_console")
    body, mac = cookie.value.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    other.opener.addheaders = [("Cookie", f"dockyard_console={forged}")]
    assert other.get("/console/clusters").status == 303


def test_an_action_without_a_session_is_refused(server: DockyardServer, ecs: Any) -> None:
    ecs.create_cluster(clusterName="quiet")
    reply = ConsoleClient(server).post(
        "/console/clusters/quiet/run-task", {"taskDefinition": "x", "csrf": "x"}
    )
    assert reply.status == 403


def test_a_wrong_secret_does_not_sign_in(server: DockyardServer, account: Credentials) -> None:
    client = ConsoleClient(server)
    wrong = Credentials(account.access_key_id, account.secret_access_key + "x", account.account_id)
    reply = client.sign_in(wrong)
    assert reply.status == 403
    assert "not valid" in reply.text
    assert client.get("/console/clusters").status == 303


def test_the_session_cookie_is_http_only_and_same_site_strict(
    server: DockyardServer, account: Credentials
) -> None:
    reply = ConsoleClient(server).sign_in(account)
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/console" in cookie
    assert "secure" not in cookie  # plain HTTP here; set when the console is served over TLS


def test_an_account_never_sees_another_accounts_resources(server: DockyardServer, ecs: Any) -> None:
    ecs.create_cluster(clusterName="private-a")
    ecs.register_task_definition(
        family="secret-family",
        containerDefinitions=[{"name": "c", "image": "dockyard/busybox", "memory": 32}],
    )
    other = ConsoleClient(server)
    assert other.sign_in(server.new_account()).status == 303
    assert "private-a" not in other.get("/console/clusters").text
    assert other.get("/console/clusters/private-a").status == 400  # ClusterNotFoundException
    assert "secret-family" not in other.get("/console/task-definitions?status=ALL").text
    assert other.get("/console/task-definitions/secret-family/1").status == 400


@pytest.mark.parametrize(
    "origin, with_token",
    [
        pytest.param("http://evil.example", True, id="another origin, even with the right token"),
        pytest.param(None, True, id="no Origin and no Referer"),
        pytest.param("same", False, id="same origin but no CSRF token"),
    ],
)
def test_a_forged_cross_site_post_is_refused(
    server: DockyardServer, ecs: Any, console: ConsoleClient, origin: str | None, with_token: bool
) -> None:
    ecs.create_cluster(clusterName="guarded")
    ecs.register_task_definition(
        family="guarded", containerDefinitions=[{"name": "c", "image": "dockyard/busybox", "memory": 32}]
    )
    fields = {"taskDefinition": "guarded", "count": "1"}
    if with_token:
        fields["csrf"] = console.csrf("/console/clusters/guarded")
    reply = console.post("/console/clusters/guarded/run-task", fields, origin=origin)
    assert reply.status == 403
    assert ecs.list_tasks(cluster="guarded", desiredStatus="STOPPED")["taskArns"] == []


def test_an_action_refused_by_ecs_shows_ecs_message(
    server: DockyardServer, ecs: Any, console: ConsoleClient
) -> None:
    ecs.create_cluster(clusterName="empty")
    ecs.register_task_definition(
        family="lonely", containerDefinitions=[{"name": "c", "image": "dockyard/busybox", "memory": 32}]
    )
    token = console.csrf("/console/clusters/empty")
    reply = console.post(
        "/console/clusters/empty/run-task", {"taskDefinition": "lonely", "count": "1", "csrf": token}
    )
    assert reply.status == 303
    page = console.get(reply.location)
    assert "InvalidParameterException: No Container Instances were found in your cluster." in page.text
    again = console.post(
        "/console/clusters/empty/run-task", {"taskDefinition": "lonely", "count": "11", "csrf": token}
    )
    assert "count must be between 1 and 10." in console.get(again.location).text


def test_revoking_the_key_ends_its_sessions(server: DockyardServer, account: Credentials) -> None:
    client = ConsoleClient(server)
    client.sign_in(account)
    assert client.get("/console/clusters").status == 200
    engine = make_engine(server.store_url)
    try:
        with transaction(engine) as connection:
            assert keys.revoke_key(connection, account.access_key_id)
    finally:
        engine.dispose()
    wait_for(lambda: client.get("/console/clusters").status == 303, timeout=120, message="for the key cache")


def test_drain_an_instance_and_force_a_new_deployment(
    server: DockyardServer, ecs: Any, console: ConsoleClient, hollow: HollowAgents
) -> None:
    ecs.create_cluster(clusterName="ops")
    hollow.start(1, cluster="ops")
    instance_id = connected_instances(ecs, 1, cluster="ops")[0].rsplit("/", 1)[-1]
    ecs.register_task_definition(
        family="ops", containerDefinitions=[{"name": "c", "image": "dockyard/busybox", "memory": 32}]
    )
    ecs.create_service(cluster="ops", serviceName="svc", taskDefinition="ops", desiredCount=1)
    first = ecs.describe_services(cluster="ops", services=["svc"])["services"][0]["deployments"][0]["id"]
    service_page = "/console/clusters/ops/services/svc"
    token = console.csrf(service_page)

    reply = console.post(service_page + "/deploy", {"csrf": token})
    assert reply.status == 303 and reply.location == service_page
    deployments = ecs.describe_services(cluster="ops", services=["svc"])["services"][0]["deployments"]
    primary = next(d for d in deployments if d["status"] == "PRIMARY")
    assert primary["id"] != first
    assert "a new deployment started" in console.get(reply.location).text

    reply = console.post(
        f"/console/clusters/ops/instances/{instance_id}/state", {"status": "DRAINING", "csrf": token}
    )
    assert reply.status == 303
    described = ecs.describe_container_instances(cluster="ops", containerInstances=[instance_id])
    assert described["containerInstances"][0]["status"] == "DRAINING"
    assert f"Instance {instance_id} is DRAINING." in console.get(reply.location).text


def test_a_refused_scale_shows_the_apis_own_error(
    server: DockyardServer, ecs: Any, console: ConsoleClient
) -> None:
    ecs.create_cluster(clusterName="scaled")
    ecs.register_task_definition(
        family="scaled", containerDefinitions=[{"name": "c", "image": "dockyard/busybox", "memory": 32}]
    )
    ecs.create_service(cluster="scaled", serviceName="svc", taskDefinition="scaled", desiredCount=0)
    service_page = "/console/clusters/scaled/services/svc"
    token = console.csrf(service_page)

    def both_refuse(desired: int) -> None:
        with pytest.raises(ClientError) as refused:
            ecs.update_service(cluster="scaled", service="svc", desiredCount=desired)
        error = refused.value.response["Error"]
        reply = console.post(service_page + "/scale", {"desiredCount": str(desired), "csrf": token})
        assert reply.status == 303
        assert html.escape(f"{error['Code']}: {error['Message']}") in console.get(reply.location).text

    both_refuse(-1)
    ecs.delete_service(cluster="scaled", service="svc")
    both_refuse(1)  # the service is no longer active


def test_why_not_placed_names_each_instances_reason_and_stage(
    server: DockyardServer, ecs: Any, console: ConsoleClient, hollow: HollowAgents
) -> None:
    ecs.create_cluster(clusterName="tight")
    hollow.start(2, cluster="tight", memory=256)
    arns = connected_instances(ecs, 2, cluster="tight")
    big = [{"name": "c", "image": "dockyard/busybox", "memory": 512}]
    ecs.register_task_definition(family="big", containerDefinitions=big)
    ecs.register_task_definition(family="small", containerDefinitions=[{**big[0], "memory": 32}])

    token = console.csrf("/console/clusters/tight")
    reply = console.post(
        "/console/clusters/tight/run-task", {"taskDefinition": "big", "count": "1", "csrf": token}
    )
    assert reply.status == 200
    assert "No task of big could be placed." in reply.text
    verdicts = _verdicts(reply.text)
    assert verdicts == {arn.rsplit("/", 1)[-1]: ("RESOURCE:MEMORY", "memory") for arn in arns}

    ecs.create_service(cluster="tight", serviceName="short", taskDefinition="big", desiredCount=1)
    page = console.get("/console/clusters/tight/services/short").text
    assert "Why not placed" in page and "No instance can take one more task now." in page
    assert set(_verdicts(page).values()) == {("RESOURCE:MEMORY", "memory")}

    ecs.create_service(cluster="tight", serviceName="fits", taskDefinition="small", desiredCount=0)
    page = console.get("/console/clusters/tight/services/fits?placement=1").text
    assert "One more task would go to instance" in page and "spread(instanceId)" in page
    assert set(_verdicts(page).values()) == {("fits", "")}


def _verdicts(page: str) -> dict[str, tuple[str, str]]:
    """instance id -> (verdict, refusing stage) from a page's table of placement verdicts."""
    table = page.split('id="verdicts"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r"instances/([0-9a-f]+)\">.*?<td>.*?</td>\s*<td><span[^>]*>([^<]+)</span></td>\s*<td>([^<]*)</td>",
        table,
        re.S,
    )
    return {instance: (verdict, stage.strip()) for instance, verdict, stage in rows}


def test_a_cluster_of_many_tasks_is_shown_a_page_at_a_time(
    server: DockyardServer, ecs: Any, console: ConsoleClient, hollow: HollowAgents
) -> None:
    ecs.create_cluster(clusterName="busy")
    hollow.start(1, cluster="busy", memory=8192)
    connected_instances(ecs, 1, cluster="busy")
    for family in ("many", "other"):
        ecs.register_task_definition(
            family=family, containerDefinitions=[{"name": "c", "image": "dockyard/busybox", "memory": 8}]
        )
    for _ in range(6):
        assert ecs.run_task(cluster="busy", taskDefinition="many", count=10)["failures"] == []
    ecs.run_task(cluster="busy", taskDefinition="other", count=3)

    first = console.get("/console/clusters/busy?tab=tasks&family=many")
    shown = set(re.findall(r"/tasks/([0-9a-f]{32})\"", first.text))
    assert len(shown) == pages.PAGE_SIZE
    next_link = re.search(r'href="\?([^"]*next=[^"]+)" rel="next"', first.text)
    assert next_link, "a next-page link"
    second = console.get("/console/clusters/busy?" + html.unescape(next_link.group(1)))
    rest = set(re.findall(r"/tasks/([0-9a-f]{32})\"", second.text))
    assert len(rest) == 60 - pages.PAGE_SIZE and not shown & rest
    assert 'rel="next"' not in second.text
    every = {arn.rsplit("/", 1)[-1] for arn in _all_task_arns(ecs, "busy", "many")}
    assert shown | rest == every  # the family filter kept the other family's tasks out


def _all_task_arns(ecs: Any, cluster: str, family: str) -> list[str]:
    pager = ecs.get_paginator("list_tasks")
    return [arn for page in pager.paginate(cluster=cluster, family=family) for arn in page["taskArns"]]


def test_a_task_page_shows_the_scores_that_placed_it_as_they_were_then(
    server: DockyardServer, ecs: Any, console: ConsoleClient, hollow: HollowAgents
) -> None:
    ecs.create_cluster(clusterName="scored")
    hollow.start(3, cluster="scored", memory=1024)
    connected_instances(ecs, 3, cluster="scored")
    ecs.register_task_definition(
        family="packed", containerDefinitions=[{"name": "c", "image": "dockyard/busybox", "memory": 100}]
    )
    binpack = [{"type": "binpack", "field": "memory"}]
    first = ecs.run_task(cluster="scored", taskDefinition="packed", placementStrategy=binpack)["tasks"][0]
    for _ in range(2):  # the cluster moves on: the first task's instance fills up
        ecs.run_task(cluster="scored", taskDefinition="packed", placementStrategy=binpack)

    page = console.get(f"/console/clusters/scored/tasks/{first['taskArn'].rsplit('/', 1)[-1]}").text
    placed = page.split('id="placed"', 1)[1].split("</section>", 1)[0]
    assert "<code>binpack(memory)</code>" in placed
    assert re.search(r'id="placed-others">2<', placed), "two other instances could have taken it"
    scores = dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", placed))
    assert scores == {"binpack(memory)": "924"}  # what it left free then; 724 now
    assert "dockyard:placement" not in str(ecs.describe_tasks(cluster="scored", tasks=[first["taskArn"]]))


def test_a_cluster_of_thousands_of_tasks_is_paged_and_filtered(
    server: DockyardServer, ecs: Any, console: ConsoleClient, hollow: HollowAgents
) -> None:
    """2,000 tasks: each view of them costs one page of 50 (the list APIs' own paging and
    filters), whatever the cluster holds."""
    ecs.create_cluster(clusterName="crowd")
    hollow.start(2, cluster="crowd", memory=16384)
    connected_instances(ecs, 2, cluster="crowd")
    for family in ("bulk", "side"):
        ecs.register_task_definition(
            family=family, containerDefinitions=[{"name": "c", "image": "dockyard/busybox", "memory": 8}]
        )
    side: set[str] = set()
    for n in range(200):  # RunTask starts at most ten at a time
        family = "side" if n % 4 == 0 else "bulk"
        started = ecs.run_task(cluster="crowd", taskDefinition=family, count=10)
        assert started["failures"] == []
        if family == "side":
            side |= {task["taskArn"].rsplit("/", 1)[-1] for task in started["tasks"]}
    stopped = sorted(side)[:3]
    for task_id in stopped:
        ecs.stop_task(cluster="crowd", task=task_id)

    def shown(query: str) -> tuple[list[str], str | None]:
        reply = console.get(f"/console/clusters/crowd?{query}")
        assert reply.status == 200
        rows = re.findall(r"/tasks/([0-9a-f]{32})\"", reply.text.split('id="tasks"', 1)[1])
        found = re.search(r'href="\?([^"]*next=[^"]+)" rel="next"', reply.text)
        return rows, html.unescape(found.group(1)) if found else None

    everything, token = shown("tab=tasks")
    assert len(everything) == pages.PAGE_SIZE and token, "one page of 2,000, and a way on"
    seen: list[str] = []
    query: str | None = "tab=tasks&family=side"
    while query is not None:
        rows, query = shown(query)
        assert len(rows) <= pages.PAGE_SIZE
        seen += rows
    assert len(seen) == len(set(seen)) == 500 - len(stopped)  # RUNNING by default, no repeats
    assert set(seen) == side - set(stopped)  # the family filter, applied by ListTasks
    gone, token = shown("tab=tasks&status=STOPPED")
    assert sorted(gone) == stopped and token is None
