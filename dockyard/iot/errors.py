"""The errors of AWS IoT's control plane (``iot``), statuses from its model."""

from __future__ import annotations

from dockyard.protocol.rest.errors import ModeledError


class IotError(ModeledError):
    service = "iot"


class InvalidRequestException(IotError): ...


class ResourceNotFoundException(IotError): ...


class ResourceAlreadyExistsException(IotError): ...


class LimitExceededException(IotError): ...


class InvalidStateTransitionException(IotError): ...


class VersionConflictException(IotError): ...


class ConflictException(IotError): ...


class InternalFailureException(IotError): ...


class InvalidQueryException(IotError): ...
