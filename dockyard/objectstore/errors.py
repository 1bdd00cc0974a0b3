"""S3's errors: the ``Error`` XML document (Code, Message, RequestId) with S3's status codes,
and the mapping from the control plane's own (SigV4) errors to S3's names for them."""

from __future__ import annotations

from xml.sax.saxutils import escape

from dockyard.errors import (
    ApiError,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)


class S3Error(Exception):
    """An error as S3 reports it; ``fields`` are extra elements (BucketName, Key)."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields

    def xml(self, request_id: str) -> bytes:
        extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in self.fields.items())
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(self.code)}</Code><Message>{escape(self.message)}</Message>"
            f"{extra}<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        ).encode()


def no_such_bucket(bucket: str) -> S3Error:
    return S3Error("NoSuchBucket", "The specified bucket does not exist", 404, BucketName=bucket)


def not_implemented(what: str) -> S3Error:
    return S3Error("NotImplemented", f"{what} is not implemented by Dockyard's S3 gateway.", 501)


def from_identity_error(error: ApiError) -> S3Error:
    """The S3 error for a SigV4 check that failed (the checks are the ECS API's)."""
    if isinstance(error, MissingAuthenticationTokenException):
        return S3Error("AccessDenied", "Access Denied", 403)
    if isinstance(error, UnrecognizedClientException):
        return S3Error(
            "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", 403
        )
    if isinstance(error, InvalidSignatureException):
        if error.message.startswith("The request signature we calculated"):
            return S3Error("SignatureDoesNotMatch", error.message, 403)
        if error.message.startswith("Signature "):
            return S3Error("RequestTimeTooSkewed", error.message, 403)
        return S3Error("AuthorizationHeaderMalformed", error.message, 400)
    if isinstance(error, IncompleteSignatureException):
        return S3Error("AuthorizationHeaderMalformed", error.message, 400)
    return S3Error("AccessDenied", error.message or "Access Denied", 403)
