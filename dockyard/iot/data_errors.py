"""The errors of AWS IoT's jobs data plane (``iot-jobs-data``), statuses from its model."""

from __future__ import annotations

from dockyard.protocol.rest.errors import ModeledError


class JobsDataError(ModeledError):
    service = "iot-jobs-data"


class InvalidRequestException(JobsDataError): ...


class ResourceNotFoundException(JobsDataError): ...


class InvalidStateTransitionException(JobsDataError): ...


class TerminalStateException(JobsDataError): ...


class ServiceUnavailableException(JobsDataError): ...


class AccessDeniedException(JobsDataError):
    """Not in the model: what the service answers a principal its policy does not allow
    (aws/aws-sdk-js-v3#5533 quotes one); here, a device key used for another thing."""

    status = 403
