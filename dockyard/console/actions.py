"""The console's actions (POST): each is one ECS action, called as the API calls it.

Success redirects to the page that shows the result, with a notice; an ECS error redirects
back with ECS's own code and message (Post/Redirect/Get, so a reload never repeats an action).
A RunTask that placed nothing shows, instance by instance, why not.
"""

from __future__ import annotations

from starlette.responses import Response

from dockyard.console import present
from dockyard.console.pages import explain_placement
from dockyard.console.web import PREFIX, Visit
from dockyard.errors import ApiError, InvalidParameterException


def _cluster_path(visit: Visit) -> str:
    return f"{PREFIX}/clusters/{visit.param('cluster')}"


def _refused(error: ApiError) -> tuple[str, str]:
    return "error", f"{error.code}: {error.message}"


def _whole_number(text: str, member: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise InvalidParameterException(f"{member} must be a whole number.") from None


async def run_task(visit: Visit) -> Response:
    cluster = visit.param("cluster")
    back = f"{_cluster_path(visit)}?tab=tasks"
    try:
        result = await visit.ecs(
            "RunTask",
            cluster=cluster,
            taskDefinition=visit.field("taskDefinition"),
            count=_whole_number(visit.field("count", "1"), "count"),
            startedBy=f"console/{visit.session.user_name}"[:128],
        )
    except ApiError as error:
        return visit.redirect(back, _refused(error))
    started = result["tasks"]
    if result["failures"]:
        definition = started[0]["taskDefinitionArn"] if started else visit.field("taskDefinition")
        family = definition.rsplit("/", 1)[-1].split(":")[0]
        return visit.render(
            "not_placed.html",
            cluster_name=cluster,
            task_definition=visit.field("taskDefinition"),
            started=started,
            failures=result["failures"],
            placement=await explain_placement(
                visit.ecs, cluster=cluster, task_definition=definition, group=f"family:{family}"
            ),
        )
    if len(started) == 1:
        task_id = present.short_id(started[0]["taskArn"])
        return visit.redirect(f"{_cluster_path(visit)}/tasks/{task_id}", ("info", f"Task {task_id} started."))
    return visit.redirect(back, ("info", f"{len(started)} tasks started."))


async def stop_task(visit: Visit) -> Response:
    task_id = visit.param("task")
    back = f"{_cluster_path(visit)}/tasks/{task_id}"
    try:
        await visit.ecs(
            "StopTask",
            cluster=visit.param("cluster"),
            task=task_id,
            reason=f"Stopped from the console by {visit.session.user_name}",
        )
    except ApiError as error:
        return visit.redirect(back, _refused(error))
    return visit.redirect(back, ("info", f"Task {task_id} is stopping."))


async def scale_service(visit: Visit) -> Response:
    name = visit.param("service")
    back = f"{_cluster_path(visit)}/services/{name}"
    try:
        desired = _whole_number(visit.field("desiredCount"), "desiredCount")
        await visit.ecs("UpdateService", cluster=visit.param("cluster"), service=name, desiredCount=desired)
    except ApiError as error:
        return visit.redirect(back, _refused(error))
    return visit.redirect(back, ("info", f"Service {name}: desired count {desired}."))


async def deploy_service(visit: Visit) -> Response:
    name = visit.param("service")
    back = f"{_cluster_path(visit)}/services/{name}"
    try:
        await visit.ecs(
            "UpdateService", cluster=visit.param("cluster"), service=name, forceNewDeployment=True
        )
    except ApiError as error:
        return visit.redirect(back, _refused(error))
    return visit.redirect(back, ("info", f"Service {name}: a new deployment started."))


async def instance_state(visit: Visit) -> Response:
    instance_id = visit.param("instance")
    back = f"{_cluster_path(visit)}/instances/{instance_id}"
    status = visit.field("status")
    try:
        result = await visit.ecs(
            "UpdateContainerInstancesState",
            cluster=visit.param("cluster"),
            containerInstances=[instance_id],
            status=status,
        )
    except ApiError as error:
        return visit.redirect(back, _refused(error))
    if result["failures"]:
        failure = result["failures"][0]
        return visit.redirect(
            back, ("error", f"{failure.get('reason')}: {failure.get('detail', '')}".strip())
        )
    return visit.redirect(back, ("info", f"Instance {instance_id} is {status}."))
