"""A `$filter` parser and evaluator for the forms directory clients send.

Deliberately small (eq, ne, in, startswith, endswith, any, and, or, not, parentheses): anything
else is refused with Graph's 400, so a client relying on a filter the emulator does not
understand finds out here rather than in production.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import GraphError


@dataclass(frozen=True)
class Compare:
    """`path op value`; op is eq, ne, in (value is a tuple), startswith or endswith."""

    path: tuple[str, ...]
    op: str
    value: Any


@dataclass(frozen=True)
class AnyOf:
    """`path/any(x:x op value)` over a string collection."""

    path: tuple[str, ...]
    op: str
    value: Any


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or"
    left: Node
    right: Node


@dataclass(frozen=True)
class Negation:
    operand: Node


Node = Compare | AnyOf | Logical | Negation

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[(),:/])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)"
    r"|(?P<number>-?\d+(?:\.\d+)?))"
)


def _syntax_error(text: str, position: int) -> GraphError:
    return GraphError(
        400,
        "BadRequest",
        f"Invalid filter clause: Syntax error at position {position} in '{text}'.",
    )


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise _syntax_error(text, pos)
        kind = match.lastgroup
        tokens.append((kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> tuple[str, str, int] | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def error(self) -> GraphError:
        token = self.peek()
        return _syntax_error(self.text, token[2] if token else len(self.text))

    def take(self, kind: str, value: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind:
            raise self.error()
        if value is not None and token[1].lower() != value:
            raise self.error()
        self.pos += 1
        return token[1]

    def at_word(self, *words: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token[0] == "word" and token[1].lower() in words

    def at_punct(self, text: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token[0] == "punct" and token[1] == text

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek() is not None:
            raise self.error()
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.at_word("or"):
            self.pos += 1
            node = Logical("or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.unary()
        while self.at_word("and"):
            self.pos += 1
            node = Logical("and", node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at_word("not"):
            self.pos += 1
            return Negation(self.unary())
        if self.at_punct("("):
            self.pos += 1
            node = self.or_expr()
            self.take("punct", ")")
            return node
        if self.at_word("startswith", "endswith"):
            op = self.take("word").lower()
            self.take("punct", "(")
            path = self.path()
            self.take("punct", ",")
            value = self.literal()
            self.take("punct", ")")
            return Compare(path, op, value)
        return self.comparison()

    def comparison(self) -> Node:
        path = self.path()
        if self.at_punct("/"):  # path/any(x:x eq 'v')
            self.pos += 1
            self.take("word", "any")
            self.take("punct", "(")
            var = self.take("word")
            self.take("punct", ":")
            if self.at_word("startswith"):
                self.pos += 1
                self.take("punct", "(")
                self.take("word", var.lower())
                self.take("punct", ",")
                value = self.literal()
                self.take("punct", ")")
                op = "startswith"
            else:
                self.take("word", var.lower())
                op = self.take("word").lower()
                if op != "eq":
                    raise self.error()
                value = self.literal()
            self.take("punct", ")")
            return AnyOf(path, op, value)
        op = self.take("word").lower()
        if op in ("eq", "ne"):
            return Compare(path, op, self.literal())
        if op == "in":
            self.take("punct", "(")
            values = [self.literal()]
            while self.at_punct(","):
                self.pos += 1
                values.append(self.literal())
            self.take("punct", ")")
            return Compare(path, "in", tuple(values))
        raise GraphError(
            400, "Request_UnsupportedQuery", f"Unsupported operator '{op}' in filter clause."
        )

    def path(self) -> tuple[str, ...]:
        parts = [self.take("word")]
        # A '/' continues the path unless it introduces a lambda: name/any(...).
        while self.at_punct("/") and not (self.at_word("any", offset=1) and self.at_punct("(", 2)):
            self.pos += 1
            parts.append(self.take("word"))
        return tuple(parts)

    def literal(self) -> Any:
        token = self.peek()
        if token is None:
            raise self.error()
        kind, value, _ = token
        self.pos += 1
        if kind == "string":
            return value[1:-1].replace("''", "'")
        if kind == "number":
            return float(value) if "." in value else int(value)
        if kind == "word" and value.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value.lower()]
        self.pos -= 1
        raise self.error()


def parse_filter(text: str) -> Node:
    if not text.strip():
        raise GraphError(400, "BadRequest", "Invalid filter clause: The filter is empty.")
    return _Parser(text).parse()


@dataclass(frozen=True)
class FilterSchema:
    """What a resource lets clients filter on, and which parts need advanced queries."""

    type_name: str  # "user" or "group"
    scalars: frozenset[str]
    collections: frozenset[str]
    nested: Mapping[str, frozenset[str]]  # complex property -> its filterable members
    advanced_only: frozenset[str]  # properties usable only with ConsistencyLevel: eventual


_ADVANCED_OPERATORS = frozenset({"ne", "endswith"})


def check_filter(node: Node, schema: FilterSchema, *, advanced: bool) -> None:
    """Raise Graph's 400 for unknown properties, and Request_UnsupportedQuery for clauses that
    need advanced query mode when the request is not in it."""

    def unsupported(prop: str) -> GraphError:
        return GraphError(
            400,
            "Request_UnsupportedQuery",
            f"Unsupported or invalid query filter clause specified for property '{prop}' of "
            f"resource '{schema.type_name.capitalize()}'.",
        )

    def unknown(prop: str) -> GraphError:
        return GraphError(
            400,
            "BadRequest",
            f"Invalid filter clause: Could not find a property named '{prop}' on type "
            f"'microsoft.graph.{schema.type_name}'.",
        )

    if isinstance(node, Logical):
        check_filter(node.left, schema, advanced=advanced)
        check_filter(node.right, schema, advanced=advanced)
        return
    if isinstance(node, Negation):
        if not advanced:
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported query: 'not'.")
        check_filter(node.operand, schema, advanced=advanced)
        return
    head, rest = node.path[0], node.path[1:]
    if isinstance(node, AnyOf):
        if rest or head not in schema.collections:
            raise unknown(head)
    elif rest:
        members = schema.nested.get(head)
        if members is None or len(rest) != 1 or rest[0] not in members:
            raise unknown(node.path[-1])
    elif head not in schema.scalars:
        raise unsupported(head) if head in schema.collections else unknown(head)
    if not advanced and (head in schema.advanced_only or node.op in _ADVANCED_OPERATORS):
        raise unsupported(node.path[-1])


def evaluate(node: Node, lookup: Callable[[tuple[str, ...]], Any]) -> bool:
    """Does an object match? `lookup` returns the value at a property path (None if absent).
    String comparisons ignore case, as the directory's do."""
    if isinstance(node, Logical):
        left = evaluate(node.left, lookup)
        if node.op == "and":
            return left and evaluate(node.right, lookup)
        return left or evaluate(node.right, lookup)
    if isinstance(node, Negation):
        return not evaluate(node.operand, lookup)
    value = lookup(node.path)
    if isinstance(node, AnyOf):
        return any(_matches(item, node.op, node.value) for item in value or [])
    return _matches(value, node.op, node.value)


def _fold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _matches(actual: Any, op: str, expected: Any) -> bool:
    if op == "eq":
        return bool(_fold(actual) == _fold(expected))
    if op == "ne":
        return bool(_fold(actual) != _fold(expected))
    if op == "in":
        return _fold(actual) in {_fold(v) for v in expected}
    if not isinstance(actual, str) or not isinstance(expected, str):
        return False
    if op == "startswith":
        return actual.casefold().startswith(expected.casefold())
    return actual.casefold().endswith(expected.casefold())


def lookup_in(data: Mapping[str, Any]) -> Callable[[tuple[str, ...]], Any]:
    def lookup(path: tuple[str, ...]) -> Any:
        value: Any = data
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        return value

    return lookup
