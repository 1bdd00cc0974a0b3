"""Reading a job's items, streamed (never a whole manifest in memory): a CSV manifest's lines,
an S3 inventory report (its ``manifest.json`` naming gzipped CSV files and their schema), or a
bucket listed through a ManifestGenerator's filters. The parsing is pure (lines in, items out);
``open_items`` binds it to the object store."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote_plus

from dockyard.batch import manifest_spec
from dockyard.batch.invocation import Item


class ManifestError(Exception):
    """A manifest that cannot be read: the job fails with this reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def csv_items(lines: Iterable[str], fields: list[str]) -> Iterator[Item]:
    """Items of CSV lines whose columns are ``fields`` (URL-encoded keys)."""
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < len(fields):
            raise ManifestError(
                "InvalidManifest", f"Manifest line {number} has {len(row)} of {len(fields)} fields."
            )
        named = dict(zip(fields, row, strict=False))
        version = named.get("VersionId") or None
        yield Item(named["Bucket"], unquote_plus(named["Key"]), unquote_plus(version) if version else None)


def inventory_fields(schema: str) -> list[str]:
    """``Bucket, Key, VersionId, IsLatest`` -> the field names, Ignore for the rest."""
    wanted = {"Bucket", "Key", "VersionId"}
    return [name if name in wanted else "Ignore" for name in (part.strip() for part in schema.split(","))]


def matches(listed: dict[str, Any], filters: dict[str, Any]) -> bool:
    """Whether a ListObjectsV2 entry passes a ManifestGenerator's filters."""
    key = str(listed["Key"])
    names = filters.get("KeyNameConstraint") or {}
    if names.get("MatchAnyPrefix") and not any(key.startswith(p) for p in names["MatchAnyPrefix"]):
        return False
    if names.get("MatchAnySuffix") and not any(key.endswith(s) for s in names["MatchAnySuffix"]):
        return False
    if names.get("MatchAnySubstring") and not any(s in key for s in names["MatchAnySubstring"]):
        return False
    size = int(listed.get("Size", 0))
    if (
        filters.get("ObjectSizeGreaterThanBytes") is not None
        and not size > filters["ObjectSizeGreaterThanBytes"]
    ):
        return False
    if filters.get("ObjectSizeLessThanBytes") is not None and not size < filters["ObjectSizeLessThanBytes"]:
        return False
    modified = listed.get("LastModified")
    stamp = modified.timestamp() if modified is not None and hasattr(modified, "timestamp") else None
    if (
        stamp is not None
        and filters.get("CreatedAfter") is not None
        and not stamp > float(filters["CreatedAfter"])
    ):
        return False
    if (
        stamp is not None
        and filters.get("CreatedBefore") is not None
        and not stamp < float(filters["CreatedBefore"])
    ):
        return False
    classes = filters.get("MatchAnyStorageClass")
    return not classes or listed.get("StorageClass", "STANDARD") in classes


# (account's bucket) -> the backing store's bucket that holds it
Backing = Callable[[str], str]


def open_items(client: Any, backing: Backing, request: dict[str, Any]) -> Iterator[Item]:
    """Every item of the job's manifest (or generator), in order, streamed from the store."""
    if request.get("ManifestGenerator"):
        return _generated(client, backing, request["ManifestGenerator"]["S3JobManifestGenerator"])
    manifest = request["Manifest"]
    bucket, key = manifest_spec.object_of(manifest["Location"]["ObjectArn"])
    body = _get(client, backing(bucket), key, manifest["Location"])
    if manifest["Spec"]["Format"] == manifest_spec.CSV:
        return csv_items(_lines(body), manifest["Spec"]["Fields"])
    return _inventory(client, backing, json.loads(body.read()))


def _get(client: Any, bucket: str, key: str, location: dict[str, Any] | None = None) -> Any:
    from botocore.exceptions import ClientError

    extra = {"VersionId": location["ObjectVersionId"]} if location and location.get("ObjectVersionId") else {}
    try:
        found = client.get_object(Bucket=bucket, Key=key, **extra)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise ManifestError(
            "ManifestNotFound" if code in ("NoSuchKey", "NoSuchBucket", "404") else code,
            f"Reading manifest {key} failed: {code}",
        ) from None
    if location is not None and found["ETag"].strip('"') != location["ETag"].strip('"'):
        raise ManifestError(
            "ETagMismatch", f"The manifest's ETag is {found['ETag']}, not {location['ETag']}."
        )
    return found["Body"]


def _lines(body: Any) -> Iterator[str]:
    for raw in body.iter_lines():
        yield raw.decode("utf-8-sig")


def _inventory(client: Any, backing: Backing, document: dict[str, Any]) -> Iterator[Item]:
    fields = inventory_fields(str(document.get("fileSchema", "")))
    if "Key" not in fields or "Bucket" not in fields:
        raise ManifestError("InvalidManifest", "The inventory's fileSchema names no Bucket and Key.")
    where = manifest_spec.bucket_of(str(document.get("destinationBucket", "")), "destinationBucket")
    for entry in document.get("files", []):
        body = _get(client, backing(where), entry["key"])
        raw = gzip.GzipFile(fileobj=body) if entry["key"].endswith(".gz") else body
        yield from csv_items(io.TextIOWrapper(raw, encoding="utf-8"), fields)


def _generated(client: Any, backing: Backing, generator: dict[str, Any]) -> Iterator[Item]:
    from botocore.exceptions import ClientError

    bucket = manifest_spec.bucket_of(generator["SourceBucket"], "SourceBucket")
    filters = generator.get("Filter") or {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=backing(bucket))
    try:
        for page in pages:
            for listed in page.get("Contents", []):
                if matches(listed, filters):
                    yield Item(bucket, listed["Key"])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        raise ManifestError("SourceBucketUnreadable", f"Listing {bucket} failed: {code}") from None
