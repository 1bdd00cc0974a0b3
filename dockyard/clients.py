"""boto3 clients for Dockyard's APIs that need more than ``endpoint_url``.

S3 Control: botocore's endpoint rules put the account in front of the host even for a custom
endpoint (``123456789012.localhost:5566``), which resolves only where ``*.localhost`` does, and
never for an IP address. ``s3control`` registers a ``before-sign`` handler that takes the
account back off the URL, so the request goes to the endpoint given and the signature covers
the Host header actually sent (at ``before-send`` it would break the signature).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

ACCOUNT_HEADER = "x-amz-account-id"


def strip_account_host(request: Any, **_kwargs: Any) -> None:
    """``before-sign.s3-control``: ``<account>.host:port`` back to ``host:port``."""
    account = request.headers.get(ACCOUNT_HEADER)
    parts = urlsplit(request.url)
    if account and parts.netloc.startswith(f"{account}."):
        request.url = urlunsplit(parts._replace(netloc=parts.netloc[len(account) + 1 :]))


def s3control(endpoint_url: str, *, session: Any = None, **kwargs: Any) -> Any:
    """A boto3 ``s3control`` client of a Dockyard endpoint (keyword arguments as boto3's
    ``client``: region_name, aws_access_key_id, config, ...)."""
    import boto3

    client = (session or boto3).client("s3control", endpoint_url=endpoint_url, **kwargs)
    client.meta.events.register("before-sign.s3-control", strip_account_host)
    return client
