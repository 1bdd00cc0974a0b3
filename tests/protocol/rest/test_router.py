"""The REST router finds every operation of a model from the request botocore itself would
send for it (its serializer, with every required member filled in)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.model import OperationModel, Shape, StructureShape
from botocore.serialize import create_serializer

from dockyard.protocol.models import service_model
from dockyard.protocol.rest.request import query_params
from dockyard.protocol.rest.router import Router

SERVICES = ["iot", "iot-jobs-data", "s3control"]


def _sample(shape: Shape, depth: int = 0) -> Any:
    if isinstance(shape, StructureShape):
        return {name: _sample(shape.members[name], depth + 1) for name in shape.required_members}
    kind = shape.type_name
    if kind == "list":
        return []
    if kind == "map":
        return {}
    if kind in ("integer", "long"):
        return 7
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return 0
    if kind == "blob":
        return b"x"
    if shape.enum:
        return shape.enum[0]
    return "label-value"


def _operations(service: str) -> list[OperationModel]:
    model = service_model(service)
    return [model.operation_model(name) for name in model.operation_names]


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_is_found_from_the_request_botocore_sends(service: str) -> None:
    model = service_model(service)
    router = Router(model)
    serializer = create_serializer(model.metadata["protocol"], include_validation=False)
    wrong = []
    for operation in _operations(service):
        params = _sample(operation.input_shape) if operation.input_shape is not None else {}
        request = serializer.serialize_to_request(params, operation)
        query = (
            urlencode(request["query_string"], doseq=True)
            if isinstance(request["query_string"], dict)
            else ""
        )
        path = request["url_path"]
        found = router.match(request["method"], path, query_params(query))
        if found is None or found[0].name != operation.name:
            wrong.append((operation.name, found[0].name if found else None))
    assert wrong == []


@pytest.mark.parametrize(
    ("service", "method", "path", "operation", "labels"),
    [
        (
            "iot-jobs-data",
            "PUT",
            "/things/t-1/jobs/$next",
            "StartNextPendingJobExecution",
            {"thingName": "t-1"},
        ),
        (
            "iot-jobs-data",
            "GET",
            "/things/t-1/jobs/%24next",
            "DescribeJobExecution",
            {"thingName": "t-1", "jobId": "$next"},
        ),
        ("iot", "GET", "/things/t-1/jobs", "ListJobExecutionsForThing", {"thingName": "t-1"}),
        ("iot-jobs-data", "GET", "/things/t-1/jobs", "GetPendingJobExecutions", {"thingName": "t-1"}),
        ("iot", "PUT", "/jobs/j-1/cancel", "CancelJob", {"jobId": "j-1"}),
        ("iot", "GET", "/jobs/", "ListJobs", {}),
        ("iot", "GET", "/thing-groups/a%2Fb/things", "ListThingsInThingGroup", {"thingGroupName": "a/b"}),
    ],
    ids=[
        "a literal $next beats a label",
        "an encoded $next is a job id",
        "the control plane's list of a thing's jobs",
        "the data plane's pending jobs, the same path",
        "a literal tail after a label",
        "a trailing slash names the same collection",
        "an encoded slash stays inside its label",
    ],
)
def test_routes(service: str, method: str, path: str, operation: str, labels: dict[str, str]) -> None:
    found = Router(service_model(service)).match(method, path, {})
    assert found is not None
    assert (found[0].name, found[1]) == (operation, labels)


def test_an_unknown_path_matches_nothing() -> None:
    assert Router(service_model("iot")).match("GET", "/no/such/thing/here/at/all", {}) is None
