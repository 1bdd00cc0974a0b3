"""Presigned URLs, as ``aws s3 presign`` and boto3's ``generate_presigned_url`` make them.

SigV4 in the query string: the signature covers the method, the path, the query without the
signature and the signed headers (``host``), over ``UNSIGNED-PAYLOAD``; the URL is good for
``X-Amz-Expires`` seconds (at most seven days) from ``X-Amz-Date``. boto3 still presigns S3 with
SigV2 unless told ``signature_version="s3v4"``, so that form (``AWSAccessKeyId``, ``Expires``,
``Signature``: an HMAC-SHA1 over the method, Content-MD5, Content-Type, the expiry, the x-amz
headers and the path with its subresources) is accepted too, in the us-east-1 region."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from calendar import timegm
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote

from dockyard.context import Identity
from dockyard.identity.sigv4 import ALGORITHM, known_regions
from dockyard.objectstore.chunked import signing_key
from dockyard.objectstore.errors import S3Error

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

AUTH_PARAMETERS = frozenset(
    {
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    }
)
MAX_EXPIRES = 7 * 24 * 3600
CLOCK_SKEW = 15 * 60


V2_PARAMETERS = frozenset({"AWSAccessKeyId", "Expires", "Signature"})
V2_REGION = "us-east-1"
# The query parameters a SigV2 signature covers (S3's "sub-resources"), as botocore lists them.
_V2_SUBRESOURCES = frozenset(
    {
        "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
        "policy", "requestPayment", "tagging", "torrent", "uploadId", "uploads", "versionId",
        "versioning", "versions", "website", "response-content-type", "response-content-language",
        "response-expires", "response-cache-control", "response-content-disposition",
        "response-content-encoding", "restore", "select", "select-type", "object-lock",
    }
)  # fmt: skip


def _is_v4(query_string: str) -> bool:
    return "X-Amz-Signature=" in query_string and "X-Amz-Credential=" in query_string


def _is_v2(query_string: str) -> bool:
    return all(f"{name}=" in query_string for name in V2_PARAMETERS)


def is_presigned(query_string: str) -> bool:
    return _is_v4(query_string) or _is_v2(query_string)


def credential_service(query_string: str) -> str | None:
    """The service of a presigned URL's credential scope, if it is one (SigV2: S3's)."""
    if _is_v4(query_string):
        credential = dict(parse_qsl(query_string)).get("X-Amz-Credential", "").split("/")
        return credential[3] if len(credential) == 5 else None
    return "s3" if _is_v2(query_string) else None


def without_auth(query_string: str) -> str:
    """The query with the signature's own parameters taken out (what the request asks for)."""
    return "&".join(
        pair
        for pair in query_string.split("&")
        if pair and pair.partition("=")[0] not in AUTH_PARAMETERS | V2_PARAMETERS
    )


def _malformed(message: str) -> S3Error:
    return S3Error("AuthorizationQueryParametersError", message)


def authenticate_presigned(
    server: ServerState,
    *,
    method: str,
    path: str,
    query_string: str,
    headers: dict[str, str],
    now: float | None = None,
) -> tuple[Identity, str]:
    """The signer of a presigned request and its scope's region; raises S3's error."""
    params = dict(parse_qsl(query_string, keep_blank_values=True))
    if not _is_v4(query_string):
        return _authenticate_v2(server, method, path, query_string, params, headers, now)
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise _malformed('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
    scope = params.get("X-Amz-Credential", "").split("/")
    if len(scope) != 5 or scope[3] != "s3" or scope[4] != "aws4_request":
        raise _malformed("Error parsing the X-Amz-Credential parameter; the credential is mal-formed.")
    if scope[2] not in known_regions():
        raise _malformed(f"Error parsing the X-Amz-Credential parameter; the region '{scope[2]}' is wrong.")
    amz_date = params.get("X-Amz-Date", "")
    try:
        signed_at = timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        expires = int(params.get("X-Amz-Expires", ""))
    except ValueError:
        raise _malformed(
            "X-Amz-Date must be in the ISO8601 long format and X-Amz-Expires a number."
        ) from None
    if not 0 < expires <= MAX_EXPIRES or amz_date[:8] != scope[1]:
        raise _malformed("X-Amz-Expires must be between 1 and 604800 seconds, and the dates must agree.")
    current = time.time() if now is None else now
    if current > signed_at + expires:
        raise S3Error("AccessDenied", "Request has expired", 403)
    if signed_at > current + CLOCK_SKEW:
        raise S3Error("AccessDenied", "Request is not valid yet", 403)
    signed_headers = params.get("X-Amz-SignedHeaders", "").split(";")
    if "host" not in signed_headers:
        raise _malformed("X-Amz-SignedHeaders must include host.")
    try:
        header_lines = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed_headers)
    except KeyError as missing:
        raise S3Error(
            "SignatureDoesNotMatch", f"Signed header {missing} is not present in the request.", 403
        ) from None
    query = sorted(
        tuple(pair.partition("=")[::2])
        for pair in query_string.split("&")
        if pair and not pair.startswith("X-Amz-Signature=")
    )
    canonical = "\n".join(
        [
            method,
            path,
            "&".join(f"{name}={value}" for name, value in query),
            header_lines,
            ";".join(signed_headers),
            "UNSIGNED-PAYLOAD",
        ]
    )
    credential_scope = "/".join(scope[1:])
    text = f"{ALGORITHM}\n{amz_date}\n{credential_scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = server.access_key(scope[0])  # UnrecognizedClientException for an unknown or revoked key
    expected = hmac.new(
        signing_key(key.secret_access_key, scope[1], scope[2], "s3"), text.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
        raise S3Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            403,
        )
    return Identity(key.access_key_id, key.account_id, key.user_name), scope[2]


def _authenticate_v2(
    server: ServerState,
    method: str,
    path: str,
    query_string: str,
    params: dict[str, str],
    headers: dict[str, str],
    now: float | None,
) -> tuple[Identity, str]:
    try:
        expires = int(params["Expires"])
    except ValueError:
        raise _malformed("Expires must be a number of seconds since the epoch.") from None
    if (time.time() if now is None else now) > expires:
        raise S3Error("AccessDenied", "Request has expired", 403)
    amz_headers = "".join(
        f"{name}:{value.strip()}\n" for name, value in sorted(headers.items()) if name.startswith("x-amz-")
    )
    subresources = sorted(
        (name, value)
        for name, _, value in (pair.partition("=") for pair in query_string.split("&"))
        if name in _V2_SUBRESOURCES
    )
    resource = path + (
        "?" + "&".join(f"{n}={unquote(v)}" if v else n for n, v in subresources) if subresources else ""
    )
    text = (
        f"{method}\n{headers.get('content-md5', '')}\n{headers.get('content-type', '')}\n{expires}\n"
        f"{amz_headers}{resource}"
    )
    key = server.access_key(params["AWSAccessKeyId"])
    expected = base64.b64encode(
        hmac.new(key.secret_access_key.encode(), text.encode(), hashlib.sha1).digest()
    ).decode()
    if not hmac.compare_digest(expected, params["Signature"]):
        raise S3Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            403,
        )
    return Identity(key.access_key_id, key.account_id, key.user_name), V2_REGION
