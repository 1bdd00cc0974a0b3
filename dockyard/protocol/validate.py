"""Request validation driven by botocore shapes.

Each input shape is compiled once into a tree of small checker closures (type, required,
enum, length and range), so validating a request is a walk with no model look-ups. Type
mismatches are framing errors (``SerializationException``, as AWS's JSON front-ends
answer); a value outside an enum is refused in ECS's own words ("launch type should be one
of [EC2,FARGATE,EXTERNAL]"); other constraint violations are collected and reported together
in the Coral wording AWS uses ("1 validation error detected: Value ... at 'x' failed to
satisfy constraint: ...").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from dockyard.errors import InvalidParameterException, SerializationException

Checker = Callable[[Any, str, list[str]], None]

_JSON_KIND = {
    dict: "Start of structure or map",
    list: "Start of list",
    str: "STRING_VALUE",
    bool: "Boolean",
    int: "NUMBER_VALUE",
    float: "NUMBER_VALUE",
}


def _type_error(value: Any, wanted: str, path: str) -> SerializationException:
    kind = _JSON_KIND.get(type(value), "Unrecognized value")
    where = f" at '{path}'" if path else ""
    return SerializationException(f"{kind} can not be converted to {wanted}{where}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, (list, dict)):
        return "'[...]'" if isinstance(value, list) else "'{...}'"
    return f"'{value}'"


class _EnumProblem(str):
    """A value outside its enum, said as ECS says it (ECS answers it alone, before others)."""


def enum_message(path: str, allowed: list[str]) -> str:
    """``runTask.launchType`` -> "launch type should be one of [EC2,FARGATE,EXTERNAL]"."""
    names = [part for part in path.split(".") if part != "member" and not part.isdigit()]
    words = _CAMEL_WORDS.sub(" ", names[-1] if names else "value").lower()
    return f"{words} should be one of [{','.join(allowed)}]"


_CAMEL_WORDS = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class ShapeValidator:
    """Validates request parameters against botocore input shapes (compiled on first use)."""

    def __init__(self) -> None:
        self._compiled: dict[str, Checker] = {}

    def validate(self, shape: Shape | None, params: Any) -> None:
        """Raise SerializationException or InvalidParameterException if ``params`` break ``shape``."""
        if shape is None:
            return
        problems: list[str] = []
        self._checker(shape)(params, "", problems)
        enums = [problem for problem in problems if isinstance(problem, _EnumProblem)]
        if enums:
            raise InvalidParameterException(str(enums[0]))
        if problems:
            count = len(problems)
            noun = "error" if count == 1 else "errors"
            raise InvalidParameterException(f"{count} validation {noun} detected: " + "; ".join(problems))

    def _checker(self, shape: Shape) -> Checker:
        key = shape.name
        found = self._compiled.get(key)
        if found is None:
            # A forward reference first, so recursive shapes compile.
            self._compiled[key] = lambda value, path, problems: self._compiled[key](value, path, problems)
            found = self._compiled[key] = self._compile(shape)
        return found

    def _compile(self, shape: Shape) -> Checker:
        kind = shape.type_name
        if isinstance(shape, StructureShape):
            return self._structure(shape)
        if isinstance(shape, ListShape):
            return self._list(shape)
        if isinstance(shape, MapShape):
            return self._map(shape)
        if kind == "string":
            return self._string(shape)
        if kind in ("integer", "long", "float", "double"):
            return self._number(shape)
        if kind == "boolean":
            return self._boolean()
        if kind == "timestamp":
            return self._timestamp()
        return lambda value, path, problems: None

    def _structure(self, shape: StructureShape) -> Checker:
        members = {name: self._checker(member) for name, member in shape.members.items()}
        required = tuple(shape.required_members)

        def check(value: Any, path: str, problems: list[str]) -> None:
            if not isinstance(value, dict):
                raise _type_error(value, "a structure", path)
            for name in required:
                if value.get(name) is None:
                    problems.append(
                        f"Value null at '{_join(path, name)}' failed to satisfy constraint: "
                        "Member must not be null"
                    )
            for name, item in value.items():
                member = members.get(name)
                # Unknown members are ignored, as AWS's JSON front-ends do.
                if member is not None and item is not None:
                    member(item, _join(path, name), problems)

        return check

    def _list(self, shape: ListShape) -> Checker:
        item_check = self._checker(shape.member)
        bounds = _length_bounds(shape)

        def check(value: Any, path: str, problems: list[str]) -> None:
            if not isinstance(value, list):
                raise _type_error(value, "a list", path)
            if bounds:
                _check_length(len(value), bounds, value, path, problems)
            for index, item in enumerate(value):
                if item is None:
                    problems.append(
                        f"Value null at '{path}.{index + 1}' failed to satisfy constraint: "
                        "Member must not be null"
                    )
                else:
                    item_check(item, f"{path}.{index + 1}.member", problems)

        return check

    def _map(self, shape: MapShape) -> Checker:
        key_check = self._checker(shape.key)
        value_check = self._checker(shape.value)
        bounds = _length_bounds(shape)

        def check(value: Any, path: str, problems: list[str]) -> None:
            if not isinstance(value, dict):
                raise _type_error(value, "a map", path)
            if bounds:
                _check_length(len(value), bounds, value, path, problems)
            for key, item in value.items():
                key_check(key, f"{path}.key", problems)
                if item is not None:
                    value_check(item, f"{path}.{key}", problems)

        return check

    def _string(self, shape: Shape) -> Checker:
        enum = frozenset(shape.enum) if shape.enum else None
        allowed = list(shape.enum or ())
        bounds = _length_bounds(shape)

        def check(value: Any, path: str, problems: list[str]) -> None:
            if not isinstance(value, str):
                raise _type_error(value, "a String", path)
            if enum is not None and value not in enum:
                problems.append(_EnumProblem(enum_message(path, allowed)))
            if bounds:
                _check_length(len(value), bounds, value, path, problems)

        return check

    def _number(self, shape: Shape) -> Checker:
        integral = shape.type_name in ("integer", "long")
        low = shape.metadata.get("min")
        high = shape.metadata.get("max")
        wanted = "an Integer" if integral else "a Double"
        # What the wire type can hold (AWS's parsers refuse the rest as a framing error).
        limit = _INTEGRAL_LIMITS.get(shape.type_name)

        def check(value: Any, path: str, problems: list[str]) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _type_error(value, wanted, path)
            if integral and isinstance(value, float) and not value.is_integer():
                raise _type_error(value, wanted, path)
            if limit is not None and not -limit <= value < limit:
                raise _type_error(value, wanted, path)
            if low is not None and value < low:
                problems.append(
                    f"Value '{value}' at '{path}' failed to satisfy constraint: "
                    f"Member must have value greater than or equal to {low}"
                )
            if high is not None and value > high:
                problems.append(
                    f"Value '{value}' at '{path}' failed to satisfy constraint: "
                    f"Member must have value less than or equal to {high}"
                )

        return check

    @staticmethod
    def _boolean() -> Checker:
        def check(value: Any, path: str, problems: list[str]) -> None:
            if not isinstance(value, bool):
                raise _type_error(value, "a Boolean", path)

        return check

    @staticmethod
    def _timestamp() -> Checker:
        def check(value: Any, path: str, problems: list[str]) -> None:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise _type_error(value, "a Timestamp", path)

        return check


_INTEGRAL_LIMITS = {"integer": 2**31, "long": 2**63}


def _length_bounds(shape: Shape) -> tuple[int | None, int | None] | None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    return None if low is None and high is None else (low, high)


def _check_length(
    length: int, bounds: tuple[int | None, int | None], value: Any, path: str, problems: list[str]
) -> None:
    low, high = bounds
    if low is not None and length < low:
        problems.append(
            f"Value {_show(value)} at '{path}' failed to satisfy constraint: "
            f"Member must have length greater than or equal to {low}"
        )
    if high is not None and length > high:
        problems.append(
            f"Value {_show(value)} at '{path}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {high}"
        )
