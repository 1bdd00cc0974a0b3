"""Glance images of an account: created empty (queued), filled by an upload or an import
(saving -> active), listed keyset-paged, deleted. Only ``private`` visibility exists here.

The image's data lives in the image store (``glance.image_store``) under ``object_key``;
two images of the same bytes (the same sha512) share one object.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from dockyard.glance import host_loads, paging, records
from dockyard.glance.errors import GlanceError, bad_request, not_found
from dockyard.glance.schemas import IMAGE_PROPERTIES, check
from dockyard.glance.times import isotime
from dockyard.store.schema import glance_images

SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at")
_DISALLOWED = ("direct_url", "self", "file", "schema", "stores")
_READ_ONLY = (
    "created_at",
    "updated_at",
    "status",
    "checksum",
    "size",
    "virtual_size",
    "os_hash_algo",
    "os_hash_value",
)
_RESERVED = ("location", "deleted", "deleted_at")
_COLUMNS = ("name", "container_format", "disk_format", "min_ram", "min_disk", "protected")


def not_found_error(image_id: str) -> GlanceError:
    return not_found(f"No image found with ID {image_id}")


def check_body(body: Any) -> dict[str, Any]:
    """A create body as Glance's deserializer takes it: read-only members refused, then the schema."""
    if not isinstance(body, dict):
        raise bad_request("Body expected in request.")
    for key in _DISALLOWED + _READ_ONLY:
        if key in body:
            raise GlanceError(403, f"Attribute '{key}' is read-only.")
    for key in _RESERVED:
        if key in body or key.startswith("os_glance"):
            raise GlanceError(403, f"Attribute '{key}' is reserved.")
    check(body, "image")
    if body.get("visibility", "private") != "private":
        raise GlanceError(403, "Only private images are supported: visibility must be 'private'.")
    if "id" in body and not isinstance(body["id"], str):
        raise bad_request("Invalid image id")
    return body


def create(connection: Connection, account_id: str, body: dict[str, Any], now: float) -> dict[str, Any]:
    """A queued image of the account from a checked body (``check_body``)."""
    image_id = body.get("id") or str(uuid.uuid4())
    if connection.execute(select(glance_images.c.id).where(glance_images.c.id == image_id)).first():
        raise GlanceError(409, f"Image with identifier {image_id} already exists!")
    extra = {k: v for k, v in body.items() if k not in IMAGE_PROPERTIES}
    row: dict[str, Any] = {
        "id": image_id,
        "account_id": account_id,
        "name": body.get("name"),
        "status": "queued",
        "container_format": body.get("container_format"),
        "disk_format": body.get("disk_format"),
        "size": None,
        "checksum": None,
        "os_hash_value": None,
        "object_key": None,
        "docker": None,
        "tags": sorted(set(body.get("tags", []))),
        "properties": extra,
        "protected": bool(body.get("protected", False)),
        "min_ram": int(body.get("min_ram", 0)),
        "min_disk": int(body.get("min_disk", 0)),
        "created_at": now,
        "updated_at": now,
    }
    connection.execute(insert(glance_images).values(row))
    return row


def get(connection: Connection, account_id: str, image_id: str) -> dict[str, Any]:
    return records.owned(connection, glance_images, account_id, image_id, not_found_error)


def find(connection: Connection, image_id: str) -> dict[str, Any] | None:
    """Any account's image (for the workers)."""
    return records.any_account(connection, glance_images, image_id)


def list_page(
    connection: Connection,
    account_id: str,
    *,
    limit: int,
    marker: str | None,
    sort_key: str,
    sort_dir: str,
    filters: dict[str, str],
) -> list[dict[str, Any]]:
    column = glance_images.c[sort_key]
    if sort_key in ("name", "container_format", "disk_format"):
        column = func.coalesce(column, "")  # type: ignore[assignment]
    elif sort_key == "size":
        column = func.coalesce(column, -1)  # type: ignore[assignment]
    query = select(glance_images).where(glance_images.c.account_id == account_id)
    for name in ("name", "status", "container_format", "disk_format"):
        if name in filters:
            query = query.where(glance_images.c[name] == filters[name])
    return paging.page(
        connection,
        glance_images,
        query,
        column=column,
        account_id=account_id,
        marker=marker,
        descending=sort_dir == "desc",
        limit=limit,
        unknown_marker=f"No image found with ID {marker}",
    )


def set_status(
    connection: Connection, image_id: str, status: str, now: float, *, expect: tuple[str, ...]
) -> bool:
    """Move an image to ``status`` if it is in one of ``expect``."""
    result = connection.execute(
        update(glance_images)
        .where(glance_images.c.id == image_id, glance_images.c.status.in_(expect))
        .values(status=status, updated_at=now)
    )
    return bool(result.rowcount)


def activate(connection: Connection, image_id: str, now: float, *, stored: dict[str, Any]) -> bool:
    """saving -> active, with its data (``object_key``, ``size``, hashes, ``docker``)."""
    result = connection.execute(
        update(glance_images)
        .where(glance_images.c.id == image_id, glance_images.c.status == "saving")
        .values(status="active", updated_at=now, **stored)
    )
    return bool(result.rowcount)


def shared_key(connection: Connection, os_hash_value: str) -> str | None:
    """The object of an image that holds these very bytes already (its sha512), if any."""
    found = connection.execute(
        select(glance_images.c.object_key)
        .where(glance_images.c.os_hash_value == os_hash_value, glance_images.c.object_key.is_not(None))
        .limit(1)
    ).scalar()
    return None if found is None else str(found)


def remove(connection: Connection, image_id: str) -> str | None:
    """Delete the image row; the object key it held if no other image shares it (to delete)."""
    held = select(glance_images.c.object_key).where(glance_images.c.id == image_id)
    key = connection.execute(held).scalar()
    connection.execute(delete(glance_images).where(glance_images.c.id == image_id))
    host_loads.forget(connection, image_id)
    if key is None:
        return None
    shared = connection.execute(
        select(glance_images.c.id).where(glance_images.c.object_key == key).limit(1)
    ).first()
    return None if shared else str(key)


def view(row: dict[str, Any]) -> dict[str, Any]:
    """The image as Glance shows it (its own properties included: the schema is permissive)."""
    image = dict(row["properties"] or {})
    image |= {
        "id": row["id"],
        "name": row["name"],
        "disk_format": row["disk_format"],
        "container_format": row["container_format"],
        "visibility": "private",
        "size": row["size"],
        "virtual_size": None,
        "status": row["status"],
        "checksum": row["checksum"],
        "protected": bool(row["protected"]),
        "min_ram": row["min_ram"],
        "min_disk": row["min_disk"],
        "owner": row["account_id"],
        "os_hidden": False,
        "os_hash_algo": "sha512" if row["os_hash_value"] else None,
        "os_hash_value": row["os_hash_value"],
        "created_at": isotime(row["created_at"]),
        "updated_at": isotime(row["updated_at"]),
        "tags": list(row["tags"] or []),
        "self": f"/v2/images/{row['id']}",
        "file": f"/v2/images/{row['id']}/file",
        "schema": "/v2/schemas/image",
    }
    return image
