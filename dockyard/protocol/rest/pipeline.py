"""The request path of a REST front-end: the same small steps as the AWS JSON one, read from
the service's model instead of ``X-Amz-Target``.

A ``RestFrontEnd`` is one service on one REST protocol: its router, body codec, validator,
error classes and its authentication step (SigV4 for the AWS APIs; a console session or a
Glance token can be another front-end's). Each step has the shape ``step(front, call)`` and
fills the request context further; ``handle`` turns whatever happened into one response.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread

from dockyard.context import RequestContext
from dockyard.errors import (
    ApiError,
    InvalidParameterException,
    SerializationException,
    ServerException,
    UnknownOperationException,
)
from dockyard.protocol import check_output
from dockyard.protocol.check_output import output_problems
from dockyard.protocol.http import HttpRequest, HttpResponse
from dockyard.protocol.models import service_model
from dockyard.protocol.pipeline import authenticate as sigv4
from dockyard.protocol.rest.request import BodyCodec, parse_request, query_params
from dockyard.protocol.rest.response import build_response
from dockyard.protocol.rest.router import Router
from dockyard.protocol.validate import ShapeValidator
from dockyard.server_state import ServerState

log = logging.getLogger(__name__)
CHECK_RESPONSES = check_output.enabled()

Authenticate = Callable[[RequestContext, HttpRequest], None]


@dataclass
class RestFrontEnd:
    """One service of a REST protocol, everything built from its botocore model."""

    service: str
    codec: BodyCodec
    invalid_request: type[ApiError]  # what a request breaking its input shape is answered with
    internal_error: type[ApiError]  # what an unexpected failure is answered with
    authenticate: Authenticate = sigv4
    # Blocking work a request needs before its transaction (reading a document from the object
    # store): asked after validation, it returns the work (run off the event loop, leaving what
    # it read in ctx.prefetched) or None when this request needs none (no thread hop then).
    prefetch: Callable[[RequestContext], Callable[[], None] | None] | None = None
    # Only requests under this path reach the front-end (S3 Control's ``/v20180820/``: the rest
    # of what is signed ``s3`` is the S3 gateway's).
    path_prefix: str | None = None
    router: Router = field(init=False)
    validator: ShapeValidator = field(init=False, default_factory=ShapeValidator)

    def __post_init__(self) -> None:
        self.router = Router(service_model(self.service))


@dataclass
class RestCall:
    """What one REST request carries besides the request context."""

    ctx: RequestContext
    http: HttpRequest
    query: dict[str, list[str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


Step = Callable[[RestFrontEnd, RestCall], None]


def authenticate(front: RestFrontEnd, call: RestCall) -> None:
    front.authenticate(call.ctx, call.http)


def route(front: RestFrontEnd, call: RestCall) -> None:
    call.query = query_params(call.http.query)
    found = front.router.match(call.http.method, call.http.path, call.query)
    if found is None:
        raise UnknownOperationException(
            f"No operation of {front.service} is {call.http.method} {call.http.path}"
        )
    call.ctx.operation, call.labels = found


def parse_params(front: RestFrontEnd, call: RestCall) -> None:
    assert call.ctx.operation is not None
    call.ctx.params = parse_request(call.ctx.operation, call.labels, call.http, call.query, front.codec)


def validate_params(front: RestFrontEnd, call: RestCall) -> None:
    assert call.ctx.operation is not None
    front.validator.validate(call.ctx.operation.input_shape, call.ctx.params)


PREPARE: tuple[Step, ...] = (authenticate, route, parse_params, validate_params)


async def handle(
    server: ServerState, front: RestFrontEnd, http: HttpRequest, *, inline: bool
) -> HttpResponse:
    """Walk the steps for one request and build its response (never raises). ``inline``: on
    the event loop (SQLite; writes join a group commit), else in a worker thread."""
    if not inline:
        return await anyio.to_thread.run_sync(_handle_in_thread, server, front, http)
    call = RestCall(new_context(server, front.service), http)
    try:
        for step in PREPARE:
            step(front, call)
        if front.prefetch is not None and (fetch := front.prefetch(call.ctx)) is not None:
            await anyio.to_thread.run_sync(fetch)
        call.ctx.result = await server.dispatch_inline(call.ctx)
        return _response(front, call.ctx)
    except Exception as error:
        return error_response(front, call.ctx, error)


def _handle_in_thread(server: ServerState, front: RestFrontEnd, http: HttpRequest) -> HttpResponse:
    call = RestCall(new_context(server, front.service), http)
    try:
        for step in PREPARE:
            step(front, call)
        if front.prefetch is not None and (fetch := front.prefetch(call.ctx)) is not None:
            fetch()
        call.ctx.result = server.dispatch(call.ctx)
        return _response(front, call.ctx)
    except Exception as error:
        return error_response(front, call.ctx, error)


def new_context(server: ServerState, service: str) -> RequestContext:
    return RequestContext(request_id=str(uuid.uuid4()), service=service, server=server, now=time.time())


def _response(front: RestFrontEnd, ctx: RequestContext) -> HttpResponse:
    assert ctx.operation is not None
    if CHECK_RESPONSES:  # the test suite's guard against a response botocore would misread
        problems = output_problems(ctx.operation.output_shape, _without_none(ctx.result or {}))
        if problems:
            message = f"{ctx.operation.name} response breaks its output shape: {problems[:5]}"
            log.error("request %s: %s", ctx.request_id, message)
            raise ServerException(message)
    return build_response(ctx.operation, ctx.result, front.codec, ctx.request_id)


def error_response(front: RestFrontEnd, ctx: RequestContext, error: Exception) -> HttpResponse:
    """The protocol's error: ``x-amzn-ErrorType`` and the model's status, the message in the
    body (rest-xml: S3 Control's ``ErrorResponse`` document)."""
    if isinstance(error, (InvalidParameterException, SerializationException)):
        error = front.invalid_request(error.message)
    elif not isinstance(error, ApiError) or isinstance(error, ServerException):
        if not isinstance(error, ApiError):
            log.exception("request %s failed", ctx.request_id, exc_info=error)
        error = front.internal_error("An internal error occurred; see the server log.")
    ctx.error = error
    members: dict[str, Any] = getattr(error, "members", {})
    headers = [
        ("x-amzn-errortype", error.code),
        ("x-amzn-requestid", ctx.request_id),
        ("content-type", front.codec.content_type),
    ]
    return HttpResponse(
        status=error.status,
        body=front.codec.error(error.code, error.message, members, ctx.request_id),
        headers=headers,
    )


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value
