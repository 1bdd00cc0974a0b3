"""``documentSource``: a job's (or template's) document read from the account's bucket in the
object store, once, when the job is made (as IoT reads it from S3 at CreateJob).

The URL is an S3 object URL as IoT takes it (``https://s3.REGION.amazonaws.com/BUCKET/KEY``,
``https://BUCKET.s3.REGION.amazonaws.com/KEY``) or one of Dockyard's own S3 endpoint
(``http://HOST:PORT/BUCKET/KEY``, path-style). The bucket is the caller's: the object store
maps each account's bucket names onto its own backing buckets, so another account's document
cannot be named.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from dockyard.context import RequestContext
from dockyard.iot.errors import InvalidRequestException

MAX_DOCUMENT_BYTES = 32 * 1024  # the model's JobDocument limit
_OPERATIONS = frozenset({"CreateJob", "CreateJobTemplate"})
_VIRTUAL_HOST = re.compile(r"(?P<bucket>.+)\.s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com")


def object_of(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 object URL; InvalidRequestException when it names none."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidRequestException(f"documentSource {url!r} is not an S3 object URL.")
    path = unquote(parts.path)
    virtual = _VIRTUAL_HOST.fullmatch(host)
    if virtual is not None:
        bucket, key = virtual.group("bucket"), path.lstrip("/")
    else:
        bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or not key:
        raise InvalidRequestException(f"documentSource {url!r} does not name a bucket and a key.")
    return bucket, key


def prefetch(ctx: RequestContext) -> Callable[[], None] | None:
    """The iot front-end's prefetch: a CreateJob's or CreateJobTemplate's documentSource to
    read (off the event loop); None for every other request."""
    if ctx.operation is None or ctx.operation.name not in _OPERATIONS:
        return None
    url = ctx.params.get("documentSource")
    if url is None:
        return None
    if ctx.params.get("document") is not None:
        raise InvalidRequestException("Give either document or documentSource, not both.")

    def fetch() -> None:
        ctx.prefetched["documentSource"] = read(ctx, url)

    return fetch


def read(ctx: RequestContext, url: str) -> str:
    bucket, key = object_of(url)
    store = ctx.server.object_store
    if not store.configured:
        raise InvalidRequestException(
            "documentSource needs the object store, which this server runs without."
        )
    try:
        found = store.client().get_object(
            Bucket=store.backing_bucket(ctx.account_id, bucket),
            Key=key,
            Range=f"bytes=0-{MAX_DOCUMENT_BYTES}",
        )
        body: bytes = found["Body"].read(MAX_DOCUMENT_BYTES + 1)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Error")
        if code in ("NoSuchBucket", "NoSuchKey", "404"):
            raise InvalidRequestException(f"The job document {url} does not exist.") from None
        raise InvalidRequestException(f"The job document {url} could not be read: {code}.") from None
    except (BotoCoreError, OSError) as error:
        raise InvalidRequestException(f"The job document {url} could not be read: {error}.") from None
    if len(body) > MAX_DOCUMENT_BYTES:
        raise InvalidRequestException(f"The job document {url} is over {MAX_DOCUMENT_BYTES // 1024} KB.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestException(f"The job document {url} is not UTF-8 text.") from None


def fetched(ctx: RequestContext) -> str:
    """What ``prefetch`` read for this request."""
    return str(ctx.prefetched["documentSource"])
