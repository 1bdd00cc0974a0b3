"""Errors that cross the API boundary.

Every error a client may see is an ``ApiError`` subclass carrying its AWS error code, its
HTTP status and whether the caller (sender) or the server is at fault. Each protocol
front-end serializes them in exactly one place.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error with an AWS error code, reported to the client in the protocol's shape."""

    code = "InternalFailure"
    status = 500
    sender_fault = False

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class ClientError(ApiError):
    """Base of the errors the caller caused (HTTP 400 unless a subclass says otherwise).

    A subclass's AWS error code is its class name.
    """

    status = 400
    sender_fault = True

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.code = cls.__name__


# Errors common to AWS JSON services (request framing and identity).
class SerializationException(ClientError): ...


class RequestEntityTooLargeException(ClientError):
    status = 413


class UnknownOperationException(ClientError): ...


class MissingAuthenticationTokenException(ClientError):
    status = 403


class IncompleteSignatureException(ClientError): ...


class InvalidSignatureException(ClientError):
    status = 403


class UnrecognizedClientException(ClientError):
    status = 403


class AccessDeniedException(ClientError): ...


# Errors of the ECS model (their codes match the shapes botocore knows, so boto3 raises
# the modeled exception class).
class ClientException(ClientError): ...


class InvalidParameterException(ClientError): ...


class ClusterNotFoundException(ClientError): ...


class ClusterContainsContainerInstancesException(ClientError): ...


class ClusterContainsServicesException(ClientError): ...


class ClusterContainsTasksException(ClientError): ...


class TargetNotFoundException(ClientError): ...


class AttributeLimitExceededException(ClientError): ...


class ResourceNotFoundException(ClientError): ...


class ResourceInUseException(ClientError): ...


class LimitExceededException(ClientError): ...


class UnsupportedFeatureException(ClientError): ...


class ServiceNotFoundException(ClientError): ...


class ServiceNotActiveException(ClientError): ...


class ServerException(ApiError):
    """An unexpected failure on our side; the message never carries internals."""

    code = "ServerException"
    status = 500


class NoUpdateAvailableException(ClientError): ...


class MissingVersionException(ClientError): ...


class UpdateInProgressException(ClientError): ...


class PlatformTaskDefinitionIncompatibilityException(ClientError): ...
