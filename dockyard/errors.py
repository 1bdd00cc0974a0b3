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
    """Base of the errors the caller caused (HTTP 400 unless a subclass says otherwise)."""

    status = 400
    sender_fault = True


def _client_error(code: str, status: int = 400) -> type[ClientError]:
    return type(code, (ClientError,), {"code": code, "status": status})


# Errors common to AWS JSON services (request framing and identity).
SerializationException = _client_error("SerializationException")
UnknownOperationException = _client_error("UnknownOperationException")
MissingAuthenticationTokenException = _client_error("MissingAuthenticationTokenException", 403)
IncompleteSignatureException = _client_error("IncompleteSignatureException")
InvalidSignatureException = _client_error("InvalidSignatureException", 403)
UnrecognizedClientException = _client_error("UnrecognizedClientException", 403)
AccessDeniedException = _client_error("AccessDeniedException")

# Errors of the ECS model (their codes match the shapes botocore knows, so boto3 raises
# the modeled exception class).
ClientException = _client_error("ClientException")
InvalidParameterException = _client_error("InvalidParameterException")
ClusterNotFoundException = _client_error("ClusterNotFoundException")
ClusterContainsContainerInstancesException = _client_error(
    "ClusterContainsContainerInstancesException"
)
ClusterContainsServicesException = _client_error("ClusterContainsServicesException")
ClusterContainsTasksException = _client_error("ClusterContainsTasksException")
TargetNotFoundException = _client_error("TargetNotFoundException")
AttributeLimitExceededException = _client_error("AttributeLimitExceededException")
ResourceNotFoundException = _client_error("ResourceNotFoundException")
ResourceInUseException = _client_error("ResourceInUseException")
LimitExceededException = _client_error("LimitExceededException")
UnsupportedFeatureException = _client_error("UnsupportedFeatureException")


class ServerException(ApiError):
    """An unexpected failure on our side; the message never carries internals."""

    code = "ServerException"
    status = 500
NoUpdateAvailableException = _client_error("NoUpdateAvailableException")
MissingVersionException = _client_error("MissingVersionException")
UpdateInProgressException = _client_error("UpdateInProgressException")
PlatformTaskDefinitionIncompatibilityException = _client_error(
    "PlatformTaskDefinitionIncompatibilityException"
)
