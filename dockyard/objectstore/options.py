"""The object store's command-line options (``dockyard server`` and ``dockyard up``), each
with its environment variable; the secret is best given by the environment alone (a command
line shows in ``ps``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from dockyard.objectstore.store import ObjectStoreSettings

_OPTIONS = {
    # option: (environment variable, help)
    "url": (
        "DOCKYARD_OBJECT_STORE_URL",
        "an S3-compatible store (MinIO, Ceph RGW, S3); default: an embedded "
        "rclone serving <data dir>/objects",
    ),
    "access_key_id": ("DOCKYARD_OBJECT_STORE_ACCESS_KEY_ID", "the access key id for --object-store-url"),
    "secret_access_key": (
        "DOCKYARD_OBJECT_STORE_SECRET_ACCESS_KEY",
        "its secret (better given by the environment variable: a command line shows in ps)",
    ),
    "region": ("DOCKYARD_OBJECT_STORE_REGION", "the region of --object-store-url (default: us-east-1)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("object store")
    for name, (variable, text) in _OPTIONS.items():
        group.add_argument(
            "--object-store-" + name.replace("_", "-"),
            dest="object_store_" + name,
            default=os.environ.get(variable),
            help=f"{text} [${variable}]",
        )


def settings(args: argparse.Namespace) -> ObjectStoreSettings:
    """The settings the options (or their variables) give; the embedded store by default."""
    url = args.object_store_url or None
    if url and not (args.object_store_access_key_id and args.object_store_secret_access_key):
        raise SystemExit(
            "--object-store-url needs --object-store-access-key-id and "
            f"${_OPTIONS['secret_access_key'][0]} (or --object-store-secret-access-key)"
        )
    return ObjectStoreSettings(
        url=url,
        access_key_id=args.object_store_access_key_id or None,
        secret_access_key=args.object_store_secret_access_key or None,
        region=args.object_store_region or "us-east-1",
        root=None if url else Path(args.data_dir).resolve() / "objects",
    )


def export(store: ObjectStoreSettings) -> None:
    """Put external store settings in this process's environment, for its children to inherit
    (``dockyard up``'s server, ``--workers``' processes)."""
    values = {
        "url": store.url,
        "access_key_id": store.access_key_id,
        "secret_access_key": store.secret_access_key,
        "region": store.region,
    }
    for name, value in values.items():
        if value:
            os.environ[_OPTIONS[name][0]] = value


def from_environment(data_dir: str) -> ObjectStoreSettings:
    """The settings of a ``--workers`` process (it has no command line of its own)."""
    namespace = argparse.Namespace(data_dir=data_dir)
    for name, (variable, _text) in _OPTIONS.items():
        setattr(namespace, "object_store_" + name, os.environ.get(variable))
    return settings(namespace)
