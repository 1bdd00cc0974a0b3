"""AWS Signature Version 4 verification.

The client's signature is recomputed with botocore's own signer over exactly the headers the
client says it signed, then compared in constant time. The credential scope names the
region (every resource lives in the region its request was signed for) and the service.
As AWS does, ``check_scope`` refuses a request before that: the scope's service must be the
API's signing name, its region one that botocore's endpoint data lists, and ``host`` and every
``x-amz-*`` header sent must be among the signed ones (an unsigned ``X-Amz-Target`` could
otherwise be swapped on a captured request).

This runs on every request, so it avoids work that does not change the answer: the derived
signing key (a function of secret, date, region and service) is cached, checked against
botocore's own derivation whenever it is computed; a timestamp is parsed once. The API's
requests (``POST /``, no query string) get their canonical request built here, in a few string
joins, instead of by botocore's signer (URL parsing, path normalization and header objects were
half of the whole check); a property test holds it to botocore's ``canonical_request``. Any
other request (the agent socket's and the logs' GETs, with paths and query strings) goes
through botocore's signer, its request not re-preparing itself on every access to its body and
carrying its headers in a plain dict rather than botocore's ``email.message``-based one.
"""

from __future__ import annotations

import datetime
import email.utils
import functools
import hashlib
import hmac
import time
from calendar import timegm
from dataclasses import dataclass
from typing import Any, NamedTuple

import botocore.loaders
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth, _host_from_url
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dockyard.errors import (
    ApiError,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW_SECONDS = 15 * 60
# Bounds for the caches below: a key, a scope and a day make one entry.
_CACHE_ENTRIES = 4096


@dataclass(frozen=True, slots=True)
class Credential:
    """What an Authorization header says besides its signature: who signs, for which scope,
    over which headers. A client signing with one key on one day sends the same one on every
    request, so it is parsed once (``_credential``) and what follows from it worked out then."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    covered: frozenset[str]  # signed_headers, for membership tests
    known_region: bool  # the region is one of botocore's endpoint data
    # The canonical request's header part: botocore's selection of the signed headers, sorted,
    # and their names joined; whether the payload hash is a signed header's value.
    canonical_names: tuple[str, ...]
    canonical_joined: str
    payload_signed: bool


class SignedRequest(NamedTuple):
    """What the Authorization header claims: who signed, for which scope, over which headers."""

    credential: Credential
    signature: str
    amz_date: str

    @property
    def access_key_id(self) -> str:
        return self.credential.access_key_id

    @property
    def date(self) -> str:
        return self.credential.date

    @property
    def region(self) -> str:
        return self.credential.region

    @property
    def service(self) -> str:
        return self.credential.service

    @property
    def signed_headers(self) -> tuple[str, ...]:
        return self.credential.signed_headers


def parse_authorization(headers: dict[str, str]) -> SignedRequest:
    """Parse the SigV4 Authorization header; raise the AWS error for a missing or broken one."""
    header = headers.get("authorization")
    if not header:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    # Everything before the signature (its last member, as every SDK writes it) is parsed once.
    head, found, signature = header.rpartition("Signature=")
    credential = _credential(head) if found and "," not in signature else None
    if credential is None:
        return _parse_whole(header, headers)
    return SignedRequest(credential, signature.rstrip(), _request_date(headers))


@functools.lru_cache(maxsize=_CACHE_ENTRIES)
def _credential(head: str) -> Credential | None:
    """The credential of every header that starts with ``head`` and ends with its signature;
    None if ``head`` does not parse (the whole header is parsed again, for its error)."""
    try:
        fields = _fields(f"{head}Signature=-")
    except ApiError:
        return None
    return fields[0] if fields[1] == "-" else None


def _parse_whole(header: str, headers: dict[str, str]) -> SignedRequest:
    credential, signature = _fields(header)
    return SignedRequest(credential, signature, _request_date(headers))


def _request_date(headers: dict[str, str]) -> str:
    """The request's time in ISO 8601 basic format, as the string to sign holds it: X-Amz-Date,
    else the Date header (RFC 1123; botocore signs with it when the caller set one). A Date
    that does not parse is returned as it is, for the clock check's error."""
    amz_date = headers.get("x-amz-date", "")
    if amz_date:
        return amz_date
    date = headers.get("date", "")
    if not date:
        raise _no_date()
    try:
        parsed = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return date
    if parsed.tzinfo is None:  # "-0000", as botocore writes it: UTC
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def _fields(header: str) -> tuple[Credential, str]:
    algorithm, _, rest = header.partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(f"Unsupported AWS 'algorithm': '{algorithm}'")
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
    signed_headers = tuple(fields["SignedHeaders"].split(";"))
    names, joined, payload_signed = _canonical_plan(signed_headers)
    credential = Credential(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=signed_headers,
        covered=frozenset(signed_headers),
        known_region=scope[2] in known_regions(),
        canonical_names=names,
        canonical_joined=joined,
        payload_signed=payload_signed,
    )
    return credential, fields["Signature"]


def _no_date() -> IncompleteSignatureException:
    return IncompleteSignatureException(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in botocore's endpoint data."""
    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(region for partition in endpoints["partitions"] for region in partition["regions"])


def check_scope(signed: SignedRequest, headers: dict[str, str], service: str) -> None:
    """The scope is for this API and a real region, and the signature covers what it must."""
    credential = signed.credential
    if credential.service != service:
        raise InvalidSignatureException(f"Credential should be scoped to correct service: '{service}'.")
    if not credential.known_region:
        raise InvalidSignatureException(
            f"Credential should be scoped to a valid region, not '{credential.region}'."
        )
    covered = credential.covered
    if "host" in covered:
        for name in headers.keys() - covered:
            if name.startswith("x-amz-"):
                break
        else:
            return
    unsigned = sorted(name for name in headers if name.startswith("x-amz-") and name not in covered)
    if "host" not in covered:
        unsigned.insert(0, "host")
    raise InvalidSignatureException(
        f"The request signature does not cover the header(s) {', '.join(unsigned)}; "
        "host and every x-amz-* header must be signed."
    )


def check_clock(signed: SignedRequest, now: float | None = None) -> None:
    """Refuse a request signed more than 15 minutes away from our clock, as AWS does."""
    try:
        signed_at = _epoch(signed.amz_date)
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


@functools.lru_cache(maxsize=_CACHE_ENTRIES)
def _epoch(amz_date: str) -> int:
    # strptime costs more than the rest of the clock check; a client reuses its timestamp.
    return timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))


