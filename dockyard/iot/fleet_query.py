r"""The fleet-indexing query strings of dynamic thing groups, as far as things go:
``attributes.ecs.os-type:linux AND thingName:web-*``.

A lark LALR grammar (the parser library of the cluster query language, ``placement/``) gives
the shape: ``field:value`` terms joined by ``AND`` (also implied between two terms), ``OR``
and ``NOT``, with parentheses; ``NOT`` binds tighter than ``AND``, ``AND`` tighter than ``OR``.
A value may hold ``*`` (any run of characters) and may be double-quoted. Fields:
``thingName``, ``thingTypeName``, ``thingGroupNames``, ``attributes.<name>`` and
``connectivity.connected`` (``true`` / ``false``). ``parse`` compiles a query once into a
predicate over ``ThingFacts``; an error is InvalidQueryException naming where it went wrong.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from dockyard.iot.errors import InvalidQueryException

_GRAMMAR = r"""
?start: disjunction
?disjunction: conjunction (_OR conjunction)*
?conjunction: negation (_AND? negation)*
?negation: _NOT negation -> not_
         | "(" disjunction ")"
         | term
term: FIELD ":" VALUE
_OR.2: /OR(?![^\s()])/
_AND.2: /AND(?![^\s()])/
_NOT.2: /NOT(?![^\s()])/
FIELD: /[A-Za-z][A-Za-z0-9_.:#@\/-]*?(?=:)/
VALUE: /"[^"]*"/ | /[^\s()"]+/
%import common.WS
%ignore WS
"""
_PARSER = Lark(_GRAMMAR, parser="lalr")
MAX_QUERY_LENGTH = 1000


@dataclass(frozen=True)
class ThingFacts:
    name: str
    type_name: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    groups: frozenset[str] = frozenset()
    connected: bool | None = None


Predicate = Callable[[ThingFacts], bool]


@functools.lru_cache(maxsize=256)
def parse(query: str) -> Predicate:
    """The predicate of ``query``; InvalidQueryException when it is not one."""
    if not query.strip() or len(query) > MAX_QUERY_LENGTH:
        raise InvalidQueryException(f"A query string has 1 to {MAX_QUERY_LENGTH} characters.")
    try:
        tree = _PARSER.parse(query)
    except UnexpectedInput as error:
        raise InvalidQueryException(f"Invalid query string at column {error.column}: {query!r}") from None
    return _compile(tree)


def _compile(node: Tree[Token] | Token) -> Predicate:
    assert isinstance(node, Tree)
    if node.data == "term":
        name, value = (str(child) for child in node.children)
        return _term(name, value[1:-1] if value.startswith('"') else value)
    parts = [_compile(child) for child in node.children]
    if node.data == "not_":
        inner = parts[0]
        return lambda thing: not inner(thing)
    if node.data == "disjunction":
        return lambda thing: any(part(thing) for part in parts)
    return lambda thing: all(part(thing) for part in parts)  # conjunction


def _pattern(value: str) -> Callable[[str | None], bool]:
    if "*" not in value:
        return lambda found: found == value
    regex = re.compile(".*".join(re.escape(piece) for piece in value.split("*")), re.DOTALL)
    return lambda found: found is not None and regex.fullmatch(found) is not None


def _term(name: str, value: str) -> Predicate:
    matches = _pattern(value)
    if name == "thingName":
        return lambda thing: matches(thing.name)
    if name == "thingTypeName":
        return lambda thing: matches(thing.type_name)
    if name == "thingGroupNames":
        return lambda thing: any(matches(group) for group in thing.groups)
    if name.startswith("attributes.") and len(name) > len("attributes."):
        attribute = name[len("attributes.") :]
        return lambda thing: matches(thing.attributes.get(attribute))
    if name == "connectivity.connected":
        if value not in ("true", "false"):
            raise InvalidQueryException("connectivity.connected is true or false.")
        wanted = value == "true"
        return lambda thing: thing.connected is wanted
    raise InvalidQueryException(f"Unknown field {name!r} in the query string.")
