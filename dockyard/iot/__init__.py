"""AWS IoT over rest-json: things and groups (container instances and clusters among them),
jobs and their executions (control plane ``iot``, device side ``iot-jobs-data``)."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.protocol.rest.pipeline import RestFrontEnd


def provider() -> list[ModuleType]:
    """The modules implementing ``iot`` actions (``CreateThing`` -> ``create_thing``)."""
    from dockyard.iot import dynamic_groups, thing_groups, things
    from dockyard.iot.jobs import actions, executions, nudge, templates
    from dockyard.jobs import engine

    engine.WORK_CHANGED[actions.KIND] = nudge.nudge

    return [things, thing_groups, dynamic_groups, actions, executions, templates]


def data_provider() -> list[ModuleType]:
    """The modules implementing ``iot-jobs-data`` actions (the device side)."""
    from dockyard.iot.jobs import device

    return [device]


def front_ends() -> list[RestFrontEnd]:
    """The rest-json front-ends of the control plane (``iot``) and of devices (``iot-jobs-data``)."""
    from dockyard.iot import data_errors, errors
    from dockyard.iot.jobs import document_source
    from dockyard.protocol.rest.json_body import JsonBody
    from dockyard.protocol.rest.pipeline import RestFrontEnd

    return [
        RestFrontEnd(
            "iot",
            JsonBody(),
            invalid_request=errors.InvalidRequestException,
            internal_error=errors.InternalFailureException,
            prefetch=document_source.prefetch,
        ),
        RestFrontEnd(
            "iot-jobs-data",
            JsonBody(),
            invalid_request=data_errors.InvalidRequestException,
            internal_error=data_errors.ServiceUnavailableException,
        ),
    ]
