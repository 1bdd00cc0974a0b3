"""The IoT operations Dockyard implements, and the module of each: the readable map from the
two models (``iot``, ``iot-jobs-data``) to the code. Every other operation of the models is
answered with UnsupportedFeatureException (400) by the same dispatcher."""

from __future__ import annotations

import inspect

import pytest

from dockyard import iot
from dockyard.protocol.dispatch import build_actions
from dockyard.protocol.models import service_model

IMPLEMENTED: dict[str, dict[str, str]] = {
    "iot": {
        "CreateThing": "iot.things",
        "DescribeThing": "iot.things",
        "ListThings": "iot.things",
        "UpdateThing": "iot.things",
        "DeleteThing": "iot.things",
        "CreateThingGroup": "iot.thing_groups",
        "DescribeThingGroup": "iot.thing_groups",
        "ListThingGroups": "iot.thing_groups",
        "UpdateThingGroup": "iot.thing_groups",
        "DeleteThingGroup": "iot.thing_groups",
        "AddThingToThingGroup": "iot.thing_groups",
        "RemoveThingFromThingGroup": "iot.thing_groups",
        "ListThingsInThingGroup": "iot.thing_groups",
        "ListThingGroupsForThing": "iot.thing_groups",
        "CreateDynamicThingGroup": "iot.dynamic_groups",
        "UpdateDynamicThingGroup": "iot.dynamic_groups",
        "DeleteDynamicThingGroup": "iot.dynamic_groups",
        "CreateJob": "iot.jobs.actions",
        "DescribeJob": "iot.jobs.actions",
        "ListJobs": "iot.jobs.actions",
        "UpdateJob": "iot.jobs.actions",
        "GetJobDocument": "iot.jobs.actions",
        "CancelJob": "iot.jobs.actions",
        "DeleteJob": "iot.jobs.actions",
        "DescribeJobExecution": "iot.jobs.executions",
        "ListJobExecutionsForJob": "iot.jobs.executions",
        "ListJobExecutionsForThing": "iot.jobs.executions",
        "CancelJobExecution": "iot.jobs.executions",
        "DeleteJobExecution": "iot.jobs.executions",
        "CreateJobTemplate": "iot.jobs.templates",
        "DescribeJobTemplate": "iot.jobs.templates",
        "ListJobTemplates": "iot.jobs.templates",
        "DeleteJobTemplate": "iot.jobs.templates",
    },
    "iot-jobs-data": {
        "GetPendingJobExecutions": "iot.jobs.device",
        "StartNextPendingJobExecution": "iot.jobs.device",
        "DescribeJobExecution": "iot.jobs.device",
        "UpdateJobExecution": "iot.jobs.device",
    },
}
PROVIDERS = {"iot": iot.provider, "iot-jobs-data": iot.data_provider}


@pytest.mark.parametrize("service", sorted(IMPLEMENTED))
def test_the_bound_operations_are_the_listed_ones(service: str) -> None:
    actions = build_actions(service_model(service), PROVIDERS[service]())
    bound = {name: action.function.__module__.removeprefix("dockyard.") for name, action in actions.items()}
    assert bound == IMPLEMENTED[service]


@pytest.mark.parametrize("service", sorted(IMPLEMENTED))
def test_every_domain_method_accepts_every_member_of_its_input_shape(service: str) -> None:
    for name, action in build_actions(service_model(service), PROVIDERS[service]()).items():
        parameters = inspect.signature(action.function).parameters
        takes_rest = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        missing = set(action.keywords.values()) - set(parameters)
        assert takes_rest or not missing, (name, missing)
