"""What a job's manifest is allowed to be, checked at CreateJob (pure): a CSV manifest
(``S3BatchOperations_CSV_20180820``, Fields from Ignore/Bucket/Key/VersionId with Bucket and
Key), an S3 inventory report's ``manifest.json`` (``S3InventoryReport_CSV_20161130``), or a
ManifestGenerator listing a bucket; objects named by S3 ARNs."""

from __future__ import annotations

import re
from typing import Any

from dockyard.batch.errors import BadRequestException

CSV = "S3BatchOperations_CSV_20180820"
INVENTORY = "S3InventoryReport_CSV_20161130"
FIELDS = frozenset({"Ignore", "Bucket", "Key", "VersionId"})

_OBJECT_ARN = re.compile(r"arn:[^:]+:s3:::([^/]+)/(.+)", re.DOTALL)
_BUCKET_ARN = re.compile(r"arn:[^:]+:s3:::([^/]+)")


def object_of(arn: str) -> tuple[str, str]:
    """The bucket and key of ``arn:aws:s3:::bucket/key``."""
    found = _OBJECT_ARN.fullmatch(arn)
    if found is None:
        raise BadRequestException(f"Invalid manifest ObjectArn: {arn}")
    return found.group(1), found.group(2)


def bucket_of(arn: str, member: str) -> str:
    """The bucket of ``arn:aws:s3:::bucket``."""
    found = _BUCKET_ARN.fullmatch(arn)
    if found is None:
        raise BadRequestException(f"Invalid {member}: {arn} is not an S3 bucket ARN.")
    return found.group(1)


def check_manifest(manifest: dict[str, Any]) -> None:
    spec, location = manifest["Spec"], manifest["Location"]
    object_of(location["ObjectArn"])
    fields = spec.get("Fields") or []
    if spec["Format"] == CSV:
        unknown = [field for field in fields if field not in FIELDS]
        if unknown or "Bucket" not in fields or "Key" not in fields:
            raise BadRequestException(
                "A CSV manifest's Fields must include Bucket and Key, from Ignore, Bucket, Key and VersionId."
            )
    elif fields:
        raise BadRequestException(
            "An inventory report manifest takes no Fields: its manifest.json names them."
        )


def check_generator(generator: dict[str, Any]) -> None:
    s3 = generator.get("S3JobManifestGenerator")
    if s3 is None:
        raise BadRequestException("A ManifestGenerator must be an S3JobManifestGenerator.")
    bucket_of(s3["SourceBucket"], "SourceBucket")
    output = s3.get("ManifestOutputLocation")
    if s3["EnableManifestOutput"] and output is None:
        raise BadRequestException("EnableManifestOutput requires a ManifestOutputLocation.")
    if output is not None:
        bucket_of(output["Bucket"], "ManifestOutputLocation.Bucket")


def check_report(report: dict[str, Any]) -> None:
    if not report["Enabled"]:
        return
    if not report.get("Bucket") or not report.get("Format"):
        raise BadRequestException("An enabled Report needs a Bucket and a Format.")
    bucket_of(report["Bucket"], "Report.Bucket")
