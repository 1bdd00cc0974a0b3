"""What each comparison means: every operator, on every kind of subject."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.errors import InvalidParameterException
from dockyard.placement.model import InstanceSnapshot
from dockyard.placement.query_language import parse
from dockyard.placement.query_terms import MAX_PATTERN
from tests.placement.builders import instance


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


T2_SMALL = instance(instance_type="t2.small", attributes={"stack": "prod", "cores": "8", "flag": None})
M5_LARGE = instance(2, instance_type="m5.large", zone="us-east-1b")

ATTRIBUTES = {
    "== matches the same value": ("attribute:ecs.instance-type == t2.small", True, False),
    "equals is ==": ("attribute:ecs.instance-type equals t2.small", True, False),
    "!= needs another value": ("attribute:ecs.instance-type != t2.small", False, True),
    "!= is false without the attribute": ("attribute:stack != dev", True, False),
    "not(==) is true without the attribute": ("not(attribute:stack == dev)", True, True),
    "== with a wildcard": ("attribute:ecs.instance-type == t2.*", True, False),
    "!= with a wildcard": ("attribute:ecs.instance-type != t2.*", False, True),
    "a wildcard in the middle": ("attribute:ecs.instance-type == *.s*l", True, False),
    "in a list": ("attribute:ecs.availability-zone in [us-east-1b, us-east-1c]", False, True),
    "in with a wildcard": ("attribute:ecs.instance-type in [m5.*, c5.*]", False, True),
    "not_in a list": ("attribute:ecs.availability-zone not_in (us-east-1a)", False, True),
    "=~ matches the whole value": ("attribute:ecs.instance-type =~ t2", False, False),
    "=~ with a regex": ("attribute:ecs.instance-type =~ 't2\\.(small|micro)'", True, False),
    "matches is =~": ("attribute:ecs.instance-type matches m5.*", False, True),
    "!~ is the opposite of =~": ("attribute:ecs.instance-type !~ m5.*", True, False),
    "exists": ("attribute:stack exists", True, False),
    "exists without a value": ("attribute:flag exists", True, False),
    "!exists": ("attribute:stack !exists", False, True),
    "not_exists": ("attribute:stack not_exists", False, True),
    "> compares numbers as numbers": ("attribute:cores > 10", False, False),
    "<= compares numbers as numbers": ("attribute:cores <= 10", True, False),
    "< compares text as text": ("attribute:stack < q", True, False),
    "a quoted value is the same value": ('attribute:ecs.instance-type == "t2.small"', True, False),
}


@pytest.mark.parametrize(("text", "on_t2", "on_m5"), ATTRIBUTES.values(), ids=ATTRIBUTES.keys())
def test_attribute_comparisons(text: str, on_t2: bool, on_m5: bool) -> None:
    expression = parse(text)
    assert (expression.matches(T2_SMALL), expression.matches(M5_LARGE)) == (on_t2, on_m5)


REGISTERED = instance(registered_at=epoch("2018-06-18T22:28:28"))

DATES = {
    "before the day": ("registeredAt < 2018-06-19", True),
    "not before its own day": ("registeredAt < 2018-06-18", False),
    "on its day": ("registeredAt == 2018-06-18", True),
    "not on another day": ("registeredAt == 2018-06-17", False),
    "!= another day": ("registeredAt != 2018-06-17", True),
    "> a day means after that whole day": ("registeredAt > 2018-06-18", False),
    ">= a day includes the day": ("registeredAt >= 2018-06-18", True),
    "<= a day includes the day": ("registeredAt <= 2018-06-18", True),
    "== a timestamp to the second": ("registeredAt == 2018-06-18T22:28:28Z", True),
    "> an earlier second": ("registeredAt > 2018-06-18T22:28:27", True),
    "< the same second": ("registeredAt < 2018-06-18T22:28:28+00:00", False),
    "an offset moves the moment": ("registeredAt == 2018-06-19T00:28:28+02:00", True),
    "fractions of seconds": ("registeredAt > 2018-06-18T22:28:27.5Z", True),
}


@pytest.mark.parametrize(("text", "expected"), DATES.values(), ids=DATES.keys())
def test_registered_at_compares_dates(text: str, expected: bool) -> None:
    assert parse(text).matches(REGISTERED) is expected


NUMBERS_AND_VERSIONS = {
    "runningTasksCount ==": ("runningTasksCount == 3", True),
    "runningTasksCount !=": ("runningTasksCount != 3", False),
    "runningTasksCount >": ("runningTasksCount > 2", True),
    "runningTasksCount >=": ("runningTasksCount >= 4", False),
    "runningTasksCount <": ("runningTasksCount < 10", True),
    "runningTasksCount <=": ("runningTasksCount <= 2", False),
    "agentVersion compares numerically, not as text": ("agentVersion > 1.9.0", True),
    "agentVersion ==": ("agentVersion == 1.14.5", True),
    "agentVersion with a v": ("agentVersion >= v1.14.5", True),
    "agentVersion <": ("agentVersion < 1.14.5", False),
    "agentVersion with fewer parts": ("agentVersion > 1.14", True),
    "agentVersion ignores trailing zeros": ("agentVersion == 1.14.5.0", True),
}


@pytest.mark.parametrize(("text", "expected"), NUMBERS_AND_VERSIONS.values(), ids=NUMBERS_AND_VERSIONS.keys())
def test_counts_and_versions(text: str, expected: bool) -> None:
    subject = instance(running_tasks_count=3, agent_version="1.14.5")
    assert parse(text).matches(subject) is expected


def test_an_unknown_agent_version_matches_no_comparison() -> None:
    unknown = instance(agent_version=None)
    assert not parse("agentVersion < 9.0.0").matches(unknown)
    assert not parse("agentVersion >= 0.0.0").matches(unknown)


FIELDS = {
    "ec2InstanceId ==": ("ec2InstanceId == i-00000007", True),
    "ec2InstanceId in quoted ids": ("ec2InstanceId in ['i-00000001', 'i-00000007']", True),
    "ec2InstanceId not_in": ("ec2InstanceId not_in [i-00000007]", False),
    "ec2InstanceId =~": ("ec2InstanceId =~ i-0+7", True),
    "ec2InstanceId !~": ("ec2InstanceId !~ i-0+7", False),
    "ec2InstanceId !=": ("ec2InstanceId != i-00000001", True),
    "agentConnected == true": ("agentConnected == true", True),
    "agentConnected == FALSE": ("agentConnected == FALSE", False),
    "agentConnected != false": ("agentConnected != false", True),
    "agentConnected in": ("agentConnected in [false]", False),
    "agentConnected not_in": ("agentConnected not_in [false]", True),
    "agentConnected =~": ("agentConnected =~ t.*", True),
}


@pytest.mark.parametrize(("text", "expected"), FIELDS.values(), ids=FIELDS.keys())
def test_instance_fields(text: str, expected: bool) -> None:
    assert parse(text).matches(instance(7)) is expected


def hosting(*groups: str) -> InstanceSnapshot:
    return instance(groups=dict.fromkeys(groups, 1))


TASK_GROUPS = {
    # expression, on an instance running web+db, on one running web, on an empty one
    "== runs a task of the group": ("task:group == db", True, False, False),
    "not(==) is the ECS anti-affinity": ("not(task:group == db)", False, True, True),
    "!= runs tasks, none of the group": ("task:group != db", False, True, False),
    "in any of the groups": ("task:group in [db, cache]", True, False, False),
    "not_in none of them": ("task:group not_in [db, cache]", False, True, False),
    "=~ some group matches": ("task:group =~ 'service:.*'", False, False, False),
    "a wildcard": ("task:group == d*", True, False, False),
    "exists: runs any task": ("task:group exists", True, True, False),
    "!exists: runs no task": ("task:group !exists", False, False, True),
}


@pytest.mark.parametrize(("text", "both", "web", "empty"), TASK_GROUPS.values(), ids=TASK_GROUPS.keys())
def test_task_group(text: str, both: bool, web: bool, empty: bool) -> None:
    expression = parse(text)
    results = [expression.matches(i) for i in (hosting("web", "db"), hosting("web"), hosting())]
    assert results == [both, web, empty]


def test_a_task_group_with_no_task_left_is_not_hosted() -> None:
    assert not parse("task:group == db").matches(instance(groups={"db": 0}))
    assert not parse("task:group exists").matches(instance(groups={"db": 0}))


def test_an_attribute_without_value_equals_the_empty_string() -> None:
    assert parse("attribute:flag == ''").matches(T2_SMALL)
    assert not parse("attribute:flag == ''").matches(M5_LARGE)


def test_regex_results_are_remembered_per_value_without_changing_them() -> None:
    expression = parse("attribute:ecs.instance-type =~ 't2\\..*'")
    results = [expression.matches(i) for i in (T2_SMALL, M5_LARGE, T2_SMALL, M5_LARGE)]
    assert results == [True, False, True, False]


# Linear time (issue 10, item 3): the reproductions that once ran for seconds, then minutes.
# Each runs in a worker with a generous bound, so a regression fails instead of hanging.
def _within_a_minute(test: Any, target: InstanceSnapshot) -> bool:
    pool = ThreadPoolExecutor(1)
    try:
        return bool(pool.submit(test, target).result(timeout=60))
    finally:
        pool.shutdown(wait=False)  # a runaway match must fail the test, not hang it at the exit


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        pytest.param("attribute:evil =~ '(a+)+'", "a" * 127 + "b", id="nested repetition, 128 characters"),
        pytest.param("attribute:evil =~ '(a|a)*c'", "a" * 128, id="overlapping alternatives"),
        pytest.param("attribute:evil == '*a*a*a*a*a*a*a*b'", "a" * 128, id="wildcards, 128 characters"),
        pytest.param("attribute:evil in ['*a*a*a*a*a*a*a*a*a*a*a*a*b']", "a" * 128, id="wildcards in a list"),
    ],
)
def test_hostile_patterns_answer_in_linear_time(expression: str, value: str) -> None:
    compiled = parse(expression)
    assert _within_a_minute(compiled.matches, instance(attributes={"evil": value})) is False


WILDCARD_PIECES = st.text(alphabet="ab*", max_size=8)


@given(pattern=WILDCARD_PIECES, value=st.text(alphabet="ab", max_size=10))
def test_a_wildcard_matches_as_the_regular_expression_it_stands_for(pattern: str, value: str) -> None:
    expected = re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), value, re.DOTALL)
    wanted = "attribute:w == " + (f"'{pattern}'" if pattern else "''")
    assert parse(wanted).matches(instance(attributes={"w": value})) == (expected is not None)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        pytest.param("attribute:a =~ '(a)\\1'", "not a valid regular expression", id="a back-reference"),
        pytest.param("attribute:a =~ '(?=a)a'", "not a valid regular expression", id="a look-ahead"),
        pytest.param(f"attribute:a =~ '{'a' * (MAX_PATTERN + 1)}'", "at most", id="a long regex"),
        pytest.param(f"attribute:a == '*{'a' * MAX_PATTERN}'", "at most", id="a long wildcard"),
    ],
)
def test_patterns_re2_cannot_run_in_linear_time_are_refused(expression: str, words: str) -> None:
    with pytest.raises(InvalidParameterException, match=words):
        parse(expression)
