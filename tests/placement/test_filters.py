"""The resource filters: each rejects with the ECS reason, and only when it should."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.placement.filters import DEFAULT_FILTERS, Gpus, Ports, RequiredAttributes
from dockyard.placement.model import PlacementRequest
from tests.placement.builders import demand, instance, request

REJECTIONS = {
    # instance fields, demand fields, expected ECS reason
    "a draining instance": ({"status": "DRAINING"}, {}, "INACTIVE"),
    "a disconnected agent": ({"agent_connected": False}, {}, "AGENT"),
    "an external instance for an EC2 task": ({"external": True}, {}, "LaunchType"),
    "an EC2 instance for an EXTERNAL task": ({}, {"launch_type": "EXTERNAL"}, "LaunchType"),
    "too little memory": ({"memory": 511}, {"memory": 512}, "RESOURCE:MEMORY"),
    "too little CPU": ({"cpu": 255}, {"cpu": 256}, "RESOURCE:CPU"),
    "too few GPUs": ({"gpus": ("gpu-0",)}, {"gpus": 2}, "RESOURCE:GPU"),
    "a port in use": ({"ports": frozenset({"tcp:80"})}, {"ports": frozenset({"tcp:80"})}, "RESOURCE:PORTS"),
    "a missing required attribute": ({}, {"required_attributes": (("ecs.capability.x", None),)}, "ATTRIBUTE"),
    "a required attribute with another value": (
        {},
        {"required_attributes": (("ecs.os-type", "windows"),)},
        "ATTRIBUTE",
    ),
}


def first_rejection(instance_fields: dict[str, Any], demand_fields: dict[str, Any]) -> str | None:
    subject = instance(**instance_fields)
    placement = PlacementRequest(demand(**demand_fields))
    for stage in DEFAULT_FILTERS:
        reason = stage.reject(subject, placement)
        if reason is not None:
            return reason
    return None


@pytest.mark.parametrize(
    ("instance_fields", "demand_fields", "reason"), REJECTIONS.values(), ids=REJECTIONS.keys()
)
def test_each_filter_rejects_with_its_ecs_reason(
    instance_fields: dict[str, Any], demand_fields: dict[str, Any], reason: str
) -> None:
    assert first_rejection(instance_fields, demand_fields) == reason


ACCEPTED = {
    "exactly enough memory and CPU": ({"memory": 512, "cpu": 256}, {"memory": 512, "cpu": 256}),
    "another port in use": ({"ports": frozenset({"tcp:80"})}, {"ports": frozenset({"udp:80"})}),
    "enough GPUs": ({"gpus": ("gpu-0", "gpu-1")}, {"gpus": 2}),
    "a required attribute without value": (
        {"attributes": {"ecs.capability.x": None}},
        {"required_attributes": (("ecs.capability.x", None),)},
    ),
    "an external instance for an EXTERNAL task": ({"external": True}, {"launch_type": "EXTERNAL"}),
}


@pytest.mark.parametrize(("instance_fields", "demand_fields"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_filters_accept_what_fits(instance_fields: dict[str, Any], demand_fields: dict[str, Any]) -> None:
    assert first_rejection(instance_fields, demand_fields) is None


def test_filters_that_cant_reject_are_left_out_of_a_request() -> None:
    plain = request()
    assert not Gpus().applies(plain)
    assert not Ports().applies(plain)
    assert not RequiredAttributes().applies(plain)
    assert Gpus().applies(request(gpus=1))
    assert Ports().applies(request(ports=frozenset({"tcp:80"})))
