"""The object store: an S3-compatible store (embedded rclone, or the user's), and the S3
gateway on Dockyard's own port that maps each account's buckets onto it."""

from __future__ import annotations

from dockyard.objectstore.names import SYSTEM_ACCOUNT
from dockyard.objectstore.store import ObjectStore, ObjectStoreSettings, ObjectStoreUnavailable

__all__ = ["SYSTEM_ACCOUNT", "ObjectStore", "ObjectStoreSettings", "ObjectStoreUnavailable"]
