"""The S3 Control operations Dockyard implements (the Batch Operations jobs), and the module of
each. Every other operation of the model (access points, Storage Lens, ...) is answered with
UnsupportedFeatureException by the same dispatcher."""

from __future__ import annotations

import inspect

from dockyard import batch
from dockyard.protocol.dispatch import build_actions
from dockyard.protocol.models import service_model

IMPLEMENTED = {
    name: "batch.actions"
    for name in (
        "CreateJob",
        "DescribeJob",
        "ListJobs",
        "UpdateJobPriority",
        "UpdateJobStatus",
        "PutJobTagging",
        "GetJobTagging",
        "DeleteJobTagging",
    )
}


def test_the_bound_operations_are_the_listed_ones() -> None:
    actions = build_actions(service_model("s3control"), batch.provider())
    assert {
        name: action.function.__module__.removeprefix("dockyard.") for name, action in actions.items()
    } == (IMPLEMENTED)


def test_every_domain_method_accepts_every_member_of_its_input_shape() -> None:
    for name, action in build_actions(service_model("s3control"), batch.provider()).items():
        parameters = inspect.signature(action.function).parameters
        missing = set(action.keywords.values()) - set(parameters)
        assert not missing, (name, missing)
