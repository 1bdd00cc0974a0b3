"""The JSON schemas Glance serves under ``/v2/schemas``, built as Glance builds them.

glanceclient turns every body into a warlock model of the served schema, so a body member
the schema lacks fails in the client: every view passes through ``project`` (Glance's
``Schema.filter``) before it is sent.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

from dockyard.glance.errors import bad_request

UUID_PATTERN = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
TASK_STATUSES = ("pending", "processing", "success", "failure")
TASK_TYPES = ("import",)
CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
IMAGE_STATUSES = [
    "queued",
    "saving",
    "active",
    "killed",
    "deleted",
    "uploading",
    "importing",
    "pending_delete",
    "deactivated",
]


def _described(kind: Any, description: str, **more: Any) -> dict[str, Any]:
    return {"description": description, "type": kind, **more}


_READ_ONLY_STRING = {"readOnly": True, "type": "string"}

TASK_PROPERTIES: dict[str, Any] = {
    "id": _described("string", "An identifier for the task", pattern=UUID_PATTERN),
    "type": _described("string", "The type of task represented by this content", enum=list(TASK_TYPES)),
    "status": _described("string", "The current status of this task", enum=list(TASK_STATUSES)),
    "input": _described(["null", "object"], "The parameters required by task, JSON blob"),
    "result": _described(["null", "object"], "The result of current task, JSON blob"),
    "owner": _described("string", "An identifier for the owner of this task"),
    "message": _described(
        "string", "Human-readable informative message only included when appropriate (usually on failure)"
    ),
    "image_id": _described("string", "Image associated with the task"),
    "request_id": _described("string", "Human-readable informative request-id"),
    "user_id": _described("string", "User associated with the task"),
    "expires_at": _described(["null", "string"], "Datetime when this resource would be subject to removal"),
    "created_at": _described("string", "Datetime when this resource was created"),
    "updated_at": _described("string", "Datetime when this resource was updated"),
    "self": dict(_READ_ONLY_STRING),
    "schema": dict(_READ_ONLY_STRING),
}
# A task in a list leaves these out.
TASK_DETAILS = ("input", "result", "message")


def _hash_property(description: str, max_length: int) -> dict[str, Any]:
    return _described(["null", "string"], description, readOnly=True, maxLength=max_length)


def _image_properties() -> dict[str, Any]:
    location_hashes = {
        "checksum": {"type": "string", "minLength": 32, "maxLength": 32},
        "os_hash_algo": {"type": "string", "maxLength": 64},
        "os_hash_value": {"type": "string", "maxLength": 128},
    }
    return {
        "id": _described("string", "An identifier for the image", pattern=UUID_PATTERN),
        "name": _described(["null", "string"], "Descriptive name for the image", maxLength=255),
        "status": _described("string", "Status of the image", readOnly=True, enum=IMAGE_STATUSES),
        "visibility": _described(
            "string", "Scope of image accessibility", enum=["community", "public", "private", "shared"]
        ),
        "protected": _described("boolean", "If true, image will not be deletable."),
        "os_hidden": _described("boolean", "If true, image will not appear in default image list response."),
        "checksum": _hash_property("md5 hash of image contents.", 32),
        "os_hash_algo": _hash_property("Algorithm to calculate the os_hash_value", 64),
        "os_hash_value": _hash_property(
            "Hexdigest of the image contents using the algorithm specified by the os_hash_algo", 128
        ),
        "owner": _described(["null", "string"], "Owner of the image", maxLength=255),
        "size": _described(["null", "integer"], "Size of image file in bytes", readOnly=True),
        "virtual_size": _described(["null", "integer"], "Virtual size of image in bytes", readOnly=True),
        "container_format": _described(
            ["null", "string"], "Format of the container", enum=[None, *CONTAINER_FORMATS]
        ),
        "disk_format": _described(["null", "string"], "Format of the disk", enum=[None, *DISK_FORMATS]),
        "created_at": _described("string", "Date and time of image registration", readOnly=True),
        "updated_at": _described("string", "Date and time of the last image modification", readOnly=True),
        "tags": _described(
            "array", "List of strings related to the image", items={"type": "string", "maxLength": 255}
        ),
        "direct_url": _described(
            "string", "URL to access the image file kept in external store", readOnly=True
        ),
        "min_ram": _described("integer", "Amount of ram (in MB) required to boot image."),
        "min_disk": _described("integer", "Amount of disk space (in GB) required to boot image."),
        "self": _described("string", "An image self url", readOnly=True),
        "file": _described("string", "An image file url", readOnly=True),
        "stores": _described(
            "string",
            "Store in which image data resides.  Only present when the operator has enabled multiple "
            "stores.  May be a comma-separated list of store identifiers.",
            readOnly=True,
        ),
        "schema": _described("string", "An image schema url", readOnly=True),
        "locations": _described(
            "array",
            "A set of URLs to access the image file kept in external store",
            items={
                "type": "object",
                "properties": {
                    "url": {"type": "string", "maxLength": 255},
                    "metadata": {"type": "object"},
                    "validation_data": {
                        "description": "Values to be used to populate the corresponding image properties. "
                        "If the image status is not 'queued', values must exactly match those already "
                        "contained in the image properties.",
                        "type": "object",
                        "writeOnly": True,
                        "additionalProperties": False,
                        "properties": location_hashes,
                        "required": ["os_hash_algo", "os_hash_value"],
                    },
                },
                "required": ["url", "metadata"],
            },
        ),
    }


IMAGE_PROPERTIES = _image_properties()
IMAGE_LINKS = [
    {"rel": "self", "href": "{self}"},
    {"rel": "enclosure", "href": "{file}"},
    {"rel": "describedby", "href": "{schema}"},
]


def task_schema(*, partial: bool = False) -> dict[str, Any]:
    """``GET /v2/schemas/task``; ``partial``: a task as lists show it."""
    properties = copy.deepcopy(TASK_PROPERTIES)
    if partial:
        for name in TASK_DETAILS:
            del properties[name]
    return {"name": "task", "properties": properties, "additionalProperties": False}


def image_schema() -> dict[str, Any]:
    """``GET /v2/schemas/image``: Glance's permissive schema (extra properties are strings)."""
    return {
        "name": "image",
        "properties": copy.deepcopy(IMAGE_PROPERTIES),
        "additionalProperties": {"type": "string"},
        "links": copy.deepcopy(IMAGE_LINKS),
    }


