"""A bounded fuzz of the API from botocore's ECS input shapes: valid, boundary and malformed
values for every implemented action, and raw HTTP garbage. Never a 5xx, never a traceback in
the server's log, and a refused request (4xx) leaves the account's state in the store exactly
as it was: no half-written state (issue 10, item 8). Agent frames: tests/agent_channel/.

Bounded for CI (``FUZZ_EXAMPLES`` raises it): a few hundred requests per backend.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from dockyard import ecs
from dockyard.protocol.dispatch import build_actions
from dockyard.store.db import make_engine
from tests.builders import register_instance
from tests.harness import Credentials, DockyardServer, RawReply, account_state, raw_call

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MODEL = botocore.session.get_session().get_service_model("ecs")
OPERATIONS = sorted(build_actions(MODEL, ecs.provider()))

# Anything at all, in place of a member: the malformed values.
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
BOUNDARY_INTEGERS = st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, -(2**31), 2**63, 10**25])


def _string(shape: Shape) -> st.SearchStrategy[Any]:
    if shape.enum:
        return st.sampled_from(shape.enum) | st.text(max_size=12)
    most = min(shape.metadata.get("max", 64), 64)
    return st.text(max_size=most) | st.sampled_from(
        ["default", "arn:aws:ecs:us-east-1:123456789012:cluster/default", "a" * 300, "*", "\x00"]
    )


def strategy(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values for ``shape``: mostly of its type, sometimes anything."""
    if depth > 4:
        return st.just({}) if isinstance(shape, StructureShape) else st.none()
    good: st.SearchStrategy[Any]
    if isinstance(shape, StructureShape):
        members = {name: strategy(member, depth + 1) for name, member in shape.members.items()}
        required = {name: members[name] for name in shape.required_members}
        optional = {name: s for name, s in members.items() if name not in required}
        good = st.fixed_dictionaries(required, optional=optional)
    elif isinstance(shape, ListShape):
        good = st.lists(strategy(shape.member, depth + 1), max_size=4)
    elif isinstance(shape, MapShape):
        good = st.dictionaries(st.text(max_size=10), strategy(shape.value, depth + 1), max_size=3)
    elif shape.type_name == "string":
        good = _string(shape)
    elif shape.type_name in ("integer", "long"):
        good = st.integers(min_value=-5, max_value=20_000) | BOUNDARY_INTEGERS
    elif shape.type_name in ("float", "double"):
        good = st.floats(allow_nan=False, allow_infinity=False)
    elif shape.type_name == "boolean":
        good = st.booleans()
    elif shape.type_name == "timestamp":
        good = st.floats(min_value=0, max_value=4e9)
    else:
        good = st.text(max_size=10)
    return st.one_of(good, good, good, ANY_JSON) if depth else good


REQUESTS = st.sampled_from(OPERATIONS).flatmap(
    lambda name: st.tuples(st.just(name), strategy(MODEL.operation_model(name).input_shape))
)


def _no_traceback(server: DockyardServer) -> None:
    assert "Traceback" not in server.log(), server.log()[-4000:]


@pytest.fixture
def seeded(server: DockyardServer, account: Credentials) -> Credentials:
    """The test's account with something to refuse changes to: the default cluster with an
    instance (its agent never connects) and its attributes, a task definition, a setting."""
    client = server.client(account)
    client.create_cluster(clusterName="default", tags=[{"key": "team", "value": "a"}])
    register_instance(client, attributes=[{"name": "stack", "value": "prod"}])
    client.register_task_definition(
        family="seeded", containerDefinitions=[{"name": "a", "image": "busybox", "memory": 64}]
    )
    client.put_account_setting(name="containerInstanceLongArnFormat", value="enabled")
    return account


@pytest.fixture
def store(server: DockyardServer) -> Iterator[Engine]:
    engine = make_engine(server.store_url)
    yield engine
    engine.dispose()


def refused_changes_nothing(
    engine: Engine, account: Credentials, send: Callable[[], RawReply], what: Any
) -> RawReply:
    """``send()``'s reply; if it refused the request (4xx), the account's state is as before."""
    before = account_state(engine, account.account_id)
    reply = send()
    if 400 <= reply.status < 500:
        after = account_state(engine, account.account_id)
        changed = {
            table: {"gone": sorted(set(rows) - set(now)), "new": sorted(set(now) - set(rows))}
            for table, rows in before.items()
            if rows != (now := after[table])
        }
        if changed:
            raise AssertionError(f"refused {what!r} ({reply.status} {reply.body}) and changed {changed}")
    return reply


def test_the_state_check_sees_a_write_behind_a_refusal(
    server: DockyardServer, seeded: Credentials, store: Engine
) -> None:
    client = server.client(seeded)

    def half_written() -> RawReply:
        client.create_cluster(clusterName="half")
        return RawReply(400, {}, {"__type": "ClientException"})

    with pytest.raises(AssertionError, match="cluster/half"):
        refused_changes_nothing(store, seeded, half_written, "a write behind a refusal")


@FUZZ
@given(request=REQUESTS)
def test_no_request_built_from_the_shapes_gets_a_5xx_or_changes_state_when_refused(
    server: DockyardServer, seeded: Credentials, store: Engine, request: tuple[str, Any]
) -> None:
    operation, params = request
    body = json.dumps(params).encode()
    reply = refused_changes_nothing(
        store, seeded, lambda: raw_call(server.endpoint, operation, body, seeded), request
    )
    event(f"answered {reply.status // 100}xx")
    assert reply.status < 500, (operation, params, reply.body)
    assert "__type" in reply.body or reply.status == 200
    _no_traceback(server)


@FUZZ
@given(operation=st.sampled_from(OPERATIONS), body=st.binary(max_size=300))
def test_raw_garbage_bodies_get_a_4xx(
    server: DockyardServer, seeded: Credentials, store: Engine, operation: str, body: bytes
) -> None:
    reply = refused_changes_nothing(
        store, seeded, lambda: _raw_reply(server, operation, body, seeded), (operation, body)
    )
    assert reply.status < 500
    _no_traceback(server)


def _raw_reply(server: DockyardServer, operation: str, body: bytes, account: Credentials) -> RawReply:
    try:
        return raw_call(server.endpoint, operation, body, account)
    except json.JSONDecodeError:
        raise AssertionError("a reply that is not JSON") from None


@FUZZ
@given(target=st.text(max_size=60), region=st.sampled_from(["us-east-1", "eu-west-1"]))
def test_unknown_targets_get_a_4xx(
    server: DockyardServer, seeded: Credentials, store: Engine, target: str, region: str
) -> None:
    safe = target.encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", "")
    try:
        reply = refused_changes_nothing(
            store, seeded, lambda: raw_call(server.endpoint, safe, b"{}", seeded, region=region), safe
        )
    except ValueError:
        return  # a header value urllib refuses to send
    assert reply.status < 500
    _no_traceback(server)
