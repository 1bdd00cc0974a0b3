"""Parsing and clock checks of SigV4 (no server)."""

from __future__ import annotations

import calendar
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from dockyard.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
)
from dockyard.identity import sigv4
from dockyard.identity.sigv4 import check_clock, parse_authorization, root_canonical_request, verify_signature

GOOD = (
    "AWS4-HMAC-SHA256 Credential=AKIAX/20261126/eu-west-1/ecs/aws4_request, "
    "SignedHeaders=host;x-amz-date;x-amz-target, Signature=abc123"
)


def test_a_good_header_names_key_scope_and_signed_headers() -> None:
    signed = parse_authorization({"authorization": GOOD, "x-amz-date": "20261126T120000Z"})
    assert (signed.access_key_id, signed.region, signed.service) == ("AKIAX", "eu-west-1", "ecs")
    assert signed.signed_headers == ("host", "x-amz-date", "x-amz-target")
    assert signed.signature == "abc123"


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, MissingAuthenticationTokenException),
        ({"authorization": "Basic dXNlcjpwYXNz"}, IncompleteSignatureException),
        (
            {
                "authorization": "AWS4-HMAC-SHA256 Credential=AKIAX/20261126/eu-west-1/ecs/aws4_request",
                "x-amz-date": "20261126T120000Z",
            },
            IncompleteSignatureException,
        ),
        (
            {"authorization": GOOD.replace("/aws4_request", ""), "x-amz-date": "20261126T120000Z"},
            IncompleteSignatureException,
        ),
        ({"authorization": GOOD}, IncompleteSignatureException),
    ],
    ids=["no header", "another scheme", "no signature", "a short scope", "no date"],
)
def test_broken_headers_are_refused(headers: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_authorization(headers)


def _signed(amz_date: str) -> object:
    return parse_authorization(
        {"authorization": GOOD.replace("20261126", amz_date[:8]), "x-amz-date": amz_date}
    )


def test_the_clock_allows_15_minutes_either_way() -> None:
    now = calendar.timegm(time.strptime("20261126T120000Z", "%Y%m%dT%H%M%SZ"))
    check_clock(_signed("20261126T114600Z"), now)  # type: ignore[arg-type]
    check_clock(_signed("20261126T121400Z"), now)  # type: ignore[arg-type]
    with pytest.raises(InvalidSignatureException, match="expired"):
        check_clock(_signed("20261126T114400Z"), now)  # type: ignore[arg-type]
    with pytest.raises(InvalidSignatureException, match="not yet current"):
        check_clock(_signed("20261126T121600Z"), now)  # type: ignore[arg-type]


def test_the_scope_date_must_be_the_request_date() -> None:
    signed = parse_authorization({"authorization": GOOD, "x-amz-date": "20261127T000100Z"})
    now = calendar.timegm(time.strptime("20261127T000100Z", "%Y%m%dT%H%M%SZ"))
    with pytest.raises(InvalidSignatureException, match="valid date"):
        check_clock(signed, now)


# -- verification against botocore's own signing, over headers hypothesis makes up ---------

_NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(
    # Not the headers the harness sets itself: a second X-Amz-Target is a duplicate header,
    # which botocore signs joined and the harness's dict cannot hold.
    lambda name: name.strip("-") and name not in ("host", "x-amz-date", "authorization", "x-amz-target")
)
_VALUES = st.text(alphabet="abc XYZ019 ,;=/", min_size=0, max_size=20)


def _botocore_signed(extra: dict[str, str], body: bytes) -> dict[str, str]:
    """The headers of a request botocore signed with these extra headers, as ASGI delivers
    them (names in lower case)."""
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:5566/",
        data=body,
        headers={"X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters", **extra},
    )
    SigV4Auth(BotoCredentials("AKIAVERIFY", "secret/key+0"), "ecs", "us-east-1").add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    headers["host"] = "127.0.0.1:5566"
    return headers


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_NAMES, _VALUES, max_size=5), st.binary(max_size=64), st.booleans())
def test_what_botocore_signs_verifies_and_a_changed_header_does_not(
    extra: dict[str, str], body: bytes, upper: bool
) -> None:
    written = {(name.title() if upper else name): value for name, value in extra.items()}
    headers = _botocore_signed(written, body)
    signed = parse_authorization(headers)
    verify = {"method": "POST", "path": "/", "query": ""}
    verify_signature(signed, "secret/key+0", **verify, headers=headers, body=body)
    for name in signed.signed_headers:
        tampered = {**headers, name: headers[name] + "x"}
        with pytest.raises(InvalidSignatureException):
            verify_signature(signed, "secret/key+0", **verify, headers=tampered, body=body)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(_NAMES | st.sampled_from(["user-agent", "x-amz-content-sha256"]), _VALUES, max_size=6),
    st.binary(max_size=64),
    st.sampled_from(["POST", "post", "GET"]),
)
def test_the_api_requests_canonical_form_is_botocores(
    extra: dict[str, str], body: bytes, method: str
) -> None:
    values = {"host": "127.0.0.1:5566", "x-amz-date": "20261203T120000Z", **extra}
    request = AWSRequest(method=method, url="http://127.0.0.1:5566/", data=body, headers=values)
    request.context["timestamp"] = values["x-amz-date"]
    expected = SigV4Auth(BotoCredentials("AKIAVERIFY", "secret"), "ecs", "us-east-1").canonical_request(
        request
    )
    assert root_canonical_request(method, values, body) == expected


