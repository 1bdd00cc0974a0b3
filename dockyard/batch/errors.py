"""The errors of S3 Control (Batch Operations), answered as its ``ErrorResponse`` XML.

S3 Control's model gives its error shapes no HTTP status, so each class says its own (what
S3 Control answers: 404 for an unknown job, 409 for a conflict with the job's state).
"""

from __future__ import annotations

from dockyard.protocol.rest.errors import ModeledError


class S3ControlError(ModeledError):
    service = "s3control"


class BadRequestException(S3ControlError): ...


class InvalidRequestException(S3ControlError): ...


class InvalidNextTokenException(S3ControlError): ...


class IdempotencyException(S3ControlError):
    status = 409


class NotFoundException(S3ControlError):
    status = 404


class JobStatusException(S3ControlError):
    status = 409


class TooManyTagsException(S3ControlError): ...


class TooManyRequestsException(S3ControlError):
    status = 429


class InternalServiceException(S3ControlError):
    status = 500
    sender_fault = False


class AccessDenied(S3ControlError):
    """Not in the model: S3's own answer to a caller acting on another account."""

    status = 403
