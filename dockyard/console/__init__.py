"""The web console: server-rendered pages over the ECS domain, on the control plane's port.

``routes`` is mounted at ``/console`` next to the API. Pages read, and actions act, through
the ECS actions themselves (``ecs_calls``), as the signed-in key's user; the frame
(``web``) holds sessions, CSRF and origin checks; ``present`` shapes results for the eye;
``live`` streams "changed" events to open pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from dockyard.console import actions, jobs, pages, signin
from dockyard.console.live import Live
from dockyard.console.web import PREFIX, Console, Visit
from dockyard.server_state import ServerState


def routes(server: ServerState) -> Mount:
    console = Console(server)
    live = Live(console)
    action = console.action

    def page(handler: Callable[[Visit], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        return console.page(live.stamped(handler))

    cluster = "/clusters/{cluster}"
    return Mount(
        PREFIX,
        routes=[
            Route("/", page(pages.home)),
            Route("/signin", signin.form(console), methods=["GET"]),
            Route("/signin", signin.sign_in(console), methods=["POST"]),
            Route("/signout", signin.sign_out(console), methods=["POST"]),
            Route("/live", live.endpoint, methods=["GET"]),
            Route("/clusters", page(pages.clusters)),
            Route(cluster, page(pages.cluster)),
            Route(cluster + "/run-task", action(actions.run_task), methods=["POST"]),
            Route(cluster + "/services/{service}", page(pages.service)),
            Route(cluster + "/services/{service}/scale", action(actions.scale_service), methods=["POST"]),
            Route(cluster + "/services/{service}/deploy", action(actions.deploy_service), methods=["POST"]),
            Route(cluster + "/tasks/{task}", page(pages.task)),
            Route(cluster + "/tasks/{task}/stop", action(actions.stop_task), methods=["POST"]),
            Route(cluster + "/instances/{instance}", page(pages.instance)),
            Route(cluster + "/instances/{instance}/state", action(actions.instance_state), methods=["POST"]),
            Route("/task-definitions", page(pages.families)),
            Route("/task-definitions/{family}", page(pages.family)),
            Route("/task-definitions/{family}/{revision:int}", page(pages.revision)),
            Route("/jobs", page(jobs.jobs)),
            Route("/jobs/{job}", page(jobs.job)),
            Route("/jobs/{job}/cancel", action(jobs.cancel_job), methods=["POST"]),
            Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
        ],
    )