class _Request(AWSRequest):  # type: ignore[misc]
    """An AWSRequest whose body is the bytes given: botocore's own ``body`` property prepares
    the whole request again on every access, which cost more than the rest of the check."""

    @property
    def body(self) -> bytes:
        return self.data  # type: ignore[no-any-return]


class _Headers(dict[str, str]):
    """Headers as botocore's signer reads them, without the cost of its ``HTTPHeaders`` (an
    ``email.message.Message``, a third of the whole check): names come lower case and unique
    (HTTP/ASGI gives them so), lookups ignore case, and every name has one value."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def get_all(self, name: str, failobj: Any = None) -> Any:
        return [self[name]] if name in self else failobj


class _Signer(SigV4Auth):  # type: ignore[misc]
    """botocore's SigV4 signer with the derived signing key cached per (secret, date, scope),
    reading headers from ``_Headers``."""

    _keys: dict[tuple[str, str, str, str], bytes] = {}

    def headers_to_sign(self, request: Any) -> _Headers:
        # botocore's selection (every header but its blacklist, host from the URL when absent),
        # into a _Headers instead of an HTTPHeaders; the canonical form is still botocore's.
        chosen = _Headers(
            (name.lower(), value)
            for name, value in request.headers.items()
            if name.lower() not in SIGNED_HEADERS_BLACKLIST
        )
        if "host" not in chosen:
            chosen["host"] = _host_from_url(request.url)
        return chosen

    def signature(self, string_to_sign: str, request: Any) -> str:
        signing_key = self.signing_key(request.context["timestamp"])
        return hmac.digest(signing_key, string_to_sign.encode(), "sha256").hex()

    def signing_key(self, amz_date: str) -> bytes:
        """The key derived from the secret for the day of ``amz_date`` and this scope."""
        date = amz_date[0:8]
        cache_key = (self.credentials.secret_key, date, self._region_name, self._service_name)
        signing_key = self._keys.get(cache_key)
        if signing_key is None:
            signing_key = self._derive_key(cache_key)
            # The cache must never change an answer: check it against botocore's signer.
            probe = f"{ALGORITHM}\n{amz_date}\nprobe"
            if self._sign(signing_key, probe, hex=True) != super().signature(probe, _Timestamped(amz_date)):
                raise RuntimeError("SigV4 signing key derivation disagrees with botocore")
            if len(self._keys) >= _CACHE_ENTRIES:
                self._keys.clear()
            self._keys[cache_key] = signing_key
        return signing_key

    def _derive_key(self, cache_key: tuple[str, str, str, str]) -> bytes:
        secret, date, region, service = cache_key
        key = self._sign(f"AWS4{secret}".encode(), date)
        for part in (region, service, "aws4_request"):
            key = self._sign(key, part)
        return key  # type: ignore[no-any-return]


class _S3Signer(_Signer):
    """S3 signs the path as sent: no dot-segment or slash normalization (keys may hold them)."""

    def _normalize_url_path(self, path: str) -> str:
        return path


@functools.lru_cache(maxsize=_CACHE_ENTRIES)
def _signer(access_key_id: str, secret_access_key: str, service: str, region: str) -> _Signer:
    kind = _S3Signer if service == "s3" else _Signer
    return kind(Credentials(access_key_id, secret_access_key), service, region)


def root_canonical_request(method: str, signed_values: dict[str, str], body: bytes) -> str:
    """The canonical request of ``method /`` without a query string, over ``signed_values``
    (lower-case names), as botocore's ``SigV4Auth.canonical_request`` builds it: its header
    selection, value folding and payload hash (the ``X-Amz-Content-SHA256`` value if signed)."""
    return _root_canonical(_canonical_plan(tuple(signed_values)), method, signed_values, body)


@functools.lru_cache(maxsize=_CACHE_ENTRIES)
def _canonical_plan(signed_headers: tuple[str, ...]) -> tuple[tuple[str, ...], str, bool]:
    """botocore's selection of the signed headers (its blacklist left out), sorted; their
    names joined; whether the payload hash is the ``X-Amz-Content-SHA256`` value."""
    names = tuple(sorted({name for name in signed_headers if name not in SIGNED_HEADERS_BLACKLIST}))
    return names, ";".join(names), "x-amz-content-sha256" in names


def _root_canonical(
    plan: tuple[tuple[str, ...], str, bool], method: str, values: dict[str, str], body: bytes
) -> str:
    names, joined, payload_signed = plan
    payload = values["x-amz-content-sha256"] if payload_signed else hashlib.sha256(body).hexdigest()
    lines = "\n".join([f"{name}:{' '.join(values[name].split())}" for name in names])
    return f"{method.upper()}\n/\n\n{lines}\n\n{joined}\n{payload}"


class _Timestamped:
    """All of a request botocore's ``signature`` reads: its timestamp."""

    def __init__(self, amz_date: str) -> None:
        self.context = {"timestamp": amz_date}


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
    """Recompute the signature over what the client says it signed and compare; raise if
    they differ."""
    credential = signed.credential
    for name in credential.signed_headers:
        if name not in headers:
            raise InvalidSignatureException(
                f"The request signature we calculated does not match the signature you provided. "
                f"Signed header {name!r} is not present in the request."
            )
    signer = _signer(credential.access_key_id, secret_access_key, credential.service, credential.region)
    amz_date = signed.amz_date
    if path == "/" and not query and "host" in credential.covered:
        plan = (credential.canonical_names, credential.canonical_joined, credential.payload_signed)
        canonical = _root_canonical(plan, method, headers, body)
        scope = f"{amz_date[:8]}/{credential.region}/{credential.service}/aws4_request"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        string_to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
        expected = hmac.digest(signer.signing_key(amz_date), string_to_sign.encode(), "sha256").hex()
    else:
        host = headers.get("host", "localhost")
        url = f"http://{host}{path}" + (f"?{query}" if query else "")
        request = _Request(method=method, url=url, data=body)
        request.headers = _Headers({name: headers[name] for name in credential.signed_headers})
        request.context["timestamp"] = amz_date
        expected = signer.signature(
            signer.string_to_sign(request, signer.canonical_request(request)), request
        )
    if not hmac.compare_digest(expected, signed.signature):
        raise InvalidSignatureException(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details."
        )
