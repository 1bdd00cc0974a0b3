"""Timers and restarts, on a server whose job engine counts a minute as two seconds: time-outs
end executions as TIMED_OUT, and a restart mid-rollout goes on where the job was."""

from __future__ import annotations

import json
from typing import Any

from tests.harness import DockyardServer, wait_for

DOCUMENT = json.dumps({"operation": "runContainer", "image": "dockyard/busybox", "command": ["sleep", "600"]})


def _clients(server: DockyardServer) -> tuple[Any, Any]:
    account = server.new_account()
    return server.client(account, "iot"), server.client(account, "iot-jobs-data")


def _status(iot: Any, job_id: str, thing: str) -> str:
    return str(iot.describe_job_execution(jobId=job_id, thingName=thing)["execution"]["status"])


def test_in_progress_and_step_timeouts_end_executions_as_timed_out(
    quick_minute_server: DockyardServer,
) -> None:
    iot, jobs_data = _clients(quick_minute_server)
    for name in ("slow", "stepper"):
        iot.create_thing(thingName=name)
    iot.create_job(
        jobId="overall",
        targets=[iot.describe_thing(thingName="slow")["thingArn"]],
        document=DOCUMENT,
        timeoutConfig={"inProgressTimeoutInMinutes": 1},
    )
    iot.create_job(
        jobId="step", targets=[iot.describe_thing(thingName="stepper")["thingArn"]], document=DOCUMENT
    )
    started = jobs_data.start_next_pending_job_execution(thingName="slow")["execution"]
    assert started["approximateSecondsBeforeTimedOut"] <= 2
    jobs_data.start_next_pending_job_execution(thingName="stepper", stepTimeoutInMinutes=1)
    wait_for(lambda: _status(iot, "overall", "slow") == "TIMED_OUT", timeout=120, message="the job's timeout")
    wait_for(lambda: _status(iot, "step", "stepper") == "TIMED_OUT", timeout=120, message="the step timeout")
    counts = iot.describe_job(jobId="overall")["job"]["jobProcessDetails"]
    assert counts["numberOfTimedOutThings"] == 1
    assert iot.describe_job(jobId="overall")["job"]["status"] == "COMPLETED"


def test_a_restart_mid_rollout_goes_on_where_it_was(quick_minute_server: DockyardServer) -> None:
    iot, jobs_data = _clients(quick_minute_server)
    group = iot.create_thing_group(thingGroupName="restarted")["thingGroupArn"]
    things = [f"r-{index}" for index in range(3)]
    for name in things:
        iot.create_thing(thingName=name)
        iot.add_thing_to_thing_group(thingGroupName="restarted", thingName=name)
    iot.create_job(
        jobId="rolling",
        targets=[group],
        document=DOCUMENT,
        jobExecutionsRolloutConfig={"maximumPerMinute": 1},
    )
    first = next(t for t in things if jobs_data.get_pending_job_executions(thingName=t)["queuedJobs"])
    jobs_data.start_next_pending_job_execution(thingName=first, statusDetails={"step": "one"})
    before = iot.describe_job_execution(jobId="rolling", thingName=first)["execution"]
    quick_minute_server.stop()
    quick_minute_server.start()
    after = iot.describe_job_execution(jobId="rolling", thingName=first)["execution"]
    assert (after["status"], after["versionNumber"], after["statusDetails"]) == (
        before["status"],
        before["versionNumber"],
        before["statusDetails"],
    )

    def released() -> int:
        pending = [jobs_data.get_pending_job_executions(thingName=t) for t in things]
        return sum(len(p["queuedJobs"]) + len(p["inProgressJobs"]) for p in pending)

    wait_for(lambda: released() == 3, timeout=120, message="the rollout goes on after the restart")
    jobs_data.update_job_execution(jobId="rolling", thingName=first, status="SUCCEEDED", expectedVersion=2)
    counts = iot.describe_job(jobId="rolling")["job"]["jobProcessDetails"]
    assert (counts["numberOfSucceededThings"], counts["numberOfQueuedThings"]) == (1, 2)
