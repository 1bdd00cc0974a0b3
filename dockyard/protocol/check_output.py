"""Responses checked against botocore output shapes (on in the test suite).

A client's parser drops a member its model does not know, so a misspelt camelCase key would
reach users as a member that is silently missing. With ``DOCKYARD_VALIDATE_RESPONSES=1`` (the
test harness sets it for every server it starts) each successful response body is read back
and walked against its operation's output shape before it is sent: an unknown member, a value
of the wrong type or a missing required member is Dockyard's bug, logged and answered as a
500, so the test that made the call fails.
"""

from __future__ import annotations

import os
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

ENV = "DOCKYARD_VALIDATE_RESPONSES"

_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "blob": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "timestamp": (int, float),  # epoch seconds in AWS JSON
}


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def output_problems(shape: Shape | None, body: Any) -> list[str]:
    """What in ``body`` (a decoded response) breaks ``shape``; empty when it fits."""
    problems: list[str] = []
    if shape is None:
        if body not in ({}, None):
            problems.append("a body where the operation has no output")
        return problems
    _walk(shape, body, shape.name, problems)
    return problems


def _walk(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            problems.append(f"{path}: {type(value).__name__} where a structure belongs")
            return
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{path}.{name}: required member missing")
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None:
                problems.append(f"{path}.{name}: not a member of {shape.name}")
            else:
                _walk(member, item, f"{path}.{name}", problems)
    elif isinstance(shape, ListShape):
        if not isinstance(value, list):
            problems.append(f"{path}: {type(value).__name__} where a list belongs")
            return
        for index, item in enumerate(value):
            _walk(shape.member, item, f"{path}[{index}]", problems)
    elif isinstance(shape, MapShape):
        if not isinstance(value, dict):
            problems.append(f"{path}: {type(value).__name__} where a map belongs")
            return
        for key, item in value.items():
            _walk(shape.value, item, f"{path}[{key!r}]", problems)
    else:
        wanted = _SCALARS.get(shape.type_name)
        wrong_bool = isinstance(value, bool) and shape.type_name != "boolean"
        if wanted is not None and (wrong_bool or not isinstance(value, wanted)):
            article = "an" if shape.type_name[0] in "aeiou" else "a"
            problems.append(f"{path}: {type(value).__name__} where {article} {shape.type_name} belongs")
