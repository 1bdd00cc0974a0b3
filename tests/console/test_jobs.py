"""The console's jobs pages over plain HTTP against a real server: a job's progress by
execution status, its executions with their statusDetails, and cancelling it (CSRF-safe)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dockyard.console import jobs as job_pages
from dockyard.console.present import job_progress
from tests.console.client import ConsoleClient
from tests.harness import Credentials, DockyardServer

DOCUMENT = json.dumps({"operation": "runCommand", "command": ["true"]})


@pytest.fixture
def console(server: DockyardServer, account: Credentials) -> ConsoleClient:
    client = ConsoleClient(server)
    assert client.sign_in(account).status == 303
    return client


@pytest.fixture
def iot(server: DockyardServer, account: Credentials) -> Any:
    return server.client(account, "iot")


@pytest.fixture
def jobs_data(server: DockyardServer, account: Credentials) -> Any:
    return server.client(account, "iot-jobs-data")


def make_job(iot: Any, job_id: str, things: int, **configs: Any) -> list[str]:
    names = [f"{job_id}-thing-{n}" for n in range(things)]
    arns = [iot.create_thing(thingName=name)["thingArn"] for name in names]
    iot.create_job(jobId=job_id, targets=arns, document=DOCUMENT, **configs)
    return names


def run(jobs_data: Any, thing: str, status: str, **details: str) -> None:
    execution = jobs_data.start_next_pending_job_execution(thingName=thing)["execution"]
    jobs_data.update_job_execution(
        jobId=execution["jobId"],
        thingName=thing,
        status=status,
        statusDetails=details,
        expectedVersion=execution["versionNumber"],
    )


@pytest.mark.parametrize(
    ("details", "total", "done", "segments"),
    [
        ({}, 0, 0, []),
        ({"numberOfQueuedThings": 4}, 4, 0, [("queued", 4, 0.0, 100.0)]),
        (
            {"numberOfSucceededThings": 1, "numberOfFailedThings": 1, "numberOfInProgressThings": 2},
            4,
            2,
            [("succeeded", 1, 0.0, 25.0), ("failed", 1, 25.0, 25.0), ("in_progress", 2, 50.0, 50.0)],
        ),
    ],
)
def test_progress_bar_segments(
    details: dict[str, int], total: int, done: int, segments: list[tuple[str, int, float, float]]
) -> None:
    progress = job_progress(details)
    assert (progress.total, progress.done) == (total, done)
    assert [(s.status, s.count, s.x, s.width) for s in progress.segments] == segments


def test_the_jobs_page_shows_each_jobs_progress(iot: Any, jobs_data: Any, console: ConsoleClient) -> None:
    things = make_job(iot, "rollout", 4)
    make_job(iot, "other", 1, targetSelection="CONTINUOUS")
    run(jobs_data, things[0], "SUCCEEDED")
    run(jobs_data, things[1], "FAILED")

    page = console.get("/console/jobs").text
    assert re.search(r'data-job="rollout">2 / 4<', page)
    assert 'aria-label="1 succeeded, 1 failed, 2 queued"' in page
    continuous = console.get("/console/jobs?targetSelection=CONTINUOUS").text
    assert "/console/jobs/other" in continuous and "/console/jobs/rollout" not in continuous
    assert "/console/jobs/rollout" not in console.get("/console/jobs?status=COMPLETED").text


def test_a_job_page_shows_its_document_config_and_executions(
    iot: Any, jobs_data: Any, console: ConsoleClient
) -> None:
    rollout = {"maximumPerMinute": 10}
    things = make_job(iot, "detailed", 3, jobExecutionsRolloutConfig=rollout)
    run(jobs_data, things[0], "SUCCEEDED", exitCode="0", note="all good")

    page = console.get("/console/jobs/detailed").text
    assert "&#34;runCommand&#34;" in page or "&quot;runCommand&quot;" in page  # the document, escaped
    assert "jobExecutionsRolloutConfig" in page and "maximumPerMinute" in page
    rows = page.split('id="executions"', 1)[1].split("</table>", 1)[0]
    assert rows.count("<tr>") == 1 + 3  # the head and one row per thing
    assert "<code>note</code>=all good" in rows and "<code>exitCode</code>=0" in rows
    succeeded = console.get("/console/jobs/detailed?status=SUCCEEDED").text.split('id="executions"', 1)[1]
    assert things[0] in succeeded and things[1] not in succeeded


def test_executions_are_paged(iot: Any, console: ConsoleClient) -> None:
    make_job(iot, "wide", job_pages.EXECUTION_PAGE_SIZE + 2)
    first = console.get("/console/jobs/wide").text
    assert first.split('id="executions"', 1)[1].count("<tr>") == 1 + job_pages.EXECUTION_PAGE_SIZE
    token = re.search(r'href="\?[^"]*next=([^"&]+)" rel="next"', first)
    assert token, "a next-page link"
    second = console.get(f"/console/jobs/wide?next={token.group(1)}").text
    assert second.split('id="executions"', 1)[1].count("<tr>") == 1 + 2


def test_cancel_a_job_with_force(iot: Any, jobs_data: Any, console: ConsoleClient) -> None:
    things = make_job(iot, "stoppable", 2)
    jobs_data.start_next_pending_job_execution(thingName=things[0])  # one IN_PROGRESS
    page = "/console/jobs/stoppable"
    token = console.csrf(page)

    assert console.post(page + "/cancel", {"force": "true"}).status == 403  # no CSRF token
    assert console.post(page + "/cancel", {"csrf": token}, origin="http://evil.example").status == 403
    assert iot.describe_job(jobId="stoppable")["job"]["status"] == "IN_PROGRESS"

    reply = console.post(page + "/cancel", {"csrf": token, "force": "true", "comment": "stop it"})
    assert reply.status == 303 and reply.location == page
    job = iot.describe_job(jobId="stoppable")["job"]
    assert job["status"] == "CANCELED" and job["forceCanceled"] is True and job["comment"] == "stop it"
    running = iot.describe_job_execution(jobId="stoppable", thingName=things[0])["execution"]
    assert running["status"] == "CANCELED" and running["forceCanceled"] is True
    assert "Job stoppable is canceled (forced)." in console.get(page).text

    refused = console.post(page + "/cancel", {"csrf": token})  # already canceled: the API refuses
    assert refused.status == 303
    assert "InvalidRequestException" in console.get(page).text


def test_another_accounts_job_is_not_found(server: DockyardServer, iot: Any) -> None:
    make_job(iot, "mine", 1)
    other = ConsoleClient(server)
    assert other.sign_in(server.new_account()).status == 303
    assert "/console/jobs/mine" not in other.get("/console/jobs").text
    assert other.get("/console/jobs/mine").status == 404
