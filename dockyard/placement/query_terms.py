"""The meaning of one comparison of the cluster query language: subjects, operators, arguments.

The grammar (``query_language``) only knows shapes; this module knows what ``registeredAt``
or ``task:group`` are. Each subject has a kind that fixes how its arguments are read (whole
numbers, agent versions, dates, booleans, strings) and the operators ECS allows on it. Every
argument is converted once, when the expression is parsed, so a comparison compiles to a
small closure over an ``InstanceSnapshot`` and evaluating it costs a dict lookup or two.

Rules that ECS leaves implicit, chosen here and tested:
- A comparison on a subject the instance lacks is false, whatever the operator, except
  ``!exists``: ``attribute:stack != prod`` selects instances that have a ``stack`` other than
  ``prod`` (as the ECS guide describes it); ``not(attribute:stack == prod)`` also selects
  instances without ``stack``.
- ``task:group`` is the set of groups with a task on the instance: ``==``/``in``/``=~`` hold
  when some group matches, ``!=``/``not_in``/``!~`` when the instance runs tasks and none
  matches, so anti-affinity is written ``not(task:group == database)`` as in the ECS guide.
- ``*`` in an ``==``/``!=``/``in``/``not_in`` argument stands for any run of characters
  (attribute values can't hold a ``*``), matched by scanning for its pieces in order (never
  by backtracking); ``=~`` takes a regular expression matched against the whole value, as
  Java's ``String.matches`` does, on RE2 (linear time in the value; no back-references or
  look-arounds, which RE2 refuses as invalid).
- A date denotes its whole day (``registeredAt > 2018-06-18`` means from the 19th on); a
  timestamp its second. Timestamps without an offset are UTC.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import re2

from dockyard.placement.model import InstanceSnapshot

Test = Callable[[InstanceSnapshot], bool]

# Canonical operator names; the grammar maps every spelling onto one of these.
ORDERING = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
MEMBERSHIP = frozenset({"eq", "ne", "in", "not_in", "matches", "not_matches"})
EVERY = ORDERING | MEMBERSHIP | {"exists", "not_exists"}
LIST_OPERATORS = frozenset({"in", "not_in"})
# A negative operator holds when the subject exists and its positive twin does not.
POSITIVE = {"ne": "eq", "not_in": "in", "not_matches": "matches", "not_exists": "exists"}
SPELLING = {
    "eq": "==",
    "ne": "!=",
    "gt": ">",
    "ge": ">=",
    "lt": "<",
    "le": "<=",
    "in": "in",
    "not_in": "not_in",
    "matches": "=~",
    "not_matches": "!~",
    "exists": "exists",
    "not_exists": "!exists",
}


class ArgumentError(ValueError):
    """An argument this subject can't be compared with (the parser adds the column)."""


@dataclass(frozen=True, slots=True)
class Subject:
    """What a comparison reads from an instance: ``read`` gives None when it is missing."""

    name: str
    kind: str  # string | int | version | date | bool | groups
    operators: frozenset[str]
    read: Callable[[InstanceSnapshot], Any]
    attribute: str | None = None  # for attribute:<name>, read inline by ``comparison``


_MISSING = object()


def _attribute(name: str) -> Subject:
    def read(instance: InstanceSnapshot) -> str | None:
        attributes = instance.attributes
        return (attributes[name] or "") if name in attributes else None  # "": no value

    return Subject(f"attribute:{name}", "string", EVERY, read, name)


def _groups(instance: InstanceSnapshot) -> tuple[str, ...] | None:
    return tuple(group for group, count in instance.task_groups.items() if count > 0) or None


def _version_of(instance: InstanceSnapshot) -> tuple[int, ...] | None:
    try:
        return parse_version(instance.agent_version) if instance.agent_version else None
    except ArgumentError:
        return None


SUBJECTS: dict[str, Subject] = {
    subject.name: subject
    for subject in (
        Subject("ec2InstanceId", "string", MEMBERSHIP, lambda i: i.ec2_instance_id or None),
        Subject("registeredAt", "date", ORDERING, lambda i: i.registered_at),
        Subject("runningTasksCount", "int", ORDERING, lambda i: i.running_tasks_count),
        Subject("agentConnected", "bool", MEMBERSHIP, lambda i: "true" if i.agent_connected else "false"),
        Subject("agentVersion", "version", ORDERING, _version_of),
        Subject("task:group", "groups", MEMBERSHIP | {"exists", "not_exists"}, _groups),
    )
}
MAX_ATTRIBUTE_NAME = 128


