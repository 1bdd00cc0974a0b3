"""S3 Control's rest-xml front-end: SigV4 signed for ``s3`` (as boto3 signs s3control), only
under ``/v20180820/`` (the rest of ``s3`` is the S3 gateway's), the account taken from
``x-amz-account-id``, which must be the signing key's own (never from the Host header: botocore
sends ``<account>.<host>`` even to a custom endpoint)."""

from __future__ import annotations

from dockyard.batch import errors
from dockyard.context import RequestContext
from dockyard.protocol.http import HttpRequest
from dockyard.protocol.models import service_model
from dockyard.protocol.pipeline import authenticate as sigv4
from dockyard.protocol.rest.pipeline import RestFrontEnd
from dockyard.protocol.rest.xml_body import XmlBody

SERVICE = "s3control"
PATH_PREFIX = "/v20180820/"
ACCOUNT_HEADER = "x-amz-account-id"


def authenticate(ctx: RequestContext, http: HttpRequest) -> None:
    """SigV4, then the account the request names must be the signer's."""
    sigv4(ctx, http)
    assert ctx.identity is not None
    if http.headers.get(ACCOUNT_HEADER) != ctx.identity.account_id:
        raise errors.AccessDenied("Access Denied: x-amz-account-id is not the account of the signing key.")


def front_end() -> RestFrontEnd:
    namespace = _namespace()
    return RestFrontEnd(
        SERVICE,
        XmlBody(namespace),
        invalid_request=errors.BadRequestException,
        internal_error=errors.InternalServiceException,
        authenticate=authenticate,
        path_prefix=PATH_PREFIX,
    )


def _namespace() -> str | None:
    """The model's XML namespace (carried by its request shapes that have a body)."""
    model = service_model(SERVICE)
    shape = model.operation_model("CreateJob").input_shape
    found = shape.serialization.get("xmlNamespace", {}) if shape is not None else {}
    return found.get("uri") if isinstance(found, dict) else None
