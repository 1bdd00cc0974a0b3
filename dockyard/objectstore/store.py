"""The object store the control plane uses: the embedded rclone or a store the user brings.

Callers (the S3 gateway, batch jobs, the image store) ``await ready()`` once, then work with
``client()`` (a botocore S3 client to the backing store, thread-safe, synchronous: call it from
a worker thread) on ``backing_bucket(account, bucket)``, the backing bucket that holds an
account's bucket. ``ensure_bucket`` creates an account's bucket (its row and its backing
bucket) if missing. Dockyard's own buckets belong to ``SYSTEM_ACCOUNT``, which no user has.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
import botocore.config
import botocore.session
from botocore.exceptions import ClientError
from sqlalchemy import Connection

from dockyard.objectstore import buckets
from dockyard.objectstore.names import backing_bucket
from dockyard.objectstore.rclone import RcloneServer, RcloneUnavailable

T = TypeVar("T")
StoreRunner = Callable[[Callable[[Connection], T]], Awaitable[T]]

READY_TIMEOUT = 30.0


class ObjectStoreUnavailable(RuntimeError):
    """The object store is not configured, or does not answer."""


@dataclass(frozen=True)
class ObjectStoreSettings:
    """Where the objects live: ``url`` (an S3-compatible endpoint) with its keys, else the
    embedded rclone over ``root`` (None: no object store at all, e.g. in unit tests)."""

    url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str = "us-east-1"
    root: Path | None = None

    def __repr__(self) -> str:  # never show the secret
        return f"ObjectStoreSettings(url={self.url!r}, root={self.root!r}, region={self.region!r})"


class ObjectStore:
    """The control plane's object store (one per server process)."""

    def __init__(self, settings: ObjectStoreSettings, run_in_store: Any = None) -> None:
        self.settings = settings
        self._run_in_store = run_in_store
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._session: Any = None
        self.rclone: RcloneServer | None = None
        if settings.url:
            if not (settings.access_key_id and settings.secret_access_key):
                raise ValueError("an external object store needs its access key id and secret access key")
            self.access_key_id = settings.access_key_id
            self.secret_access_key = settings.secret_access_key
        else:
            # The embedded store's keys are made at every start and live only in memory.
            self.access_key_id = "DOCKYARD" + secrets.token_hex(6).upper()
            self.secret_access_key = secrets.token_urlsafe(30)
            if settings.root is not None:
                self.rclone = RcloneServer(settings.root, self.access_key_id, self.secret_access_key)

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def configured(self) -> bool:
        return bool(self.settings.url) or self.rclone is not None

    @property
    def embedded(self) -> bool:
        """The store is the embedded rclone (which has no object tagging, among others)."""
        return self.rclone is not None

    def endpoint(self) -> str:
        """The backing store's URL now (the embedded one's port may change if it restarts)."""
        if self.settings.url:
            return self.settings.url.rstrip("/")
        if self.rclone is None:
            raise ObjectStoreUnavailable("no object store is configured")
        endpoint = self.rclone.endpoint
        if endpoint is None:
            return self.ready_sync()
        return endpoint

    def ready_sync(self, timeout: float = READY_TIMEOUT) -> str:
        """``ready`` for a worker thread: the endpoint once the store answers."""
        if self.settings.url:
            return self.settings.url.rstrip("/")
        if self.rclone is None:
            raise ObjectStoreUnavailable("no object store is configured")
        try:
            return self.rclone.wait_ready(timeout)
        except RcloneUnavailable as error:
            raise ObjectStoreUnavailable(str(error)) from None

    async def ready(self, timeout: float = READY_TIMEOUT) -> None:
        """The store answers: starts the embedded one if needed; ObjectStoreUnavailable if it
        cannot within ``timeout`` seconds."""
        rclone = self.rclone
        if rclone is not None and rclone.endpoint is not None:
            return
        await anyio.to_thread.run_sync(lambda: self.ready_sync(timeout))

    def start(self) -> None:
        """Start the embedded store in the background (returns at once; no-op otherwise)."""
        if self.rclone is not None:
            self.rclone.start()

    def close(self) -> None:
        """Stop the embedded store (with the server)."""
        if self.rclone is not None:
            self.rclone.stop()

    def client(self, *, bulk: bool = False) -> Any:
        """A botocore S3 client to the backing store (thread-safe; blocking calls). A ``bulk``
        one sends bodies as UNSIGNED-PAYLOAD (not hashed for the signature: for callers that
        check their own digests of large data, as the image store does)."""
        endpoint = self.endpoint()
        name = f"{endpoint} bulk" if bulk else endpoint
        client = self._clients.get(name)
        if client is None:
            with self._lock:
                client = self._clients.get(name)
                if client is None:
                    client = self._new_client(endpoint, bulk=bulk)
                    # An old port's clients go.
                    kept = {k: v for k, v in self._clients.items() if k.split(" ")[0] == endpoint}
                    self._clients = kept | {name: client}
        return client

    def _new_client(self, endpoint: str, *, bulk: bool = False) -> Any:
        s3: dict[str, Any] = {"addressing_style": "path"}
        if bulk:
            s3["payload_signing_enabled"] = False
        config = botocore.config.Config(
            s3=s3,
            signature_version="s3v4",
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
            connect_timeout=5,
            read_timeout=120,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        if self._session is None:  # one session: its clients share the parsed S3 model (~15 MiB)
            self._session = botocore.session.get_session()
        return self._session.create_client(
            "s3",
            endpoint_url=endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=config,
        )

    def bucket_folder(self, account_id: str, bucket: str) -> Path | None:
        """The folder of the embedded store (run by this process) that holds a backing bucket,
        for large data of Dockyard's own written straight to disk (rclone maps a bucket to a
        folder and a key to a path below it); None for any other store."""
        if self.rclone is None:
            return None
        return self.rclone.root / self.backing_bucket(account_id, bucket)

    @staticmethod
    def backing_bucket(account_id: str, bucket: str) -> str:
        """The backing bucket that holds ``bucket`` of ``account_id``."""
        return backing_bucket(account_id, bucket)

    async def ensure_bucket(self, account_id: str, bucket: str, region: str | None = None) -> str:
        """Create the account's bucket if it does not exist (its record and its backing
        bucket); the backing bucket's name."""
        await self.ready()
        backing = self.backing_bucket(account_id, bucket)
        await anyio.to_thread.run_sync(lambda: self.create_backing_bucket(backing))
        if self._run_in_store is not None:
            await self._run_in_store(
                lambda connection: buckets.add(
                    connection, account_id, region or self.region, bucket, backing, time.time()
                )
            )
        return backing

    def create_backing_bucket(self, backing: str) -> None:
        """Create a backing bucket; one that exists already is fine."""
        extra: dict[str, Any] = {}
        if self.region != "us-east-1":  # AWS S3 wants the region named everywhere else
            extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.client().create_bucket(Bucket=backing, **extra)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in {
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            }:
                raise
