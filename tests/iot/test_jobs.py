"""IoT jobs end to end with boto3: ``iot`` as the operator, ``iot-jobs-data`` as the devices
(a boto3 script standing in for each thing)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.harness import Credentials, DockyardServer, wait_for
from tests.iot.conftest import register_instances

DOCUMENT = json.dumps({"operation": "runContainer", "image": "dockyard/busybox", "command": ["true"]})


def _error(call: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def _group_of_things(iot: Any, group: str, count: int) -> tuple[str, list[str]]:
    arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    names = [f"{group}-thing-{index}" for index in range(count)]
    for name in names:
        iot.create_thing(thingName=name)
        iot.add_thing_to_thing_group(thingGroupName=group, thingName=name)
    return arn, names


def _counts(iot: Any, job_id: str) -> dict[str, int]:
    details = iot.describe_job(jobId=job_id)["job"]["jobProcessDetails"]
    return {key: value for key, value in details.items() if value}


def _run(jobs_data: Any, thing: str, status: str = "SUCCEEDED", **details: str) -> dict[str, Any]:
    execution = jobs_data.start_next_pending_job_execution(thingName=thing)["execution"]
    jobs_data.update_job_execution(
        jobId=execution["jobId"],
        thingName=thing,
        status=status,
        statusDetails=details,
        expectedVersion=execution["versionNumber"],
    )
    return execution


def test_a_snapshot_job_on_a_group_runs_on_every_thing_and_completes(iot: Any, jobs_data: Any) -> None:
    group_arn, things = _group_of_things(iot, "snap", 3)
    made = iot.create_job(jobId="snap-job", targets=[group_arn], document=DOCUMENT, description="d")
    assert made["jobArn"].endswith(":job/snap-job")
    assert _counts(iot, "snap-job") == {"numberOfQueuedThings": 3}
    assert iot.get_job_document(jobId="snap-job")["document"] == DOCUMENT
    for thing in things:
        pending = jobs_data.get_pending_job_executions(thingName=thing)
        assert [job["jobId"] for job in pending["queuedJobs"]] == ["snap-job"]
        execution = _run(jobs_data, thing, exitCode="0")
        assert json.loads(execution["jobDocument"]) == json.loads(DOCUMENT)
        assert isinstance(execution["queuedAt"], int)
    job = wait_for(
        lambda: (found := iot.describe_job(jobId="snap-job")["job"])["status"] == "COMPLETED" and found,
        timeout=30,
        message="the job completes",
    )
    assert job["jobProcessDetails"]["numberOfSucceededThings"] == 3
    assert job["isConcurrent"] is False
    described = iot.describe_job_execution(jobId="snap-job", thingName=things[0])["execution"]
    assert described["statusDetails"] == {"detailsMap": {"exitCode": "0"}}
    assert described["versionNumber"] == 3
    summaries = iot.list_job_executions_for_job(jobId="snap-job")["executionSummaries"]
    assert {s["jobExecutionSummary"]["status"] for s in summaries} == {"SUCCEEDED"}
    for_thing = iot.list_job_executions_for_thing(thingName=things[1])["executionSummaries"]
    assert [s["jobId"] for s in for_thing] == ["snap-job"]
    assert [j["jobId"] for j in iot.list_jobs(status="COMPLETED")["jobs"]] == ["snap-job"]


def test_a_device_sees_the_version_and_terminal_state_errors(iot: Any, jobs_data: Any) -> None:
    iot.create_thing(thingName="device")
    arn = iot.describe_thing(thingName="device")["thingArn"]
    iot.create_job(jobId="versions", targets=[arn], document=DOCUMENT)
    execution = jobs_data.describe_job_execution(jobId="$next", thingName="device")["execution"]
    assert (execution["status"], execution["versionNumber"]) == ("QUEUED", 1)
    started = jobs_data.start_next_pending_job_execution(thingName="device", statusDetails={"step": "pull"})
    assert started["execution"]["versionNumber"] == 2
    stale = _error(
        jobs_data.update_job_execution,
        jobId="versions",
        thingName="device",
        status="SUCCEEDED",
        expectedVersion=1,
    )
    assert stale == (409, "InvalidStateTransitionException")
    state = jobs_data.update_job_execution(
        jobId="versions",
        thingName="device",
        status="FAILED",
        expectedVersion=2,
        includeJobExecutionState=True,
    )["executionState"]
    assert (state["status"], state["versionNumber"]) == ("FAILED", 3)
    terminal = _error(
        jobs_data.update_job_execution, jobId="versions", thingName="device", status="IN_PROGRESS"
    )
    assert terminal == (409, "InvalidStateTransitionException")
    assert jobs_data.start_next_pending_job_execution(thingName="device").get("execution") is None
    assert _error(jobs_data.get_pending_job_executions, thingName="nobody") == (
        404,
        "ResourceNotFoundException",
    )


def test_bad_input_gets_the_models_errors(iot: Any) -> None:
    iot.create_thing(thingName="target")
    arn = iot.describe_thing(thingName="target")["thingArn"]
    iot.create_job(jobId="once", targets=[arn], document=DOCUMENT)
    assert _error(iot.create_job, jobId="once", targets=[arn], document=DOCUMENT) == (
        409,
        "ResourceAlreadyExistsException",
    )
    assert _error(iot.describe_job, jobId="missing") == (404, "ResourceNotFoundException")
    missing_thing = arn.replace("thing/target", "thing/ghost")
    assert _error(iot.create_job, jobId="ghost", targets=[missing_thing], document=DOCUMENT) == (
        404,
        "ResourceNotFoundException",
    )
    assert _error(
        iot.create_job, jobId="bad-enum", targets=[arn], document=DOCUMENT, targetSelection="SOMETIMES"
    ) == (
        400,
        "InvalidRequestException",
    )
    assert _error(iot.list_jobs, maxResults=251) == (400, "InvalidRequestException")
    assert _error(iot.delete_job, jobId="once") == (409, "InvalidStateTransitionException")


def test_canceling_running_work_needs_force(iot: Any, jobs_data: Any) -> None:
    group_arn, things = _group_of_things(iot, "cancel", 2)
    iot.create_job(jobId="to-cancel", targets=[group_arn], document=DOCUMENT)
    jobs_data.start_next_pending_job_execution(thingName=things[0])
    assert _error(iot.cancel_job_execution, jobId="to-cancel", thingName=things[0]) == (
        409,
        "InvalidStateTransitionException",
    )
    assert _error(
        iot.cancel_job_execution, jobId="to-cancel", thingName=things[0], force=True, expectedVersion=1
    ) == (
        409,
        "VersionConflictException",
    )
    iot.cancel_job(jobId="to-cancel", reasonCode="NOT_NOW")
    job = iot.describe_job(jobId="to-cancel")["job"]
    assert (job["status"], job["reasonCode"], job["isConcurrent"]) == ("CANCELED", "NOT_NOW", True)
    assert _counts(iot, "to-cancel") == {"numberOfCanceledThings": 1, "numberOfInProgressThings": 1}
    iot.cancel_job(jobId="to-cancel", force=True)
    assert _counts(iot, "to-cancel") == {"numberOfCanceledThings": 2}
    execution = iot.describe_job_execution(jobId="to-cancel", thingName=things[0])["execution"]
    assert execution["forceCanceled"] is True
    iot.delete_job(jobId="to-cancel")
    wait_for(lambda: _gone(iot, "to-cancel"), timeout=120, message="the job is deleted")


def _gone(iot: Any, job_id: str) -> bool:
    try:
        iot.describe_job(jobId=job_id)
    except ClientError as error:
        return error.response["Error"]["Code"] == "ResourceNotFoundException"
    return False


def test_maximum_per_minute_paces_the_release(iot: Any, jobs_data: Any) -> None:
    group_arn, things = _group_of_things(iot, "paced", 3)
    iot.create_job(
        jobId="paced",
        targets=[group_arn],
        document=DOCUMENT,
        jobExecutionsRolloutConfig={"maximumPerMinute": 1},
    )

    def released() -> int:
        return sum(len(jobs_data.get_pending_job_executions(thingName=t)["queuedJobs"]) for t in things)

    wait_for(lambda: released() == 1, timeout=120, message="the first execution is released")
    assert iot.describe_job(jobId="paced")["job"]["isConcurrent"] is True
    assert released() == 1  # the next one waits for the next minute


def test_an_abort_config_cancels_a_failing_job(iot: Any, jobs_data: Any) -> None:
    group_arn, things = _group_of_things(iot, "failing", 4)
    iot.create_job(
        jobId="failing",
        targets=[group_arn],
        document=DOCUMENT,
        abortConfig={
            "criteriaList": [
                {
                    "failureType": "FAILED",
                    "action": "CANCEL",
                    "thresholdPercentage": 50,
                    "minNumberOfExecutedThings": 2,
                }
            ]
        },
    )
    _run(jobs_data, things[0], "FAILED")
    _run(jobs_data, things[1], "FAILED")
    job = wait_for(
        lambda: (found := iot.describe_job(jobId="failing")["job"])["status"] == "CANCELED" and found,
        timeout=30,
        message="the abort criteria cancel the job",
    )
    assert job["reasonCode"] == "FAILED_ABORT_THRESHOLD_MET"
    assert _counts(iot, "failing") == {"numberOfFailedThings": 2, "numberOfCanceledThings": 2}


def test_a_retry_config_queues_a_failure_again(iot: Any, jobs_data: Any) -> None:
    iot.create_thing(thingName="retried")
    arn = iot.describe_thing(thingName="retried")["thingArn"]
    iot.create_job(
        jobId="retry",
        targets=[arn],
        document=DOCUMENT,
        jobExecutionsRetryConfig={"criteriaList": [{"failureType": "FAILED", "numberOfRetries": 1}]},
    )
    assert _run(jobs_data, "retried", "FAILED")["executionNumber"] == 1
    second = _run(jobs_data, "retried", "FAILED")
    assert second["executionNumber"] == 2
    summary = iot.list_job_executions_for_job(jobId="retry")["executionSummaries"][0]["jobExecutionSummary"]
    assert (summary["status"], summary["executionNumber"], summary["retryAttempt"]) == ("FAILED", 2, 1)
    assert jobs_data.start_next_pending_job_execution(thingName="retried").get("execution") is None
    first = iot.describe_job_execution(jobId="retry", thingName="retried", executionNumber=1)["execution"]
    assert first["status"] == "FAILED"


def test_a_continuous_job_reaches_an_instance_registered_later(iot: Any, jobs_data: Any, ecs: Any) -> None:
    first = register_instances(ecs, "growing", 1)
    group_arn = iot.describe_thing_group(thingGroupName="growing")["thingGroupArn"]
    iot.create_job(jobId="follow", targets=[group_arn], document=DOCUMENT, targetSelection="CONTINUOUS")
    later = register_instances(ecs, "growing", 1)
    pending = jobs_data.get_pending_job_executions(thingName=later[0])["queuedJobs"]
    assert [job["jobId"] for job in pending] == ["follow"]
    ecs.deregister_container_instance(cluster="growing", containerInstance=first[0])
    assert _counts(iot, "follow") == {"numberOfQueuedThings": 1, "numberOfRemovedThings": 1}
    _run(jobs_data, later[0])
    assert iot.describe_job(jobId="follow")["job"]["status"] == "IN_PROGRESS"  # runs until canceled


def test_templates_give_jobs_their_document(iot: Any) -> None:
    made = iot.create_job_template(jobTemplateId="tpl", description="a template", document=DOCUMENT)
    assert iot.describe_job_template(jobTemplateId="tpl")["document"] == DOCUMENT
    assert [t["jobTemplateId"] for t in iot.list_job_templates()["jobTemplates"]] == ["tpl"]
    iot.create_thing(thingName="templated")
    arn = iot.describe_thing(thingName="templated")["thingArn"]
    iot.create_job(jobId="from-template", targets=[arn], jobTemplateArn=made["jobTemplateArn"])
    assert iot.get_job_document(jobId="from-template")["document"] == DOCUMENT
    iot.delete_job_template(jobTemplateId="tpl")
    assert _error(iot.describe_job_template, jobTemplateId="tpl") == (404, "ResourceNotFoundException")


def test_another_account_cannot_see_or_target_them(
    iot: Any, server: DockyardServer, account: Credentials
) -> None:
    iot.create_thing(thingName="private")
    arn = iot.describe_thing(thingName="private")["thingArn"]
    iot.create_job(jobId="private-job", targets=[arn], document=DOCUMENT)
    other = server.new_account()
    other_iot = server.client(other, "iot")
    other_data = server.client(other, "iot-jobs-data")
    assert _error(other_iot.describe_job, jobId="private-job")[0] == 404
    assert other_iot.list_jobs()["jobs"] == []
    assert _error(other_iot.create_job, jobId="steal", targets=[arn], document=DOCUMENT)[0] in (400, 404)
    assert _error(other_data.start_next_pending_job_execution, thingName="private")[0] == 404


def test_a_continuous_job_on_a_dynamic_group_takes_things_as_they_come_to_match(
    iot: Any, jobs_data: Any
) -> None:
    arn = iot.create_dynamic_thing_group(thingGroupName="canaries", queryString="attributes.canary:yes")[
        "thingGroupArn"
    ]
    iot.create_job(jobId="canary-job", targets=[arn], document=DOCUMENT, targetSelection="CONTINUOUS")
    iot.create_thing(thingName="bird", attributePayload={"attributes": {"canary": "yes"}})
    assert [j["jobId"] for j in jobs_data.get_pending_job_executions(thingName="bird")["queuedJobs"]] == [
        "canary-job"
    ]
    iot.update_thing(thingName="bird", attributePayload={"attributes": {"canary": "no"}})
    assert _counts(iot, "canary-job") == {"numberOfRemovedThings": 1}


def test_exponential_rate_starts_at_its_base_rate(iot: Any, jobs_data: Any) -> None:
    group_arn, things = _group_of_things(iot, "expo", 4)
    iot.create_job(
        jobId="expo",
        targets=[group_arn],
        document=DOCUMENT,
        jobExecutionsRolloutConfig={
            "exponentialRate": {
                "baseRatePerMinute": 2,
                "incrementFactor": 2.0,
                "rateIncreaseCriteria": {"numberOfSucceededThings": 1},
            }
        },
    )

    def released() -> list[str]:
        return [t for t in things if jobs_data.get_pending_job_executions(thingName=t)["queuedJobs"]]

    assert len(released()) == 2  # the base rate; the rest waits for the next minute
    assert iot.describe_job(jobId="expo")["job"]["isConcurrent"] is True


def test_a_scheduled_job_waits_for_its_start_time(iot: Any, jobs_data: Any) -> None:
    import datetime

    iot.create_thing(thingName="later")
    arn = iot.describe_thing(thingName="later")["thingArn"]
    start = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    iot.create_job(jobId="scheduled", targets=[arn], document=DOCUMENT, schedulingConfig={"startTime": start})
    job = iot.describe_job(jobId="scheduled")["job"]
    assert (job["status"], job["schedulingConfig"]["startTime"]) == ("SCHEDULED", start)
    assert jobs_data.get_pending_job_executions(thingName="later")["queuedJobs"] == []
    assert _counts(iot, "scheduled") == {"numberOfQueuedThings": 1}


def test_deleting_a_thing_removes_its_pending_executions(iot: Any) -> None:
    iot.create_thing(thingName="doomed")
    arn = iot.describe_thing(thingName="doomed")["thingArn"]
    iot.create_job(jobId="orphaned", targets=[arn], document=DOCUMENT)
    iot.delete_thing(thingName="doomed")
    assert _counts(iot, "orphaned") == {"numberOfRemovedThings": 1}
    wait_for(lambda: iot.describe_job(jobId="orphaned")["job"]["status"] == "COMPLETED", timeout=120)


def test_a_job_s_executions_page_in_order_by_status_and_only_for_that_job(iot: Any, jobs_data: Any) -> None:
    group_arn, things = _group_of_things(iot, "pages", 5)
    iot.create_job(jobId="paged", targets=[group_arn], document=DOCUMENT)
    iot.create_job(jobId="other", targets=[group_arn], document=DOCUMENT)
    started = jobs_data.start_next_pending_job_execution(thingName=things[3])["execution"]
    assert started["jobId"] == "paged"
    seen: list[dict[str, Any]] = []
    pages = 0
    token: dict[str, str] = {}
    while True:
        page = iot.list_job_executions_for_job(jobId="paged", maxResults=2, **token)
        seen += page["executionSummaries"]
        pages += 1
        if "nextToken" not in page:
            break
        token = {"nextToken": page["nextToken"]}
    assert pages == 3
    assert [s["thingArn"].rsplit("/", 1)[-1] for s in seen] == things
    summaries = {s["thingArn"].rsplit("/", 1)[-1]: s["jobExecutionSummary"] for s in seen}
    assert summaries[things[3]]["status"] == "IN_PROGRESS"
    assert summaries[things[3]]["startedAt"] >= summaries[things[3]]["queuedAt"]
    assert "startedAt" not in summaries[things[0]]  # a queued execution has not started
    assert summaries[things[0]]["executionNumber"] == 1
    assert summaries[things[0]]["retryAttempt"] == 0
    running = iot.list_job_executions_for_job(jobId="paged", status="IN_PROGRESS")["executionSummaries"]
    assert [s["thingArn"].rsplit("/", 1)[-1] for s in running] == [things[3]]
    assert iot.list_job_executions_for_job(jobId="other", status="IN_PROGRESS")["executionSummaries"] == []
    first = iot.list_job_executions_for_job(jobId="paged", maxResults=2)
    assert _error(iot.list_job_executions_for_job, jobId="other", nextToken=first["nextToken"]) == (
        400,
        "InvalidRequestException",
    )
    assert _error(iot.list_job_executions_for_job, jobId="no-such-job") == (404, "ResourceNotFoundException")
    iot.delete_job(jobId="other", force=True)
    assert _error(iot.list_job_executions_for_job, jobId="other") == (404, "ResourceNotFoundException")
