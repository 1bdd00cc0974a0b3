"""The console's pages (GET): each reads through ECS actions as its user and renders a template.

Lists are paged as the list APIs page them (``next`` carries the API's opaque nextToken), so
a cluster of thousands of tasks costs one page of them per view.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from dockyard.agent_channel import logs
from dockyard.console import present
from dockyard.console.ecs_calls import Ecs
from dockyard.console.web import PREFIX, Visit
from dockyard.ecs import placement_explain
from dockyard.ecs.services.scheduler import DEFAULT_STRATEGY
from dockyard.errors import ApiError, ClientException, ClusterNotFoundException, ServiceNotFoundException

PAGE_SIZE = 50
LOG_LINES = 200
TASK_STATUSES = ("RUNNING", "STOPPED")
TASK_FILTERS = ("family", "serviceName", "startedBy")  # ListTasks' own filters, as it applies them
INSTANCE_STATUSES = ("ACTIVE", "DRAINING", "REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED")


async def home(visit: Visit) -> Response:
    return visit.redirect(f"{PREFIX}/clusters")


async def clusters(visit: Visit) -> Response:
    listed = await visit.ecs("ListClusters", maxResults=PAGE_SIZE, nextToken=visit.param("next") or None)
    described = await _describe_clusters(visit.ecs, listed["clusterArns"])
    return visit.render("clusters.html", clusters=described, next_token=listed.get("nextToken"))


async def _describe_clusters(ecs: Ecs, arns: list[str]) -> list[dict[str, Any]]:
    if not arns:
        return []
    result = await ecs("DescribeClusters", clusters=arns)
    return list(result["clusters"])


async def cluster_record(ecs: Ecs, name: str) -> dict[str, Any]:
    found = await _describe_clusters(ecs, [name])
    if not found:
        raise ClusterNotFoundException(f"Cluster not found: {name}")
    return found[0]


async def cluster(visit: Visit) -> Response:
    name = visit.param("cluster")
    record = await cluster_record(visit.ecs, name)
    tab = visit.param("tab", "services")
    if tab not in ("services", "tasks", "instances"):
        tab = "services"
    status = visit.param("status")
    values: dict[str, Any] = {}
    if tab == "services":
        values["services"], next_token = await service_page(visit.ecs, name, visit.param("next"))
    elif tab == "tasks":
        status = status if status in TASK_STATUSES else "RUNNING"
        filters = {member: visit.param(member) or None for member in TASK_FILTERS}
        values["filters"] = filters
        values["tasks"], next_token = await task_page(
            visit.ecs, name, visit.param("next"), desiredStatus=status, **filters
        )
    else:
        status = status if status in INSTANCE_STATUSES else ""
        values["instances"], next_token = await instance_page(visit.ecs, name, visit.param("next"), status)
    families = await visit.ecs("ListTaskDefinitionFamilies", status="ACTIVE", maxResults=100)
    return visit.render(
        "cluster.html",
        cluster=record,
        tab=tab,
        state=status,
        next_token=next_token,
        families=families["families"],
        **values,
    )


async def service_page(ecs: Ecs, cluster: str, token: str) -> tuple[list[dict[str, Any]], str | None]:
    listed = await ecs("ListServices", cluster=cluster, maxResults=PAGE_SIZE, nextToken=token or None)
    arns = listed["serviceArns"]
    described: list[dict[str, Any]] = []
    for start in range(0, len(arns), 10):  # DescribeServices takes ten at a time
        result = await ecs("DescribeServices", cluster=cluster, services=arns[start : start + 10])
        described += result["services"]
    return described, listed.get("nextToken")


async def task_page(
    ecs: Ecs, cluster: str, token: str, **filters: Any
) -> tuple[list[dict[str, Any]], str | None]:
    listed = await ecs("ListTasks", cluster=cluster, maxResults=PAGE_SIZE, nextToken=token or None, **filters)
    return await describe_tasks(ecs, cluster, listed["taskArns"]), listed.get("nextToken")


async def describe_tasks(ecs: Ecs, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
    if not arns:
        return []
    return list((await ecs("DescribeTasks", cluster=cluster, tasks=arns))["tasks"])


async def instance_page(
    ecs: Ecs, cluster: str, token: str, status: str
) -> tuple[list[dict[str, Any]], str | None]:
    listed = await ecs(
        "ListContainerInstances",
        cluster=cluster,
        maxResults=PAGE_SIZE,
        nextToken=token or None,
        status=status or None,
    )
    arns = listed["containerInstanceArns"]
    if not arns:
        return [], listed.get("nextToken")
    described = await ecs("DescribeContainerInstances", cluster=cluster, containerInstances=arns)
    instances = described["containerInstances"]
    for instance in instances:
        instance["use"] = present.resource_use(instance)
    return list(instances), listed.get("nextToken")


async def service(visit: Visit) -> Response:
    cluster_name, name = visit.param("cluster"), visit.param("service")
    found = await visit.ecs("DescribeServices", cluster=cluster_name, services=[name])
    if not found["services"]:
        raise ServiceNotFoundException(f"Service not found: {name}")
    record = found["services"][0]
    bars = {
        d["id"]: present.deployment_bar(d["runningCount"], d["pendingCount"], d["desiredCount"])
        for d in record.get("deployments", [])
    }
    tasks, next_token = await task_page(
        visit.ecs, cluster_name, visit.param("next"), serviceName=name, desiredStatus="RUNNING"
    )
    primary = next((d for d in record.get("deployments", []) if d["status"] == "PRIMARY"), None)
    short = (
        primary is not None and primary["runningCount"] + primary["pendingCount"] < primary["desiredCount"]
    )
    placement = None
    if primary is not None and (short or visit.param("placement")):
        placement = await explain_placement(
            visit.ecs,
            cluster=cluster_name,
            task_definition=primary["taskDefinition"],
            group=f"service:{name}",
            launch_type=record.get("launchType") or "EC2",
            constraints=record.get("placementConstraints"),
            strategies=record.get("placementStrategy") or list(DEFAULT_STRATEGY),
        )
    return visit.render(
        "service.html",
        placement=placement,
        short=short,
        cluster_name=cluster_name,
        service=record,
        bars=bars,
        events=record.get("events", [])[:50],
        tasks=tasks,
        next_token=next_token,
    )


async def task(visit: Visit) -> Response:
    cluster_name, task_id = visit.param("cluster"), visit.param("task")
    found = await visit.ecs("DescribeTasks", cluster=cluster_name, tasks=[task_id], include=["TAGS"])
    if not found["tasks"]:
        raise ClientException(f"Task not found: {task_id}")
    record = found["tasks"][0]
    try:
        lines = await visit.ecs.read(
            lambda ctx: logs.read(ctx, present.short_id(record["taskArn"]), None, LOG_LINES)
        )
    except ApiError:
        lines = []
    placed = await visit.ecs.read(
        lambda ctx: placement_explain.placed(
            ctx, present.short_id(record["clusterArn"]), present.short_id(record["taskArn"])
        )
    )
    timestamps = [
        (label, record.get(member))
        for label, member in (
            ("Created", "createdAt"),
            ("Pull started", "pullStartedAt"),
            ("Pull stopped", "pullStoppedAt"),
            ("Started", "startedAt"),
            ("Stopping", "stoppingAt"),
            ("Execution stopped", "executionStoppedAt"),
            ("Stopped", "stoppedAt"),
        )
        if record.get(member)
    ]
    return visit.render(
        "task.html",
        cluster_name=cluster_name,
        task=record,
        placed=placed,
        timestamps=timestamps,
        lines=[(present.when(at), name, line) for at, name, line in lines],
    )


async def instance(visit: Visit) -> Response:
    cluster_name, instance_id = visit.param("cluster"), visit.param("instance")
    found = await visit.ecs(
        "DescribeContainerInstances", cluster=cluster_name, containerInstances=[instance_id]
    )
    if not found["containerInstances"]:
        raise ClientException(f"Container instance not found: {instance_id}")
    record = found["containerInstances"][0]
    tasks, next_token = await task_page(
        visit.ecs, cluster_name, visit.param("next"), containerInstance=record["containerInstanceArn"]
    )
    return visit.render(
        "instance.html",
        cluster_name=cluster_name,
        instance=record,
        use=present.resource_use(record),
        ports=present.port_use(record),
        tasks=tasks,
        next_token=next_token,
    )


async def families(visit: Visit) -> Response:
    status = "ALL" if visit.param("status") == "ALL" else "ACTIVE"
    listed = await visit.ecs(
        "ListTaskDefinitionFamilies",
        status=status,
        maxResults=PAGE_SIZE,
        nextToken=visit.param("next") or None,
    )
    return visit.render(
        "families.html", families=listed["families"], state=status, next_token=listed.get("nextToken")
    )


async def family(visit: Visit) -> Response:
    name = visit.param("family")
    status = "INACTIVE" if visit.param("status") == "INACTIVE" else "ACTIVE"
    listed = await visit.ecs(
        "ListTaskDefinitions",
        familyPrefix=name,
        status=status,
        sort="DESC",
        maxResults=100,
        nextToken=visit.param("next") or None,
    )
    revisions = own_revisions(listed["taskDefinitionArns"], name)
    return visit.render(
        "family.html", family=name, revisions=revisions, state=status, next_token=listed.get("nextToken")
    )


async def revision(visit: Visit) -> Response:
    name, number = visit.param("family"), visit.param("revision")
    described = await visit.ecs("DescribeTaskDefinition", taskDefinition=f"{name}:{number}", include=["TAGS"])
    definition = described["taskDefinition"]
    against = visit.param("diff")
    diff = None
    if against:
        other = await visit.ecs("DescribeTaskDefinition", taskDefinition=f"{name}:{against}")
        diff = present.json_diff(
            present.definition_body(other["taskDefinition"]), present.definition_body(definition)
        )
    listed = await visit.ecs(
        "ListTaskDefinitions", familyPrefix=name, status="ACTIVE", sort="DESC", maxResults=100
    )
    others = [n for n in own_revisions(listed["taskDefinitionArns"], name) if str(n) != number]
    return visit.render(
        "revision.html",
        family=name,
        definition=definition,
        tags=described.get("tags", []),
        against=against,
        diff=diff,
        others=others,
    )


def own_revisions(arns: list[str], family: str) -> list[int]:
    """The revision numbers of ``family`` among task definition ARNs (``familyPrefix`` is a
    prefix: ``web`` also lists ``web-admin``)."""
    revisions = []
    for arn in arns:
        name, _, number = arn.rsplit("/", 1)[-1].rpartition(":")
        if name == family and number.isdigit():
            revisions.append(int(number))
    return revisions


async def explain_placement(ecs: Ecs, **request: Any) -> placement_explain.Explanation | None:
    """Why (not) placed, for the console; None when the request itself is refused (the
    definition went INACTIVE...): the page then shows what it has without it."""
    try:
        return await ecs.read(lambda ctx: placement_explain.explain(ctx, **request))
    except ApiError:
        return None
