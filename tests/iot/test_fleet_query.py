"""Dynamic thing groups' query strings against things."""

from __future__ import annotations

import pytest

from dockyard.iot.errors import InvalidQueryException
from dockyard.iot.fleet_query import ThingFacts, parse

WEB = ThingFacts(
    "web-1",
    "dockyard-container-instance",
    {"ecs.os-type": "linux", "ecs.cluster": "prod"},
    frozenset({"prod"}),
    True,
)
DB = ThingFacts("db-1", None, {"ecs.os-type": "windows"}, frozenset(), False)


@pytest.mark.parametrize(
    ("query", "matched"),
    [
        ("thingName:web-1", ["web-1"]),
        ("thingName:web-*", ["web-1"]),
        ("thingName:*-1", ["web-1", "db-1"]),
        ("attributes.ecs.os-type:linux AND thingName:web-*", ["web-1"]),
        ("attributes.ecs.os-type:linux thingName:db-*", []),
        ("attributes.ecs.os-type:windows OR thingName:web-1", ["web-1", "db-1"]),
        ("NOT attributes.ecs.os-type:linux", ["db-1"]),
        ("NOT (thingName:web-1 OR thingName:db-1)", []),
        ("thingTypeName:dockyard-container-instance", ["web-1"]),
        ("thingGroupNames:prod", ["web-1"]),
        ("connectivity.connected:false", ["db-1"]),
        ('attributes.ecs.cluster:"prod"', ["web-1"]),
    ],
    ids=[
        "a name",
        "a name prefix",
        "a name suffix",
        "an attribute and a name",
        "AND implied between terms",
        "OR",
        "NOT",
        "NOT of a parenthesised OR",
        "a thing type",
        "a static group",
        "connectivity",
        "a quoted value",
    ],
)
def test_matches(query: str, matched: list[str]) -> None:
    predicate = parse(query)
    assert [thing.name for thing in (WEB, DB) if predicate(thing)] == matched


@pytest.mark.parametrize(
    "query",
    ["", "thingName", "thingName:a AND", "color:blue", "connectivity.connected:maybe", "(thingName:a"],
    ids=["empty", "no value", "a dangling AND", "an unknown field", "connectivity not a boolean", "unclosed"],
)
def test_refused(query: str) -> None:
    with pytest.raises(InvalidQueryException):
        parse(query)
