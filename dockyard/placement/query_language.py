r"""The ECS cluster query language: ``attribute:ecs.os-type == linux and not(task:group == db)``.

A lark LALR grammar gives the shape (subject, operator, argument, ``and``/``or``/``not`` with
the usual precedence, parentheses, argument lists in ``[...]`` or ``(...)``); ``query_terms``
gives each comparison its meaning and checks it (known subject, operator allowed on it,
argument of the right kind). ``parse`` compiles the text once into an ``Expression`` whose
``matches(instance)`` is a tree of small closures, and caches it, so a constraint used by every
RunTask of a service is parsed once per process.

``not`` binds tighter than ``and``, ``and`` tighter than ``or``. An unquoted value runs up to
a space, comma, bracket, parenthesis, quote, ``&`` or ``|``; anything else goes in single or
double quotes, where ``\'`` or ``\"`` stands for the quote itself (other backslashes stay, for
regular expressions).

Every error is an ``InvalidParameterException`` naming the column (1-based) where the text
stops making sense and what would have been valid there.

Limits as ECS has them: an expression has at most 2,000 characters; attribute names at most
128. Keywords (``and``, ``equals``, ``not_in``...) are case-insensitive; subjects are not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from dockyard.errors import ClientError, InvalidParameterException
from dockyard.placement import query_terms
from dockyard.placement.model import InstanceSnapshot

MAX_EXPRESSION_LENGTH = 2000

_GRAMMAR = r"""
?start: disjunction
?disjunction: conjunction (_OR conjunction)*
?conjunction: negation (_AND negation)*
?negation: _NOT negation -> negation
         | comparison
         | _LPAR disjunction _RPAR
comparison: SUBJECT scalar_operator value
          | SUBJECT list_operator value_list
          | SUBJECT unary_operator
scalar_operator: EQ | NE | GT | GE | LT | LE | MATCHES | NOT_MATCHES
list_operator: IN | NOT_IN
unary_operator: EXISTS | NOT_EXISTS
value_list: _LSQB value (_COMMA value)* _RSQB
          | _LPAR value (_COMMA value)* _RPAR
value: BARE | DOUBLE_QUOTED | SINGLE_QUOTED

