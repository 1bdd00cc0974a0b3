"""Secrets at rest: a 0700 data directory, 0600 files, secret keys sealed under a master key
kept outside the store, on both backends (issue 10, item 5)."""

from __future__ import annotations

import secrets
import stat
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from dockyard.identity.sealing import Sealer, SealingError, load_sealer
from dockyard.store.db import make_engine, transaction
from dockyard.store.migrate import upgrade
from dockyard.store.schema import access_keys
from tests.harness import ADMIN_KEY_ID, ADMIN_SECRET, Credentials, DockyardServer


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_sealed_secret_opens_only_under_its_master_key_and_for_its_key_id() -> None:
    sealer = Sealer(secrets.token_bytes(32))
    sealed = sealer.seal("the-secret", "AKIAONE")
    assert "the-secret" not in sealed and sealed != sealer.seal("the-secret", "AKIAONE")
    assert sealer.open(sealed, "AKIAONE") == "the-secret"
    with pytest.raises(SealingError):
        sealer.open(sealed, "AKIATWO")  # copied onto another key's row
    with pytest.raises(SealingError):
        Sealer(secrets.token_bytes(32)).open(sealed, "AKIAONE")


def test_the_master_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = load_sealer(tmp_path)
    assert mode(tmp_path / "master.key") == 0o600
    assert load_sealer(tmp_path).open(first.seal("s", "k"), "k") == "s"


def test_the_data_directory_and_its_files_are_the_owners_alone(
    server: DockyardServer, account: Credentials
) -> None:
    server.client(account).create_cluster(clusterName="written")
    assert mode(server.data_dir) == 0o700
    assert mode(server.data_dir / "master.key") == 0o600
    if server.database_url is None:
        for name in ("dockyard.db", "dockyard.db-wal", "dockyard.db-shm"):
            assert mode(server.data_dir / name) == 0o600, name


def _stored_secrets(server: DockyardServer) -> dict[str, str]:
    engine = make_engine(server.store_url)
    try:
        with transaction(engine, write=False) as connection:
            rows = connection.execute(select(access_keys.c.access_key_id, access_keys.c.secret_access_key))
            return {row.access_key_id: row.secret_access_key for row in rows}
    finally:
        engine.dispose()


def test_no_secret_is_stored_in_the_clear(server: DockyardServer, account: Credentials) -> None:
    stored = _stored_secrets(server)
    for secret in (ADMIN_SECRET, account.secret_access_key):
        assert all(secret not in value for value in stored.values())
    if server.database_url is None:
        raw = b"".join(
            path.read_bytes() for path in server.data_dir.iterdir() if path.name.startswith("dockyard.db")
        )
        assert ADMIN_SECRET.encode() not in raw and account.secret_access_key.encode() not in raw
    assert ADMIN_SECRET not in server.log() and account.secret_access_key not in server.log()
    assert "clusterArns" in server.client(account).list_clusters()  # and the key still signs


def test_secrets_stored_before_sealing_are_sealed_at_start_and_keep_working(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'dockyard.db'}")
    upgrade(engine)
    with transaction(engine) as connection:
        connection.execute(
            insert(access_keys).values(
                access_key_id="AKIAOLDPLAINTEXTKEY1",
                secret_access_key="an-old-plaintext-secret",
                account_id="111122223333",
                user_name="old",
                status="Active",
                created_at=0.0,
            )
        )
    engine.dispose()
    server = DockyardServer(data_dir=tmp_path).start()
    try:
        stored = _stored_secrets(server)
        assert stored["AKIAOLDPLAINTEXTKEY1"].startswith("v1:")
        old = server.client(Credentials("AKIAOLDPLAINTEXTKEY1", "an-old-plaintext-secret", "111122223333"))
        assert "clusterArns" in old.list_clusters()
    finally:
        server.stop()


def test_the_operator_may_supply_the_master_key_file(tmp_path: Path) -> None:
    load_sealer(tmp_path / "made")
    key_file = tmp_path / "operator.key"
    key_file.write_text((tmp_path / "made" / "master.key").read_text())
    server = DockyardServer(
        data_dir=tmp_path / "data", extra_args=("--master-key-file", str(key_file))
    ).start()
    try:
        assert not (server.data_dir / "master.key").exists()
        admin = server.client(Credentials(ADMIN_KEY_ID, ADMIN_SECRET, "123456789012"))
        assert "clusterArns" in admin.list_clusters()
        sealed = _stored_secrets(server)[ADMIN_KEY_ID]
        assert load_sealer(tmp_path / "made").open(sealed, ADMIN_KEY_ID) == ADMIN_SECRET
    finally:
        server.stop()