def collection_schema(name: str, item: dict[str, Any]) -> dict[str, Any]:
    """Glance's ``CollectionSchema``: the items, then ``first``, ``next`` and ``schema``."""
    return {
        "name": name,
        "properties": {
            name: {"type": "array", "items": item},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [
            {"rel": "first", "href": "{first}"},
            {"rel": "next", "href": "{next}"},
            {"rel": "describedby", "href": "{schema}"},
        ],
    }


SERVED: dict[str, dict[str, Any]] = {
    "task": task_schema(),
    "tasks": collection_schema("tasks", task_schema(partial=True)),
    "image": image_schema(),
    "images": collection_schema("images", image_schema()),
}


def project(view: dict[str, Any], properties: dict[str, Any], *, permissive: bool = False) -> dict[str, Any]:
    """Glance's ``Schema.filter``: keep the members the schema knows (all, if permissive)."""
    return {key: value for key, value in view.items() if permissive or key in properties}


_VALIDATORS = {name: jsonschema.Draft4Validator(schema) for name, schema in SERVED.items()}


def check(body: Any, name: str) -> None:
    """A request body against the served schema ``name``: Glance's 400 on the first problem."""
    problem = next(iter(_VALIDATORS[name].iter_errors(body)), None)
    if problem is not None:
        raise bad_request(f"Provided object does not match schema '{name}': {problem.message}")