# -- the parsed credential is cached per header head: never a different answer -----------

_FIELDS = st.sampled_from(
    [
        "Credential=AKIAX/20261126/eu-west-1/ecs/aws4_request",
        "Credential=AKIAY/20261126/us-east-1/ecs/aws4_request",
        "Credential=AKIAX/20261126/eu-west-1",
        "SignedHeaders=host;x-amz-date;x-amz-target",
        "SignedHeaders=x-amz-date;host",
        "Signature=abc123",
        "Signature=def456 ",
        "XSignature=zzz",
        "",
    ]
)


def _outcome(header: str) -> object:
    headers = {"authorization": header, "x-amz-date": "20261126T120000Z"}
    try:
        return parse_authorization(headers)
    except Exception as error:  # the same class and message, cached or not
        return (type(error), str(error))


@settings(max_examples=300, deadline=None)
@given(st.lists(_FIELDS, max_size=5), st.sampled_from([", ", ",", " , "]), st.sampled_from(["", " "]))
def test_a_header_parses_alike_whether_its_head_was_seen_before_or_not(
    fields: list[str], separator: str, tail: str
) -> None:
    header = f"AWS4-HMAC-SHA256 {separator.join(fields)}{tail}"
    first = _outcome(header)
    sigv4._credential.cache_clear()
    uncached: object
    try:
        uncached = sigv4._parse_whole(header, {"x-amz-date": "20261126T120000Z"})
    except Exception as error:
        uncached = (type(error), str(error))
    assert first == uncached
    assert _outcome(header) == first  # and again, from the cache


def test_requests_sharing_a_credential_keep_their_own_signatures() -> None:
    one = parse_authorization({"authorization": GOOD, "x-amz-date": "20261126T120000Z"})
    two = parse_authorization(
        {"authorization": GOOD.replace("abc123", "fff999"), "x-amz-date": "20261126T120001Z"}
    )
    assert one.credential is two.credential
    assert (one.signature, one.amz_date) == ("abc123", "20261126T120000Z")
    assert (two.signature, two.amz_date) == ("fff999", "20261126T120001Z")


def test_a_request_botocore_signed_with_a_date_header_verifies() -> None:
    """A caller that sets Date gets it signed instead of X-Amz-Date (botocore's
    ``_set_necessary_date_headers``); the string to sign still holds the ISO 8601 time."""
    headers = _botocore_signed({"Date": ""}, b"{}")
    assert "x-amz-date" not in headers and headers["date"]
    signed = parse_authorization(headers)
    assert len(signed.amz_date) == 16 and signed.amz_date.endswith("Z")
    verify = {"method": "POST", "path": "/", "query": ""}
    verify_signature(signed, "secret/key+0", **verify, headers=headers, body=b"{}")
    with pytest.raises(InvalidSignatureException):
        later = {**headers, "date": "Mon, 01 Jan 2029 00:00:00 GMT"}
        verify_signature(parse_authorization(later), "secret/key+0", **verify, headers=later, body=b"{}")
