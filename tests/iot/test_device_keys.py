"""An agent's device key: the control plane hands each connecting agent a key bound to its
instance's thing; with it the agent may run its own job executions and nothing else (issue 11:
"an agent cannot update another thing's execution")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError
from websockets.sync.client import connect

from dockyard.agent.channel import signed_headers, ws_url
from tests.harness import Credentials, DockyardServer, wait_for
from tests.iot.conftest import register_instances


def _device_key(server: DockyardServer, account: Credentials, cluster: str, thing: str) -> Credentials:
    """Connect as the instance's agent does and take the key of the connection's first frame."""
    arn = f"arn:aws:ecs:us-east-1:{account.account_id}:container-instance/{cluster}/{thing}"
    url = ws_url(server.endpoint, cluster, arn, device_key=True)
    signing = BotoCredentials(account.access_key_id, account.secret_access_key)
    with connect(
        url, additional_headers=signed_headers(url, signing, "us-east-1"), open_timeout=60
    ) as socket:
        frame = json.loads(socket.recv(timeout=60))
    assert frame["type"] == "deviceKey" and frame["thingName"] == thing
    return Credentials(frame["accessKeyId"], frame["secretAccessKey"], account.account_id)


def _error(call: Any, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_a_device_key_acts_for_its_own_thing_only(
    server: DockyardServer, account: Credentials, ecs: Any, iot: Any, jobs_data: Any
) -> None:
    mine, other = register_instances(ecs, "fleet", 2)
    key = _device_key(server, account, "fleet", mine)
    assert key.access_key_id != account.access_key_id
    assert _device_key(server, account, "fleet", mine).access_key_id == key.access_key_id  # one per thing
    things = [iot.describe_thing(thingName=name)["thingArn"] for name in (mine, other)]
    iot.create_job(jobId="patch", targets=things, document='{"operation": "runContainer", "image": "x"}')
    device = server.client(key, "iot-jobs-data")

    assert [job["jobId"] for job in device.get_pending_job_executions(thingName=mine)["queuedJobs"]] == [
        "patch"
    ]
    assert _error(device.start_next_pending_job_execution, thingName=other) == (403, "AccessDeniedException")
    assert _error(device.describe_job_execution, jobId="patch", thingName=other) == (
        403,
        "AccessDeniedException",
    )
    assert _error(device.update_job_execution, jobId="patch", thingName=other, status="SUCCEEDED") == (
        403,
        "AccessDeniedException",
    )
    theirs = jobs_data.describe_job_execution(jobId="patch", thingName=other)["execution"]
    assert (theirs["status"], theirs["versionNumber"]) == ("QUEUED", 1)  # untouched by the refusals

    # Nothing but the jobs data plane: not ECS, not the IoT control plane.
    assert _error(server.client(key).list_clusters)[1] == "AccessDeniedException"
    assert _error(server.client(key, "iot").list_things)[1] == "AccessDeniedException"

    started = device.start_next_pending_job_execution(thingName=mine)["execution"]
    device.update_job_execution(
        jobId="patch", thingName=mine, status="SUCCEEDED", expectedVersion=started["versionNumber"]
    )
    assert (
        jobs_data.describe_job_execution(jobId="patch", thingName=mine)["execution"]["status"] == "SUCCEEDED"
    )


def test_a_device_key_dies_with_its_instance(server: DockyardServer, account: Credentials, ecs: Any) -> None:
    (thing,) = register_instances(ecs, "fleet", 1)
    device = server.client(_device_key(server, account, "fleet", thing), "iot-jobs-data")
    assert device.get_pending_job_executions(thingName=thing)["queuedJobs"] == []
    ecs.deregister_container_instance(cluster="fleet", containerInstance=thing)

    def refused() -> bool:
        try:
            device.get_pending_job_executions(thingName=thing)
        except ClientError as error:
            return bool(error.response["Error"]["Code"] == "UnrecognizedClientException")
        return False

    wait_for(refused, timeout=120)
