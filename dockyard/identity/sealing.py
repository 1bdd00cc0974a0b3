"""Secret access keys at rest: sealed with AES-GCM under a master key kept outside the store.

The master key is 32 random bytes in a file of its own (mode 0600): ``master.key`` in the data
directory, made at first start, or one the operator supplies (``--master-key-file``; several
control planes on one PostgreSQL must share it). A sealed secret is ``v1:`` and the base64 of
nonce, ciphertext and tag; its key id is the associated data, so a sealed secret copied onto
another key's row does not open. A copy of the database alone gives no secret away.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MASTER_KEY_FILE = "master.key"
_PREFIX = "v1:"
_NONCE_BYTES = 12


class SealingError(Exception):
    """A sealed secret that does not open under this master key (another key, or tampering)."""


class Sealer:
    """Seals and opens secrets under one master key."""

    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(master_key)

    def seal(self, secret: str, key_id: str) -> str:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode(), key_id.encode())
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, stored: str, key_id: str) -> str:
        if not is_sealed(stored):
            return stored  # a secret from before sealing, until start-up seals it
        raw = base64.b64decode(stored[len(_PREFIX) :])
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], key_id.encode()).decode()
        except InvalidTag:
            raise SealingError(
                f"the secret of access key {key_id} does not open under this master key"
            ) from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(_PREFIX)


def load_sealer(data_dir: str | Path, key_file: str | Path | None = None) -> Sealer:
    """The sealer of this control plane: the operator's key file, else the data directory's
    (created, mode 0600, at first start)."""
    path = Path(key_file) if key_file else Path(data_dir) / MASTER_KEY_FILE
    if not path.exists() and not key_file:
        _create_key_file(path)
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        path.chmod(0o600)  # readable by the owner only, whoever made it
    text = path.read_text().strip()
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SystemExit(f"{path} does not hold a master key (32 bytes, base64)")
    return Sealer(key)


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
