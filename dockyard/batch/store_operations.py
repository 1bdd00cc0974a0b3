"""The operations the engine runs itself against the object store, one item at a time:
S3PutObjectCopy, S3ComputeObjectChecksum, S3PutObjectTagging, S3DeleteObjectTagging. A job
only ever reaches the backing buckets of its own account (``backing``); a 5xx or throttling
answer is a temporary failure (retried), any other error a permanent one."""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable
from typing import Any

from dockyard.batch.invocation import PERMANENT, SUCCEEDED, TEMPORARY, Item, Outcome
from dockyard.batch.manifest_spec import bucket_of

Backing = Callable[[str], str]
_HASHES = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512"}
_CHUNK = 1 << 20


TAGGING = frozenset({"S3PutObjectTagging", "S3DeleteObjectTagging"})
NO_TAGS = (
    "{name} is not supported by Dockyard's embedded object store: rclone serve s3 keeps no object "
    "tags (it would take the tagging request for the object itself). Run Dockyard with "
    "--object-store-url on a store that keeps tags (MinIO, Ceph RGW, Amazon S3)."
)


def run(
    client: Any,
    backing: Backing,
    name: str,
    operation: dict[str, Any],
    item: Item,
    *,
    keeps_tags: bool = True,
) -> Outcome:
    """Apply ``name`` to one item; its outcome (never raises for a store error). On a store
    that keeps no object tags (``keeps_tags`` False) a tagging operation fails each item
    permanently, as S3 answers what it does not implement (501 NotImplemented)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if name in TAGGING and not keeps_tags:
        return Outcome(PERMANENT, NO_TAGS.format(name=name), "NotImplemented", 501)
    try:
        return _OPERATIONS[name](client, backing, operation, item)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "Error"))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
        temporary = status >= 500 or code in ("SlowDown", "Throttling", "RequestTimeout")
        return Outcome(TEMPORARY if temporary else PERMANENT, str(error)[:1024], code, status)
    except BotoCoreError as error:  # the store unreachable: try again later
        return Outcome(TEMPORARY, str(error)[:1024], "StoreUnavailable", 503)


def _copy(client: Any, backing: Backing, operation: dict[str, Any], item: Item) -> Outcome:
    target = bucket_of(operation["TargetResource"], "TargetResource")
    key = f"{operation.get('TargetKeyPrefix') or ''}{item.key}"
    source: dict[str, str] = {"Bucket": backing(item.bucket), "Key": item.key}
    if item.version_id:
        source["VersionId"] = item.version_id
    extra: dict[str, Any] = {}
    if operation.get("MetadataDirective"):
        extra["MetadataDirective"] = operation["MetadataDirective"]
    client.copy_object(Bucket=backing(target), Key=key, CopySource=source, **extra)
    return Outcome(SUCCEEDED, f"copied to {target}/{key}")


def _checksum(client: Any, backing: Backing, operation: dict[str, Any], item: Item) -> Outcome:
    algorithm = operation.get("ChecksumAlgorithm") or "SHA256"
    if algorithm not in _HASHES and algorithm != "CRC32":
        return Outcome(
            PERMANENT, f"ChecksumAlgorithm {algorithm} is not computed by Dockyard", "NotImplemented", 501
        )
    extra = {"VersionId": item.version_id} if item.version_id else {}
    body = client.get_object(Bucket=backing(item.bucket), Key=item.key, **extra)["Body"]
    digest = hashlib.new(_HASHES[algorithm]) if algorithm in _HASHES else None
    crc = 0
    for chunk in iter(lambda: body.read(_CHUNK), b""):
        if digest is not None:
            digest.update(chunk)
        else:
            crc = zlib.crc32(chunk, crc)
    raw = digest.digest() if digest is not None else crc.to_bytes(4, "big")
    return Outcome(SUCCEEDED, f"{algorithm}:{base64.b64encode(raw).decode()}")


def _put_tagging(client: Any, backing: Backing, operation: dict[str, Any], item: Item) -> Outcome:
    extra = {"VersionId": item.version_id} if item.version_id else {}
    tags = [{"Key": tag["Key"], "Value": tag["Value"]} for tag in operation.get("TagSet") or []]
    client.put_object_tagging(Bucket=backing(item.bucket), Key=item.key, Tagging={"TagSet": tags}, **extra)
    return Outcome(SUCCEEDED, "")


def _delete_tagging(client: Any, backing: Backing, operation: dict[str, Any], item: Item) -> Outcome:
    extra = {"VersionId": item.version_id} if item.version_id else {}
    client.delete_object_tagging(Bucket=backing(item.bucket), Key=item.key, **extra)
    return Outcome(SUCCEEDED, "")


_OPERATIONS: dict[str, Callable[[Any, Backing, dict[str, Any], Item], Outcome]] = {
    "S3PutObjectCopy": _copy,
    "S3ComputeObjectChecksum": _checksum,
    "S3PutObjectTagging": _put_tagging,
    "S3DeleteObjectTagging": _delete_tagging,
}
