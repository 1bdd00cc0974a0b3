"""The request path of the AWS JSON front-end, as an ordered list of small steps.

Each step has the same shape, ``step(ctx, http)``, and fills the request context a little
further: who is calling and in which region, which operation, its parameters, then the
result. A step raises an ``ApiError`` to stop the walk; ``handle`` turns whatever happened
into one HTTP response. Business rules live in the domain services that ``invoke`` calls.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import orjson

from dockyard.context import RequestContext
from dockyard.errors import ApiError, InvalidParameterException, ServerException, UnknownOperationException
from dockyard.identity import authenticate as identity
from dockyard.identity.sigv4 import SignedRequest, check_clock, check_scope, parse_authorization
from dockyard.protocol import check_output, json_protocol
from dockyard.protocol.check_output import output_problems
from dockyard.protocol.http import HttpRequest, HttpResponse
from dockyard.protocol.models import operation, signing_name
from dockyard.server_state import ServerState

log = logging.getLogger(__name__)
CHECK_RESPONSES = check_output.enabled()

Step = Callable[[RequestContext, HttpRequest], None]


def authenticate(ctx: RequestContext, http: HttpRequest) -> None:
    """SigV4: the scope right, the key existing and active, the clock close, the signature right."""
    ctx.identity, ctx.region = identity.authenticate(
        ctx.server,
        method=http.method,
        path=http.path,
        query=http.query,
        headers=http.headers,
        body=http.body,
        now=ctx.now,
        service=signing_name(ctx.service),
        screened=http.signed,
    )


def screen(
    server: ServerState, service: str, headers: dict[str, str]
) -> tuple[HttpResponse | None, SignedRequest | None]:
    """What the headers alone decide, before the body is read: an unsigned request, or one
    signed too long ago, is refused without taking its body (the signature itself covers the
    body, so it is checked with the rest of the request). Returns the refusal (None when the
    request may go on) and the parsed Authorization header, for ``authenticate``."""
    if not server.verify_signatures:
        return None, None
    try:
        signed = parse_authorization(headers)
        check_scope(signed, headers, signing_name(service))
        check_clock(signed, time.time())
        return None, signed
    except Exception as error:
        return _error_response(_context(server, service), error), None


def refuse(server: ServerState, service: str, error: ApiError) -> HttpResponse:
    """The response for a request refused before its steps ran (framing: its size)."""
    return _error_response(_context(server, service), error)


def resolve_operation(ctx: RequestContext, http: HttpRequest) -> None:
    """``X-Amz-Target: <targetPrefix>.<Operation>`` names an operation of the service model."""
    prefix, _, name = http.headers.get("x-amz-target", "").partition(".")
    found = operation(ctx.service, name) if prefix == ctx.server.target_prefix(ctx.service) else None
    if found is None:
        raise UnknownOperationException(f"Unknown operation {http.headers.get('x-amz-target', '')!r}")
    ctx.operation = found


def parse_params(ctx: RequestContext, http: HttpRequest) -> None:
    ctx.params = json_protocol.parse_body(http.body)


def check_list_limits(ctx: RequestContext, http: HttpRequest) -> None:
    """The service's caps on list members, before any item of a list is looked at."""
    assert ctx.operation is not None
    limits = ctx.server.list_limits.get(ctx.service, {}).get(ctx.operation.name)
    if not limits:
        return
    for path, most in limits.items():
        value: Any = ctx.params
        for name in path.split("."):
            value = value.get(name) if isinstance(value, dict) else None
        if isinstance(value, list) and len(value) > most:
            member = path.rsplit(".", 1)[-1]
            raise InvalidParameterException(f"{member[:1].upper()}{member[1:]} cannot be longer than {most}.")


def validate_params(ctx: RequestContext, http: HttpRequest) -> None:
    assert ctx.operation is not None
    ctx.server.validator.validate(ctx.operation.input_shape, ctx.params)


def invoke(ctx: RequestContext, http: HttpRequest) -> None:
    """Run the domain method in one transaction: it commits whole or leaves nothing."""
    ctx.result = ctx.server.dispatch(ctx)


PREPARE: tuple[Step, ...] = (
    authenticate,
    resolve_operation,
    parse_params,
    check_list_limits,
    validate_params,
)
STEPS: tuple[Step, ...] = (*PREPARE, invoke)


def handle(server: ServerState, service: str, http: HttpRequest) -> HttpResponse:
    """Walk the steps for one request and build its response (never raises)."""
    ctx = _context(server, service)
    try:
        for step in STEPS:
            step(ctx, http)
        return _response(ctx)
    except Exception as error:
        return _error_response(ctx, error)


async def handle_inline(
    server: ServerState, service: str, http: HttpRequest, *, offload: bool = False
) -> HttpResponse:
    """``handle`` on the event loop (SQLite): a write waits for its group commit, not a thread.

    With ``offload`` (a large body) the steps before the store (signature, parsing,
    validation) and the response's serialization run on a worker thread: only the store's
    part of the request holds the event loop."""
    ctx = _context(server, service)
    try:
        if offload:
            await anyio.to_thread.run_sync(_prepare, ctx, http)
        else:
            _prepare(ctx, http)
        ctx.result = await server.dispatch_inline(ctx)
        if offload:
            return await anyio.to_thread.run_sync(_response, ctx)
        return _response(ctx)
    except Exception as error:
        return _error_response(ctx, error)


def _prepare(ctx: RequestContext, http: HttpRequest) -> None:
    for step in PREPARE:
        step(ctx, http)


# Request ids in a UUID's shape: a random prefix per process and a counter, unique without a
# uuid4 (16 bytes from the OS and a UUID object) on every request.
_ID_PREFIX = str(uuid.uuid4())[:24]
_ID_COUNTER = itertools.count(1)


def request_id() -> str:
    """A new request id, unique across processes and restarts (its prefix is random)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


def _context(server: ServerState, service: str) -> RequestContext:
    return RequestContext(request_id=request_id(), service=service, server=server, now=time.time())


def _response(ctx: RequestContext) -> HttpResponse:
    body = json_protocol.serialize_result(ctx.result)
    if CHECK_RESPONSES:  # the test suite's guard against a response botocore would misread
        assert ctx.operation is not None
        problems = output_problems(ctx.operation.output_shape, orjson.loads(body))
        if problems:
            message = f"{ctx.operation.name} response breaks its output shape: {problems[:5]}"
            log.error("request %s: %s", ctx.request_id, message)
            raise ServerException(message)
    return _reply(ctx, 200, body)


def _error_response(ctx: RequestContext, error: Exception) -> HttpResponse:
    if isinstance(error, ApiError):
        ctx.error = error
    else:
        log.exception("request %s failed", ctx.request_id, exc_info=error)
        ctx.error = ServerException("An internal error occurred; see the server log.")
    return _reply(ctx, ctx.error.status, json_protocol.serialize_error(ctx.error))


def _reply(ctx: RequestContext, status: int, body: bytes) -> HttpResponse:
    headers = [("content-type", json_protocol.CONTENT_TYPE), ("x-amzn-requestid", ctx.request_id)]
    return HttpResponse(status=status, body=body, headers=headers)