_OR.2: /(?i:or)\b/ | "||"
_AND.2: /(?i:and)\b/ | "&&"
_NOT.2: /(?i:not)\b/ | "!"
SUBJECT: /[A-Za-z][A-Za-z0-9_.\-:\/\\]*/
EQ: /==|(?i:equals)\b/
NE: /!=|(?i:not_equals)\b/
GE: />=|(?i:greater_than_equal)\b/
GT: />|(?i:greater_than)\b/
LE: /<=|(?i:less_than_equal)\b/
LT: /<|(?i:less_than)\b/
MATCHES: /=~|(?i:matches)\b/
NOT_MATCHES: /!~|(?i:not_matches)\b/
IN: /(?i:in)\b/
NOT_IN: /!(?i:in)\b|(?i:not_in)\b/
EXISTS: /(?i:exists)\b/
NOT_EXISTS: /!(?i:exists)\b|(?i:not_exists)\b/
BARE: /[^\s,\[\]()'"&|]+/
DOUBLE_QUOTED: /"(?:[^"\\]|\\.)*"/
SINGLE_QUOTED: /'(?:[^'\\]|\\.)*'/
_LPAR: "("
_RPAR: ")"
_LSQB: "["
_RSQB: "]"
_COMMA: ","
%ignore /\s+/
"""

# What each terminal is called in an error message.
_DESCRIPTIONS = {
    "SUBJECT": "a subject",
    "BARE": "a value",
    "DOUBLE_QUOTED": "a value",
    "SINGLE_QUOTED": "a value",
    "_LSQB": "'['",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "_RSQB": "']'",
    "_COMMA": "','",
    "_OR": "'or'",
    "_AND": "'and'",
    "_NOT": "'not'",
    "$END": "the end of the expression",
}
_OPERATORS = {
    "EQ",
    "NE",
    "GT",
    "GE",
    "LT",
    "LE",
    "MATCHES",
    "NOT_MATCHES",
    "IN",
    "NOT_IN",
    "EXISTS",
    "NOT_EXISTS",
}


@functools.cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", lexer="contextual")


Test = Callable[[InstanceSnapshot], bool]


@dataclass(frozen=True, slots=True, eq=False)
class Expression:
    """A parsed cluster query; ``matches`` tells whether an instance belongs to the group.

    ``test`` is the compiled predicate itself, for loops that call it per instance.
    """

    text: str
    test: Test

    def matches(self, instance: InstanceSnapshot) -> bool:
        return self.test(instance)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


@functools.lru_cache(maxsize=1024)
def parse(expression: str) -> Expression:
    """Parse and check a cluster query language expression.

    Raises InvalidParameterException saying where and why the expression is wrong.
    """
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise InvalidParameterException(
            f"The expression is {len(expression)} characters long; at most "
            f"{MAX_EXPRESSION_LENGTH} are allowed."
        )
    if not expression.strip():
        raise InvalidParameterException("The expression is empty.")
    try:
        tree = _parser().parse(expression)
    except UnexpectedInput as error:
        raise _syntax_error(expression, error) from None
    return Expression(expression, _compile(expression, tree))


def _fail(expression: str, column: int, message: str) -> ClientError:
    return InvalidParameterException(f"Invalid expression '{expression}' at column {column}: {message}.")


def _expected(names: set[str]) -> str:
    described = sorted(
        {"an operator" if name in _OPERATORS else _DESCRIPTIONS.get(name, name) for name in names}
    )
    return described[0] if len(described) == 1 else (", ".join(described[:-1]) + " or " + described[-1])


def _syntax_error(expression: str, error: UnexpectedInput) -> ClientError:
    if isinstance(error, UnexpectedEOF):
        return _fail(
            expression,
            len(expression) + 1,
            f"the expression ends early; expected {_expected(set(error.expected))}",
        )
    if isinstance(error, UnexpectedToken):
        token = error.token
        # LALR merges lookaheads of shared states; asking the parser is exact.
        parser = error.interactive_parser
        expected = set(parser.accepts() if parser else error.expected)  # type: ignore[no-untyped-call]
        if token.type == "$END":
            return _fail(
                expression, len(expression) + 1, f"the expression ends early; expected {_expected(expected)}"
            )
        return _fail(expression, token.column or 1, f"unexpected '{token}'; expected {_expected(expected)}")
    assert isinstance(error, UnexpectedCharacters)
    found = expression[error.pos_in_stream or 0]
    what = "an unclosed quote" if found in "'\"" else f"unexpected '{found}'"
    return _fail(expression, error.column, f"{what}; expected {_expected(error.allowed)}")


def _compile(expression: str, node: Tree[Token] | Token) -> Test:
    assert isinstance(node, Tree)
    if node.data in ("disjunction", "conjunction"):
        parts = [_compile(expression, child) for child in node.children]
        return functools.reduce(_or if node.data == "disjunction" else _and, parts)
    if node.data == "negation":
        inner = _compile(expression, node.children[0])
        return lambda instance: not inner(instance)
    return _comparison(expression, node)


def _and(left: Test, right: Test) -> Test:
    return lambda instance: left(instance) and right(instance)


def _or(left: Test, right: Test) -> Test:
    return lambda instance: left(instance) or right(instance)


def _comparison(expression: str, node: Tree[Token]) -> Test:
    subject_token, operator_tree = node.children[0], node.children[1]
    assert isinstance(subject_token, Token) and isinstance(operator_tree, Tree)
    operator_token = operator_tree.children[0]
    assert isinstance(operator_token, Token)
    values = _values(node.children[2]) if len(node.children) > 2 else []
    operator = operator_token.type.lower()
    position = subject_token  # where an error points: the subject, operator or argument
    try:
        subject = query_terms.subject(str(subject_token))
        position = operator_token
        query_terms.check_operator(subject, operator)
        for position in values:
            query_terms.check_argument(subject, operator, _text(position))
    except query_terms.ArgumentError as error:
        raise _fail(expression, position.column or 1, str(error)) from None
    return query_terms.comparison(subject, operator, [_text(value) for value in values])


def _values(node: Tree[Token] | Token) -> list[Token]:
    assert isinstance(node, Tree)
    if node.data == "value":
        token = node.children[0]
        assert isinstance(token, Token)
        return [token]
    return [token for child in node.children for token in _values(child)]


def _text(token: Token) -> str:
    if token.type == "DOUBLE_QUOTED":
        return token[1:-1].replace('\\"', '"')
    if token.type == "SINGLE_QUOTED":
        return token[1:-1].replace("\\'", "'")
    return str(token)
