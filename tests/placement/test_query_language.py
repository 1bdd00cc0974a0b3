"""The cluster query language grammar: what parses, what doesn't, and where the error points."""

from __future__ import annotations

import re

import pytest

from dockyard.errors import InvalidParameterException
from dockyard.placement.query_language import MAX_EXPRESSION_LENGTH, parse
from tests.placement.builders import instance

VALID = {
    "the ECS guide's string equality": "attribute:ecs.instance-type == t2.small",
    "the ECS guide's argument list": "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
    "the ECS guide's compound expression": (
        "attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d"
    ),
    "the ECS guide's task affinity": "task:group == service:production",
    "the ECS guide's task anti-affinity": "not(task:group == database)",
    "the ECS guide's running task count": "runningTasksCount == 1",
    "the ECS guide's agent version": "agentVersion < 1.14.5",
    "the ECS guide's registration time": "registeredAt < 2018-02-13",
    "the ECS guide's instance ids in quotes": "ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']",
    "word operators": "attribute:a equals x and attribute:b not_equals y",
    "ordering words": "runningTasksCount greater_than 1 or runningTasksCount less_than_equal 0",
    "symbol booleans without spaces": "attribute:a==x&&attribute:b==y||!(attribute:c exists)",
    "keywords in capitals": "NOT attribute:a EXISTS AND attribute:b EQUALS c OR attribute:d !exists",
    "a list in parentheses": "attribute:a not_in (x, y)",
    "a negative list operator spelled !in": "attribute:a !in [x]",
    "a regex in double quotes": 'attribute:a =~ "^t2\\.(micro|small)$"',
    "a full timestamp with an offset": "registeredAt >= 2018-06-18T22:28:28+00:00",
    "a timestamp in UTC": "registeredAt > 2018-06-18T22:28:28Z",
    "a timestamp without zone": "registeredAt <= 2018-06-18T22:28:28",
    "a custom attribute with slashes": "attribute:team/stack_name == prod",
    "nested parentheses": "((attribute:a == x or attribute:b == y) and (attribute:c exists))",
    "a subject that starts like a keyword": "attribute:notes == x",
}


@pytest.mark.parametrize("text", VALID.values(), ids=VALID.keys())
def test_valid_expressions_parse(text: str) -> None:
    assert parse(text).text == text


INVALID = {
    # (expression, column of the error, words the message must hold)
    "an unknown subject": ("instanceType == t2.small", 1, "unknown subject 'instanceType'"),
    "a missing argument": ("attribute:a ==", 15, "ends early; expected a value"),
    "two arguments": ("attribute:a == b c", 18, "unexpected 'c'; expected 'and', 'or'"),
    "an unclosed parenthesis": ("(attribute:a == b", 18, "expected ')'"),
    "a stray parenthesis": ("attribute:a == b )", 18, "unexpected ')'"),
    "a scalar for in": ("attribute:a in b", 16, "expected '(' or '['"),
    "an empty list item": ("attribute:a in [a,]", 19, "unexpected ']'; expected a value"),
    "a list without comma": ("attribute:a in [a b]", 19, "expected ',' or ']'"),
    "parentheses around a single argument": ("attribute:a == (b)", 16, "unexpected '('"),
    "an unclosed quote": ("attribute:a == 'x", 16, "unclosed quote"),
    "a dangling or": ("attribute:a == b or", 20, "ends early"),
    "a missing operator": ("attribute:a", 12, "expected an operator"),
    "regex on a number": ("runningTasksCount =~ 1", 19, "runningTasksCount can't be used with =~"),
    "a word for a number": ("runningTasksCount > many", 21, "'many' is not a whole number"),
    "a bad date": ("registeredAt < yesterday", 16, "'yesterday' is not a date"),
    "a bad day in a date": ("registeredAt < 2018-02-30", 16, "is not a date"),
    "a bad version": ("agentVersion < latest", 16, "not an agent version"),
    "a bad boolean": ("agentConnected == maybe", 19, "'maybe' is not true or false"),
    "a bad regex": ("attribute:a =~ '('", 16, "not a valid regular expression"),
    "a bad item in a list": ("agentConnected in [true, nope]", 26, "'nope' is not true or false"),
    "ordering on task groups": ("task:group > a", 12, "task:group can't be used with >"),
    "exists on a field": ("runningTasksCount exists", 19, "can't be used with exists"),
    "an empty attribute name": ("attribute: == x", 1, "1 to 128 characters"),
}


@pytest.mark.parametrize(("text", "column", "words"), INVALID.values(), ids=INVALID.keys())
def test_invalid_expressions_say_where(text: str, column: int, words: str) -> None:
    with pytest.raises(InvalidParameterException) as raised:
        parse(text)
    assert f"at column {column}:" in raised.value.message
    assert words in raised.value.message


def test_an_expression_may_have_2000_characters_but_not_more() -> None:
    clause = "attribute:a == x or "
    text = (clause * (MAX_EXPRESSION_LENGTH // len(clause)))[: -len(" or ")]
    text += " " * (MAX_EXPRESSION_LENGTH - len(text))
    assert len(parse(text).text) == MAX_EXPRESSION_LENGTH
    with pytest.raises(InvalidParameterException, match="2001 characters long"):
        parse(text + " ")


def test_an_empty_expression_is_invalid() -> None:
    with pytest.raises(InvalidParameterException, match="empty"):
        parse("   ")


def test_attribute_names_have_at_most_128_characters() -> None:
    parse(f"attribute:{'a' * 128} exists")
    with pytest.raises(InvalidParameterException, match="1 to 128"):
        parse(f"attribute:{'a' * 129} exists")


def test_parsing_is_cached() -> None:
    assert parse("attribute:cached == yes") is parse("attribute:cached == yes")


PRECEDENCE = {
    # and binds tighter than or; not tighter than and; parentheses override
    "a or b and c is a or (b and c)": (
        "attribute:a exists or attribute:b exists and attribute:c exists",
        {"a"},
        True,
    ),
    "(a or b) and c": ("(attribute:a exists or attribute:b exists) and attribute:c exists", {"a"}, False),
    "not a and b is (not a) and b": ("not attribute:a exists and attribute:b exists", {"b"}, True),
    "not (a and b)": ("not(attribute:a exists and attribute:b exists)", {"a", "b"}, False),
    "double negation": ("!!attribute:a exists", {"a"}, True),
}


@pytest.mark.parametrize(("text", "present", "expected"), PRECEDENCE.values(), ids=PRECEDENCE.keys())
def test_boolean_precedence(text: str, present: set[str], expected: bool) -> None:
    subject = instance(attributes=dict.fromkeys(present, "1"))
    assert parse(text).matches(subject) is expected


def test_quotes_may_hold_spaces_commas_and_escaped_quotes() -> None:
    subject = instance(attributes={"motto": 'say "hi", then go'})
    assert parse('attribute:motto == "say \\"hi\\", then go"').matches(subject)
    assert parse("attribute:motto in ['x', 'say \"hi\", then go']").matches(subject)


def test_errors_quote_the_expression() -> None:
    with pytest.raises(InvalidParameterException) as raised:
        parse("attribute:a ~= b")
    assert re.match(r"Invalid expression 'attribute:a ~= b' at column 13: ", raised.value.message)
