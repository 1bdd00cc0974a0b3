"""Images to Docker hosts: ``GET /_dockyard/images?name=NAME``, signed by an agent (SigV4 as
its other requests), streams the newest active image of its account that is named NAME (or
whose docker archive is tagged NAME; ``?id=ID``: that image of its account), with what the
agent needs to check and load it: the sha512 of the bytes, the format (docker archive or
rootfs) and the archive's tags.
This replaces a registry pull for a host missing an image a task needs (agent/images.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from dockyard.errors import ApiError
from dockyard.glance import images
from dockyard.glance.uploads import Uploads
from dockyard.identity.authenticate import authenticate_get
from dockyard.store.schema import glance_images

if TYPE_CHECKING:
    from dockyard.context import RequestContext
    from dockyard.server_state import ServerState

PATH = "/_dockyard/images"
SHA512_HEADER = "X-Dockyard-Image-Sha512"
FORMAT_HEADER = "X-Dockyard-Image-Format"
TAGS_HEADER = "X-Dockyard-Image-Tags"


def find_named(connection: Connection, account_id: str, name: str) -> dict[str, Any] | None:
    """The account's newest active image called ``name`` (by Glance name, else by docker tag)."""
    active = (
        select(glance_images)
        .where(glance_images.c.account_id == account_id, glance_images.c.status == "active")
        .order_by(glance_images.c.created_at.desc(), glance_images.c.id.desc())
    )
    row = connection.execute(active.where(glance_images.c.name == name).limit(1)).first()
    if row is not None:
        return dict(row._mapping)
    for candidate in connection.execute(active.where(glance_images.c.docker.is_not(None)).limit(1000)):
        if name in ((candidate.docker or {}).get("repo_tags") or []):
            return dict(candidate._mapping)
    return None


def endpoint(server: ServerState, uploads: Uploads) -> Any:
    async def serve(request: Request) -> Response:
        name = request.query_params.get("name", "")
        image_id = request.query_params.get("id")
        try:
            identity, region = authenticate_get(server, request.scope)
        except ApiError as error:
            return JSONResponse({"__type": error.code, "message": error.message}, status_code=error.status)
        account = identity.account_id

        def named(ctx: RequestContext) -> dict[str, Any] | None:
            assert ctx.connection is not None
            if image_id is not None:  # a loadImage frame names the image by id
                row = images.find(ctx.connection, image_id)
                usable = row is not None and row["account_id"] == account and row["status"] == "active"
                return row if usable else None
            return find_named(ctx.connection, account, name)

        row = await server.transact(identity, region, named, write=False)
        if row is None or not row["object_key"]:
            return JSONResponse({"message": f"no image {image_id or name}"}, status_code=404)
        docker = row["docker"] or {}
        store = await uploads.image_store()
        headers = {
            "Content-Length": str(row["size"]),
            SHA512_HEADER: row["os_hash_value"],
            FORMAT_HEADER: str(docker.get("format") or "unknown"),
            TAGS_HEADER: orjson.dumps(docker.get("repo_tags") or []).decode(),
        }
        return StreamingResponse(
            store.read(row["object_key"]), media_type="application/octet-stream", headers=headers
        )

    return serve
