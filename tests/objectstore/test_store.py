"""The ObjectStore other packages use: ensure_bucket, the client on a backing bucket, and a
clear, bounded failure when there is no store or it cannot start."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from dockyard.app import build_server_state
from dockyard.cli import open_store
from dockyard.identity.sealing import load_sealer
from dockyard.objectstore import (
    SYSTEM_ACCOUNT,
    ObjectStore,
    ObjectStoreSettings,
    ObjectStoreUnavailable,
    buckets,
)
from dockyard.store.db import transaction


def test_ensure_bucket_makes_the_record_and_the_backing_bucket_once(tmp_path: Path) -> None:
    server = build_server_state(
        open_store(str(tmp_path), None),
        public_url="http://127.0.0.1:1",
        sealer=load_sealer(str(tmp_path)),
        object_store=ObjectStoreSettings(root=tmp_path / "objects"),
    )
    store = server.object_store
    try:

        async def twice() -> tuple[str, str]:
            return (
                await store.ensure_bucket(SYSTEM_ACCOUNT, "images"),
                await store.ensure_bucket(SYSTEM_ACCOUNT, "images"),
            )

        first, again = anyio.run(twice)
        assert first == again == store.backing_bucket(SYSTEM_ACCOUNT, "images")
        store.client().put_object(Bucket=first, Key="sha256/abc", Body=b"layer")
        assert store.client().get_object(Bucket=first, Key="sha256/abc")["Body"].read() == b"layer"
        with transaction(server.engine, write=False) as connection:
            record = buckets.find(connection, SYSTEM_ACCOUNT, "images")
            assert record is not None and record.backing_bucket == first
            assert buckets.list_all(connection, "123456789012") == []
    finally:
        store.close()


def test_no_store_configured_is_a_clear_error() -> None:
    with pytest.raises(ObjectStoreUnavailable, match="no object store is configured"):
        anyio.run(ObjectStore(ObjectStoreSettings()).ready)


def test_an_embedded_store_that_cannot_start_fails_within_the_wait(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    store = ObjectStore(ObjectStoreSettings(root=blocked))
    try:
        with pytest.raises(ObjectStoreUnavailable, match="did not start within 1 s"):
            anyio.run(lambda: store.ready(timeout=1))
    finally:
        store.close()


def test_an_external_store_needs_its_keys() -> None:
    with pytest.raises(ValueError, match="access key"):
        ObjectStore(ObjectStoreSettings(url="http://127.0.0.1:9000"))
