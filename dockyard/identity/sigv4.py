"""AWS Signature Version 4 verification.

The client's signature is recomputed with botocore's own signer over exactly the headers the
client says it signed, then compared in constant time. The credential scope names the
region (every resource lives in the region its request was signed for) and the service.
"""

from __future__ import annotations

import hmac
import time
from calendar import timegm
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dockyard.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW_SECONDS = 15 * 60


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the Authorization header claims: who signed, for which scope, over which headers."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str


def parse_authorization(headers: dict[str, str]) -> SignedRequest:
    """Parse the SigV4 Authorization header; raise the AWS error for a missing or broken one."""
    header = headers.get("authorization")
    if not header:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported AWS 'algorithm': '{algorithm}'"
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if name not in fields]
    if missing:
        raise IncompleteSignatureException(
            f"Authorization header requires '{missing[0]}' parameter. "
            f"Authorization={header.split('Signature=')[0]}"
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise IncompleteSignatureException(
            f"Credential should be scoped to a valid region, not '{fields['Credential']}'."
        )
    amz_date = headers.get("x-amz-date", "")
    if not amz_date:
        raise IncompleteSignatureException(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    return SignedRequest(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(fields["SignedHeaders"].split(";")),
        signature=fields["Signature"],
        amz_date=amz_date,
    )


def check_clock(signed: SignedRequest, now: float | None = None) -> None:
    """Refuse a request signed more than 15 minutes away from our clock, as AWS does."""
    try:
        signed_at = timegm(time.strptime(signed.amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise IncompleteSignatureException(
            f"Date must be in ISO-8601 'basic format'. Got '{signed.amz_date}'."
        ) from None
    if signed.amz_date[:8] != signed.date:
        raise InvalidSignatureException(
            "Credential should be scoped to a valid date, "
            f"not '{signed.date}' (request date {signed.amz_date[:8]})."
        )
    current = time.time() if now is None else now
    if abs(current - signed_at) > MAX_CLOCK_SKEW_SECONDS:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(current))
        raise InvalidSignatureException(
            f"Signature expired: {signed.amz_date} is now earlier than "
            f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(current - MAX_CLOCK_SKEW_SECONDS))} "
            f"({stamp} - 15 min.)"
            if signed_at < current
            else f"Signature not yet current: {signed.amz_date} is still later than "
            f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(current + MAX_CLOCK_SKEW_SECONDS))} "
            f"({stamp} + 15 min.)"
        )


def verify_signature(
    signed: SignedRequest,
    secret_access_key: str,
    *,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    """Recompute the signature with botocore's signer and compare; raise if they differ."""
    try:
        signed_values = {name: headers[name] for name in signed.signed_headers}
    except KeyError as missing:
        raise InvalidSignatureException(
            f"The request signature we calculated does not match the signature you provided. "
            f"Signed header {missing} is not present in the request."
        ) from None
    host = headers.get("host", "localhost")
    url = f"http://{host}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, headers=signed_values, data=body)
    request.context["timestamp"] = signed.amz_date
    signer = SigV4Auth(
        Credentials(signed.access_key_id, secret_access_key), signed.service, signed.region
    )
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, signed.signature):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details."
        )
