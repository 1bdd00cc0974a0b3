"""Bucket names: which a user may create, and the backing bucket that holds each.

Every account has its own bucket names (two accounts may both have ``data``); the backing store
has one namespace, so each (account, bucket) pair maps to a backing bucket named from a digest
of both. The mapping is a pure function: a caller can never name another account's backing
bucket without being that account, and nothing needs a lookup to find it.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re

# The account of Dockyard's own buckets (the image store, batch reports): no access key can
# belong to it, since every key's account is twelve digits.
SYSTEM_ACCOUNT = "dockyard"

BACKING_PREFIX = "dy-"
# S3 Control's path prefix: a bucket of this name would shadow that API on the gateway.
RESERVED = frozenset({"v20180820"})

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def backing_bucket(account_id: str, bucket: str) -> str:
    """The backing store's bucket that holds ``bucket`` of ``account_id`` (36 to 39 characters)."""
    digest = hashlib.sha256(f"{account_id}/{bucket}".encode()).digest()
    return f"{BACKING_PREFIX}{account_id}-{base64.b32encode(digest)[:20].decode().lower()}"


def bucket_name_problem(name: str) -> str | None:
    """Why ``name`` is not a bucket name S3 accepts (or Dockyard reserves); None if it is."""
    if not 3 <= len(name) <= 63:
        return "Bucket names must be between 3 and 63 characters long."
    if not _BUCKET.fullmatch(name):
        return (
            "Bucket names may hold only lower-case letters, digits, dots and hyphens, "
            "and must begin and end with a letter or a digit."
        )
    if ".." in name or ".-" in name or "-." in name:
        return "Bucket names must not hold two adjacent dots, nor a dot next to a hyphen."
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "Bucket names must not be formatted as an IP address."
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        return "Bucket names must not use a prefix or suffix that S3 reserves."
    if name in RESERVED:
        return f"The bucket name {name} is reserved."
    return None
