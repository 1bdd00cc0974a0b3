"""``dockyard token create`` (a Keystone token for ``glance --os-auth-token``) and
``dockyard image import FILE --name NAME`` (an image uploaded through the Images API)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:5566"


def _call(
    method: str, url: str, *, headers: dict[str, str], data: Any = None
) -> tuple[dict[str, str], bytes]:
    outgoing = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(outgoing, timeout=3600) as response:
            return {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        sys.exit(f"{method} {url}: HTTP {error.code}: {error.read().decode(errors='replace')[:500]}")
    except urllib.error.URLError as error:
        sys.exit(f"{method} {url}: {error.reason}")


def token(endpoint: str, access_key_id: str | None, secret: str | None) -> str:
    """A token for the access key (application_credential method)."""
    if not access_key_id or not secret:
        sys.exit(
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or --access-key-id and --secret-access-key)"
        )
    body = {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": access_key_id, "secret": secret},
            }
        }
    }
    headers, _ = _call(
        "POST",
        endpoint.rstrip("/") + "/identity/v3/auth/tokens",
        headers={"Content-Type": "application/json"},
        data=json.dumps(body).encode(),
    )
    return headers["x-subject-token"]


def token_command(args: argparse.Namespace) -> None:
    print(token(args.endpoint, args.access_key_id, args.secret_access_key))


def image_import_command(args: argparse.Namespace) -> None:
    path = Path(args.file)
    if not path.is_file():
        sys.exit(f"no such file: {path}")
    auth = token(args.endpoint, args.access_key_id, args.secret_access_key)
    images = args.endpoint.rstrip("/") + "/image/v2/images"
    body = {"name": args.name, "container_format": args.container_format, "disk_format": args.disk_format}
    _, raw = _call(
        "POST",
        images,
        headers={"Content-Type": "application/json", "X-Auth-Token": auth},
        data=json.dumps(body).encode(),
    )
    image_id = json.loads(raw)["id"]
    with path.open("rb") as data:
        _call(
            "PUT",
            f"{images}/{image_id}/file",
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Length": str(path.stat().st_size),
                "X-Auth-Token": auth,
            },
            data=data,
        )
    _, raw = _call("GET", f"{images}/{image_id}", headers={"X-Auth-Token": auth})
    image = json.loads(raw)
    print(f"{image['id']}\t{image['name']}\t{image['status']}\t{image['size']}\t{image['checksum']}")


def _connection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("DOCKYARD_ENDPOINT", DEFAULT_ENDPOINT),
        help=f"the control plane's URL (default: $DOCKYARD_ENDPOINT or {DEFAULT_ENDPOINT})",
    )
    parser.add_argument(
        "--access-key-id", default=os.environ.get("AWS_ACCESS_KEY_ID"), help="default: $AWS_ACCESS_KEY_ID"
    )
    parser.add_argument(
        "--secret-access-key",
        default=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        help="default: $AWS_SECRET_ACCESS_KEY",
    )


def add_verbs(verbs: Any) -> None:
    """The ``token`` and ``image`` verbs of ``dockyard``."""
    token_parser = verbs.add_parser("token", help="Keystone tokens for the Glance API")
    token_verbs = token_parser.add_subparsers(dest="token_verb", required=True, help="create")
    create = token_verbs.add_parser("create", help="print a token (for glance --os-auth-token)")
    _connection_arguments(create)
    create.set_defaults(run=token_command)

    image_parser = verbs.add_parser("image", help="images in Dockyard's image store")
    image_verbs = image_parser.add_subparsers(dest="image_verb", required=True, help="import")
    imported = image_verbs.add_parser(
        "import", help="upload an image file (docker save archive or rootfs tar)"
    )
    imported.add_argument("file", help="the image file")
    imported.add_argument("--name", required=True, help="the image's name, e.g. busybox:1.36")
    imported.add_argument("--container-format", default="docker", help="Glance's container_format (docker)")
    imported.add_argument("--disk-format", default="raw", help="Glance's disk_format (raw)")
    _connection_arguments(imported)
    imported.set_defaults(run=image_import_command)


class _ImportDir(argparse.Action):
    """``--image-import-dir DIR``: ``file://`` imports may read below DIR (the import filter
    reads it from the environment, which the server's processes inherit)."""

    def __call__(self, parser: Any, namespace: Any, value: Any, option: str | None = None) -> None:
        folder = Path(str(value)).resolve()
        if not folder.is_dir():
            parser.error(f"--image-import-dir: no such folder: {folder}")
        os.environ["DOCKYARD_IMAGE_IMPORT_DIR"] = str(folder)
        setattr(namespace, self.dest, str(folder))


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--image-import-dir",
        action=_ImportDir,
        help="Glance import tasks may read file:// URIs below this folder (default: none may)",
    )
