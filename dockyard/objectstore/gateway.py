"""The S3 gateway on the control plane's port: path-style S3 requests signed (SigV4, scope
service ``s3``) with Dockyard's access keys, onto the backing store.

The gateway answers the bucket operations itself (ListBuckets of the caller's account from the
``object_buckets`` records, CreateBucket, HeadBucket, DeleteBucket) and forwards every other
request to the backing bucket of (caller's account, bucket), re-signed with the store's keys:
an account can only ever reach backing buckets named from its own id. Bodies stream through in
both directions; only the store's small XML answers (listings, errors, multipart results) are
read whole, to put the account's bucket name where the store wrote the backing bucket's.
Bucket configuration (policies, ACLs, CORS, lifecycle...) is refused: it would change the
backing bucket for everyone who can reach the store.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

import anyio.to_thread
import httpx

from dockyard.context import Identity
from dockyard.errors import ApiError
from dockyard.identity.authenticate import authenticate
from dockyard.objectstore import buckets, chunked, presign
from dockyard.objectstore.errors import S3Error, from_identity_error, no_such_bucket, not_implemented
from dockyard.objectstore.exchange import ClientGone, Exchange
from dockyard.objectstore.forward import (
    UNSIGNED_PAYLOAD,
    BodyMismatch,
    Upstream,
    content_mismatch,
    forwarded_headers,
    response_headers,
    verified,
)
from dockyard.objectstore.names import backing_bucket, bucket_name_problem
from dockyard.objectstore.store import ObjectStoreUnavailable
from dockyard.protocol.rest.endpoint import scope_service

if TYPE_CHECKING:
    from dockyard.server_state import ServerState

log = logging.getLogger("dockyard.objectstore")

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
# Query parameters of the operations the gateway passes on (listing, objects, multipart, tags).
_ALLOWED_QUERY = frozenset(
    {
        "list-type", "prefix", "delimiter", "continuation-token", "start-after", "max-keys",
        "encoding-type", "fetch-owner", "marker", "uploads", "uploadId", "partNumber", "versionId",
        "delete", "tagging", "location", "max-uploads", "key-marker", "upload-id-marker",
        "max-parts", "part-number-marker", "response-content-type", "response-content-language",
        "response-expires", "response-cache-control", "response-content-disposition",
        "response-content-encoding", "x-id", "attributes", "versioning", "versions",
        "version-id-marker",
    }
)  # fmt: skip
# On a bucket itself only reads and DeleteObjects: writes there would configure the backing bucket.
_OBJECT_ONLY = frozenset({"tagging", "uploadId", "partNumber", "versionId", "attributes"})


class S3Gateway:
    """The ASGI entry of S3 requests (FrontDoor sends those whose scope service is ``s3``)."""

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.store = server.object_store
        self.upstream = Upstream(server.object_store)
        self.inline = server.engine.dialect.name == "sqlite"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request_id = secrets.token_hex(8).upper()
        exchange = Exchange(scope, receive, send, request_id)
        try:
            await self._handle(exchange)
        except S3Error as error:
            await exchange.error(error)
        except BodyMismatch:
            await exchange.error(content_mismatch())
        except ClientGone:
            return
        except httpx.LocalProtocolError:  # the body the client sent is not as long as it said
            await exchange.error(
                S3Error("IncompleteBody", "The request body is not as long as its length says.")
            )
        except (ObjectStoreUnavailable, httpx.HTTPError) as error:
            log.warning("object store: %s %s: %s", scope["method"], scope["path"], error)
            await exchange.error(S3Error("ServiceUnavailable", "The object store is not available.", 503))
        except Exception:
            log.exception("object store: %s %s failed", scope["method"], scope["path"])
            await exchange.error(S3Error("InternalError", "We encountered an internal error.", 500))

    async def _handle(self, exchange: Exchange) -> None:
        identity, region = await self._authenticate(exchange)
        bucket, rest = exchange.bucket_and_rest()
        method = exchange.method
        if not bucket:
            if method != "GET":
                raise S3Error("MethodNotAllowed", "The specified method is not allowed.", 405)
            await exchange.xml(200, await self._list_buckets(identity))
            return
        query = exchange.query_names()
        if not query and rest in ("", "/"):
            handler = {"PUT": self._create_bucket, "DELETE": self._delete_bucket, "HEAD": self._head_bucket}
            if method in handler:
                await handler[method](exchange, identity, region, bucket)
                return
        if query == {"location"} and rest in ("", "/") and method == "GET":
            await self._bucket_location(exchange, identity, bucket)
            return
        unknown = sorted(query - _ALLOWED_QUERY)
        if unknown:
            raise not_implemented(f"The ?{unknown[0]} subresource")
        if "tagging" in query and self.store.embedded:
            # rclone takes ``?tagging`` for the object itself: a PUT would overwrite the object
            # with the tagging document, a DELETE would delete it.
            raise not_implemented("Object tagging on the embedded object store")
        on_bucket = rest in ("", "/")
        if on_bucket and not (
            (method in ("GET", "HEAD") and not query & _OBJECT_ONLY)
            or (method == "POST" and "delete" in query)
        ):
            raise not_implemented(f"{method} on a bucket with ?{','.join(sorted(query))}")
        await self._forward(exchange, identity, bucket, rest)

    @staticmethod
    def claims(scope: dict[str, Any]) -> bool:
        """Whether a request is S3's: signed for ``s3`` in its Authorization header or its
        query (a presigned URL). S3 Control's requests reach ``RestEndpoint`` before this."""
        service = scope_service(scope)
        if service is None and scope["query_string"]:
            service = presign.credential_service(scope["query_string"].decode("latin-1"))
        return service == "s3"

    async def _authenticate(self, exchange: Exchange) -> tuple[Identity, str]:
        headers = exchange.headers
        presigned = "authorization" not in headers and presign.is_presigned(exchange.query_string)
        if not presigned and "x-amz-content-sha256" not in headers and self.server.verify_signatures:
            raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")

        def check() -> tuple[Identity, str]:
            if presigned and self.server.verify_signatures:
                return presign.authenticate_presigned(
                    self.server,
                    method=exchange.method,
                    path=exchange.raw_path,
                    query_string=exchange.query_string,
                    headers=headers,
                )
            return authenticate(
                self.server,
                method=exchange.method,
                path=exchange.raw_path,
                query=exchange.query_string,
                headers=headers,
                body=b"",
                service="s3",
            )

        try:
            return check() if self.inline else await anyio.to_thread.run_sync(check)
        except ApiError as error:
            raise from_identity_error(error) from None

    async def _list_buckets(self, identity: Identity) -> str:
        account = identity.account_id
        rows = await self.server.run_in_store(lambda connection: buckets.list_all(connection, account))
        items = "".join(
            f"<Bucket><Name>{escape(row.name)}</Name><CreationDate>{_iso(row.created_at)}</CreationDate>"
            f"<BucketRegion>{escape(row.region)}</BucketRegion></Bucket>"
            for row in rows
        )
        return (
            f'<ListAllMyBucketsResult xmlns="{_XMLNS}"><Owner><ID>{account}</ID>'
            f"<DisplayName>{account}</DisplayName></Owner><Buckets>{items}</Buckets></ListAllMyBucketsResult>"
        )

    async def _create_bucket(self, exchange: Exchange, identity: Identity, region: str, bucket: str) -> None:
        problem = bucket_name_problem(bucket)
        if problem:
            raise S3Error("InvalidBucketName", problem, 400, BucketName=bucket)
        await exchange.read_small_body()  # CreateBucketConfiguration: the scope's region rules
        account = identity.account_id
        backing = backing_bucket(account, bucket)
        await self.store.ready()
        await anyio.to_thread.run_sync(lambda: self.store.create_backing_bucket(backing))
        now = time.time()
        added = await self.server.run_in_store(
            lambda connection: buckets.add(connection, account, region, bucket, backing, now)
        )
        if not added:
            raise S3Error(
                "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.",
                409,
                BucketName=bucket,
            )
        await exchange.respond(200, [(b"location", f"/{bucket}".encode())])

    async def _head_bucket(self, exchange: Exchange, identity: Identity, _region: str, bucket: str) -> None:
        account = identity.account_id
        row = await self.server.run_in_store(lambda connection: buckets.find(connection, account, bucket))
        if row is None:
            await exchange.respond(404)
            return
        await exchange.respond(200, [(b"x-amz-bucket-region", row.region.encode())])

    async def _bucket_location(self, exchange: Exchange, identity: Identity, bucket: str) -> None:
        account = identity.account_id
        row = await self.server.run_in_store(lambda connection: buckets.find(connection, account, bucket))
        if row is None:
            raise no_such_bucket(bucket)
        region = "" if row.region == "us-east-1" else escape(row.region)  # as S3 says us-east-1
        await exchange.xml(200, f'<LocationConstraint xmlns="{_XMLNS}">{region}</LocationConstraint>')

    async def _delete_bucket(self, exchange: Exchange, identity: Identity, _region: str, bucket: str) -> None:
        account = identity.account_id
        row = await self.server.run_in_store(lambda connection: buckets.find(connection, account, bucket))
        if row is None:
            raise no_such_bucket(bucket)
        response = await self.upstream.send("DELETE", f"/{row.backing_bucket}", {})
        try:
            body = await response.aread()
        finally:
            await response.aclose()
        if response.status_code >= 300 and b"<Code>NoSuchBucket</Code>" not in body:
            await exchange.respond(
                response.status_code, response_headers(response), _rename(body, row.backing_bucket, bucket)
            )
            return
        await self.server.run_in_store(lambda connection: buckets.remove(connection, account, bucket))
        await exchange.respond(204)

    async def _forward(self, exchange: Exchange, identity: Identity, bucket: str, rest: str) -> None:
        _check_key(rest)
        backing = backing_bucket(identity.account_id, bucket)
        headers = forwarded_headers(exchange.headers)
        source = headers.get("x-amz-copy-source")
        if source is not None:
            headers["x-amz-copy-source"] = _copy_source(identity.account_id, source)
        body, length, payload_hash = self._request_body(exchange, headers)
        if length is not None:
            headers["content-length"] = str(length)
        query = presign.without_auth(exchange.query_string)
        path = f"/{backing}{rest}" + (f"?{query}" if query else "")
        response = await self.upstream.send(
            exchange.method, path, headers, payload_hash=payload_hash, body=body
        )
        try:
            streamed = exchange.method == "HEAD" or (
                exchange.method == "GET" and response.status_code < 300 and _is_object_read(rest, exchange)
            )
            if streamed:
                await exchange.stream(response)
                return
            content = await response.aread()
            await exchange.respond(
                response.status_code, response_headers(response), _rename(content, backing, bucket)
            )
        finally:
            await response.aclose()

    def _request_body(
        self, exchange: Exchange, headers: dict[str, str]
    ) -> tuple[AsyncIterator[bytes] | bytes | None, int | None, str]:
        """The body to send on, its length, and the payload digest to sign it with."""
        claimed = exchange.headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
        if chunked.is_streaming(claimed):
            decoded = exchange.headers.get("x-amz-decoded-content-length")
            if decoded is None or not decoded.isdigit():
                raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.", 411)
            encodings = [
                part.strip()
                for part in headers.pop("content-encoding", "").split(",")
                if part.strip() and part.strip() != "aws-chunked"
            ]
            if encodings:
                headers["content-encoding"] = ",".join(encodings)
            return (
                chunked.decode(exchange.body(), self._chunk_signatures(exchange, claimed)),
                int(decoded),
                UNSIGNED_PAYLOAD,
            )
        length_text = exchange.headers.get("content-length")
        if length_text is None:
            if "chunked" in exchange.headers.get("transfer-encoding", ""):
                raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP header.", 411)
            return None, None, UNSIGNED_PAYLOAD
        if not length_text.isdigit():
            raise S3Error("InvalidArgument", "The Content-Length header is not a number.")
        length = int(length_text)
        if length == 0:
            return b"", 0, UNSIGNED_PAYLOAD
        body = exchange.body()
        if _HEX_DIGEST.fullmatch(claimed) and self.server.verify_signatures:
            body = verified(body, claimed)
        return body, length, UNSIGNED_PAYLOAD

    def _chunk_signatures(self, exchange: Exchange, claimed: str) -> chunked.ChunkSignatures | None:
        if claimed not in chunked.SIGNED or not self.server.verify_signatures:
            return None
        from dockyard.identity.sigv4 import parse_authorization

        signed = parse_authorization(exchange.headers)
        secret = self.server.access_key(signed.access_key_id).secret_access_key
        key = chunked.signing_key(secret, signed.date, signed.region, signed.service)
        scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
        return chunked.ChunkSignatures(key, signed.amz_date, scope, signed.signature)

    async def aclose(self) -> None:
        await self.upstream.aclose()


