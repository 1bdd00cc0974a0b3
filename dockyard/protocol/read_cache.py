"""Answers of read-only actions, kept per process until the store changes.

A waiter or a console asks the same question again and again between writes; the answer is
the same as long as the store is. An action a provider lists in ``CACHED_READS`` is answered
from here when the same principal asks the same thing (its parameters, in the same region) of
a store that has not changed since (``store.direct.change_stamp``: SQLite only, the stamp of
the request's own read snapshot, so a write acknowledged before this request began is always
seen). Only results are kept, never errors. An answer that also depends on the
clock (an agent counts as connected for 30 s after its last sign of life) says until when it
holds with ``holds_until``. Nothing else may feed a listed action's answer: not the request's
identity beyond its account, not in-memory state, not randomness.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import orjson

from dockyard.caching import BoundedCache
from dockyard.context import RequestContext
from dockyard.store import direct

# Answers are kept only for requests that name a few items (a Describe of up to 10), each
# weighed by its JSON's length: 4 MiB of JSON in all (a few times that in Python objects).
MAX_NAMED = 10
_ANSWERS = BoundedCache(1024, weight=4 << 20)
_HOLDS_UNTIL: ContextVar[float] = ContextVar("read_cache_holds_until", default=math.inf)


def holds_until(when: float) -> None:
    """The answer being made is right until ``when`` (epoch seconds) only."""
    if when < _HOLDS_UNTIL.get():
        _HOLDS_UNTIL.set(when)


def answer(ctx: RequestContext, call: Callable[[RequestContext], Any]) -> Any:
    """``call(ctx)``'s result, or the one it gave for the same request on the same store."""
    if _named(ctx.params) > MAX_NAMED:
        return call(ctx)
    stamp = direct.change_stamp(ctx.conn)
    if stamp is None:
        return call(ctx)
    identity, operation = ctx.identity, ctx.operation
    assert identity is not None and operation is not None
    try:
        params = orjson.dumps(ctx.params, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return call(ctx)
    # Who asks, whole: a principal's own settings (the ARN format) shape the answer.
    who = (identity.account_id, identity.user_name, identity.thing_name, identity.access_key_id)
    key = (stamp, who, ctx.region, ctx.service, operation.name, params)
    kept = _ANSWERS.find(key)
    if kept is not None and ctx.now < kept[1]:
        return kept[0]
    token = _HOLDS_UNTIL.set(math.inf)
    try:
        result = call(ctx)
        until = _HOLDS_UNTIL.get()
    finally:
        _HOLDS_UNTIL.reset(token)
    if ctx.now < until:
        try:
            weight = len(orjson.dumps(result))
        except TypeError:  # a value JSON cannot hold as it is: not worth keeping
            return result
        _ANSWERS.keep(key, (result, until), weight)
    return result


def _named(params: dict[str, Any]) -> int:
    return sum(len(value) for value in params.values() if isinstance(value, list))