def subject(name: str) -> Subject:
    """The subject called ``name``; raises ArgumentError for an unknown one."""
    if name.startswith("attribute:"):
        attribute = name.removeprefix("attribute:")
        if not 0 < len(attribute) <= MAX_ATTRIBUTE_NAME:
            raise ArgumentError(f"an attribute name has 1 to {MAX_ATTRIBUTE_NAME} characters")
        return _attribute(attribute)
    if name in SUBJECTS:
        return SUBJECTS[name]
    known = ", ".join(["attribute:<name>", *SUBJECTS])
    raise ArgumentError(f"unknown subject '{name}' (valid subjects: {known})")


def parse_version(text: str) -> tuple[int, ...]:
    """``1.14.5`` (or ``v1.14.5``) as (1, 14, 5); trailing zeros dropped, so 1.14.0 == 1.14."""
    match = re.fullmatch(r"v?(\d+(?:\.\d+)*)", text.strip())
    if match is None:
        raise ArgumentError(f"'{text}' is not an agent version like 1.14.5")
    parts = [int(part) for part in match.group(1).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})?)?")


def parse_date(text: str) -> tuple[float, float]:
    """The interval [start, end) in epoch seconds that a date or timestamp denotes."""
    match = _DATE.fullmatch(text)
    try:
        moment = datetime.fromisoformat(text) if match else None
    except ValueError:
        moment = None
    if match is None or moment is None:
        raise ArgumentError(
            f"'{text}' is not a date; use 2018-06-18, 2018-06-18T22:28:28, "
            "2018-06-18T22:28:28Z or 2018-06-18T22:28:28+00:00"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    start = moment.timestamp()
    width = 86400.0 if match.group(1) is None else (1e-6 if match.group(2) else 1.0)
    return start, start + width


MAX_PATTERN = 512  # characters of a regular expression or wildcard argument


def _wildcard(value: str) -> Callable[[str], bool] | None:
    """A test of ``value`` with ``*`` for any run of characters, or None without a ``*``.

    The first piece must start the text and the last end it; each piece between is found at
    its leftmost place after the one before (leftmost is never worse for what follows), so a
    test costs one scan of the text, whatever the pattern.
    """
    if "*" not in value:
        return None
    first, *middle, last = value.split("*")

    def test(text: str) -> bool:
        if len(text) < len(first) + len(last) or not text.startswith(first) or not text.endswith(last):
            return False
        position, end = len(first), len(text) - len(last)
        for piece in middle:
            found = text.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
        return True

    return test


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a user's bad pattern is their error, not a line in our log


def _regex(value: str) -> Any:
    """``value`` compiled by RE2 (matching in time linear in the text)."""
    if len(value) > MAX_PATTERN:
        raise ArgumentError(f"a regular expression has at most {MAX_PATTERN} characters")
    try:
        return re2.compile(value, _RE2_OPTIONS)
    except re2.error as error:
        reason = (
            error.args[0].decode(errors="replace")
            if error.args and isinstance(error.args[0], bytes)
            else error
        )
        raise ArgumentError(f"'{value}' is not a valid regular expression ({reason})") from None


def _convert(kind: str, value: str) -> Any:
    """One argument as the subject's kind compares it."""
    if kind == "int":
        if not re.fullmatch(r"-?\d+", value):
            raise ArgumentError(f"'{value}' is not a whole number")
        return int(value)
    if kind == "version":
        return parse_version(value)
    if kind == "date":
        return parse_date(value)
    if kind == "bool":
        if value.lower() not in ("true", "false"):
            raise ArgumentError(f"'{value}' is not true or false")
        return value.lower()
    return value


def _ordering(op: str, kind: str, argument: Any) -> Callable[[Any], bool]:
    if kind == "date":
        start, end = argument
        return {
            "eq": lambda v: start <= v < end,
            "gt": lambda v: v >= end,
            "ge": lambda v: v >= start,
            "lt": lambda v: v < start,
            "le": lambda v: v < end,
        }[op]
    if kind == "string":  # attribute values: numerically when both are numbers
        return _string_ordering(op, argument)
    return {
        "eq": lambda v: v == argument,
        "gt": lambda v: v > argument,
        "ge": lambda v: v >= argument,
        "lt": lambda v: v < argument,
        "le": lambda v: v <= argument,
    }[op]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _string_ordering(op: str, argument: str) -> Callable[[str], bool]:
    number = _number(argument)
    compare = {"gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}[op]

    def test(value: str) -> bool:
        mine = _number(value) if number is not None else None
        if number is not None and mine is not None:
            return bool(compare(mine, number))
        return bool(compare(value, argument))

    return test


def _positive(op: str, kind: str, arguments: list[str]) -> Callable[[Any], object]:
    """The test (truthy or not) a single value must pass for the positive operator ``op``."""
    if op == "matches":  # every subject that allows =~ has string values
        return _memo(_regex(arguments[0]).fullmatch)
    converted = [_convert(kind, value) for value in arguments]
    if kind in ("string", "groups", "bool") and op in ("eq", "in"):
        patterns = [p for p in map(_wildcard, arguments) if p is not None]
        literals = frozenset(v for v in converted if "*" not in v)
        if not patterns:
            return literals.__contains__
        return _memo(lambda v: v in literals or any(p(v) for p in patterns))
    return _ordering(op, kind, converted[0])


_MEMO_SIZE = 256


def _memo(test: Callable[[str], object]) -> Callable[[str], bool]:
    """``test`` remembered per value: a cluster has few instance types or zones, many instances."""
    known: dict[str, bool] = {}

    def remembered(value: str) -> bool:
        result = known.get(value)
        if result is None:
            result = bool(test(value))
            if len(known) < _MEMO_SIZE:
                known[value] = result
        return result

    return remembered


def check_operator(subject: Subject, op: str) -> None:
    """Raise ArgumentError unless ECS allows ``op`` on ``subject``."""
    if op not in subject.operators:
        allowed = ", ".join(sorted(SPELLING[o] for o in subject.operators))
        raise ArgumentError(f"{subject.name} can't be used with {SPELLING[op]} (valid operators: {allowed})")


def check_argument(subject: Subject, op: str, value: str) -> None:
    """Raise ArgumentError unless ``value`` is an argument ``subject op`` can compare with."""
    if "*" in value and len(value) > MAX_PATTERN:
        raise ArgumentError(f"a wildcard has at most {MAX_PATTERN} characters")
    if POSITIVE.get(op, op) == "matches":
        _regex(value)
    else:
        _convert(subject.kind, value)


def comparison(subject: Subject, op: str, arguments: list[str]) -> Test:
    """Compile ``subject op arguments`` (already checked) into a test of one instance."""
    read = subject.read
    if op == "exists":
        return lambda instance: read(instance) is not None
    if op == "not_exists":
        return lambda instance: read(instance) is None
    test = _positive(POSITIVE.get(op, op), subject.kind, arguments)
    negated = op in POSITIVE
    if subject.attribute is not None:  # the common case, read inline: one call less
        return _attribute_test(subject.attribute, test, negated)
    if subject.kind == "groups":
        literal = POSITIVE.get(op, op) in ("eq", "in") and not any("*" in a for a in arguments)
        return _group_test(test, negated, tuple(arguments) if literal else None)

    def one_value(instance: InstanceSnapshot) -> bool:
        value = read(instance)
        return value is not None and bool(test(value)) != negated

    return one_value


def _attribute_test(name: str, test: Callable[[Any], object], negated: bool) -> Test:
    if negated:

        def negative(instance: InstanceSnapshot) -> bool:
            value = instance.attributes.get(name, _MISSING)
            return value is not _MISSING and not test(value or "")

        return negative

    def positive(instance: InstanceSnapshot) -> bool:
        value = instance.attributes.get(name, _MISSING)
        return value is not _MISSING and bool(test(value or ""))

    return positive


def _group_test(test: Callable[[Any], object], negated: bool, names: tuple[str, ...] | None) -> Test:
    if names is not None and not negated:  # look the named groups up, don't scan them all
        if len(names) == 1:
            name = names[0]
            return lambda instance: instance.task_groups.get(name, 0) > 0
        return lambda instance: any(instance.task_groups.get(n, 0) > 0 for n in names)

    def any_group(instance: InstanceSnapshot) -> bool:
        present = matched = False
        for group, count in instance.task_groups.items():
            if count > 0:
                present = True
                if test(group):
                    matched = True
                    break
        return present and matched != negated

    return any_group