def _is_object_read(rest: str, exchange: Exchange) -> bool:
    """A GET of an object's bytes (the one answer that may be large), not a listing."""
    return rest not in ("", "/") and not exchange.query_names() & {"uploadId", "tagging", "attributes"}


def _rename(content: bytes, backing: str, bucket: str) -> bytes:
    return content.replace(backing.encode(), escape(bucket).encode())


def _check_key(path: str) -> None:
    """Refuse a key with ``.`` or ``..`` segments (encoded or not): on the way to the store, a
    URL library or the store would resolve them, and ``/mine/../theirs`` leaves the account."""
    if any(segment in (".", "..") for segment in unquote(path).split("/")):
        raise S3Error("InvalidURI", "Dockyard's S3 gateway does not take keys with '.' or '..' segments.")


def _copy_source(account_id: str, source: str) -> str:
    """``x-amz-copy-source`` on the account's backing bucket (copies stay within the account)."""
    bucket, slash, rest = source.lstrip("/").partition("/")
    _check_key("/" + rest.partition("?")[0])
    name = unquote(bucket)
    if not slash or not rest or bucket_name_problem(name):
        raise S3Error(
            "InvalidArgument", "Copy Source must mention the source bucket and key: sourcebucket/sourcekey."
        )
    return f"{backing_bucket(account_id, name)}/{rest}"


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"
