"""Run-search expressions: ``metrics.auc > 0.9 and params.C = '1.0'``.

Parsed here into a small tree (comparisons joined by AND / OR, with
parentheses); the store turns the tree into SQL. Errors name the position
and the token that could not be understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shipyard.errors import InvalidFilter

ATTRIBUTES = {
    "status": "status",
    "name": "name",
    "run_name": "name",
    "run_id": "id",
    "id": "id",
    "user": "user",
    "start_time": "start_time",
    "end_time": "end_time",
    "git_commit": "git_commit",
    "user_id": "user",
    "created": "start_time",
    "lifecycle_stage": "lifecycle_stage",
}
_NUMERIC_ATTRIBUTES = {"start_time", "end_time"}
_ENTITY_ALIASES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "LIKE", "ILIKE", "IN", "NOT IN")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<op>!=|>=|<=|==|=|>|<)
      | (?P<paren>[(),])
      | (?P<ident>[A-Za-z_][\w]*(?:\.(?:`[^`]+`|[\w\-/.:]+))?)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Comparison:
    entity: str  # metric | param | tag | attribute
    key: str
    op: str
    value: Any


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    items: tuple[Expression, ...]


Expression = Comparison | BoolOp


@dataclass(frozen=True)
class OrderBy:
    entity: str
    key: str
    descending: bool


def parse_filter(
    expression: str | None,
    *,
    attributes: dict[str, str] | None = None,
    numeric: frozenset[str] | set[str] | None = None,
) -> Expression | None:
    """The expression's tree; ``attributes`` (name -> key) and ``numeric`` replace the
    run attributes for other records (experiments, registered models, versions)."""
    if expression is None or not expression.strip():
        return None
    return _Parser(expression, attributes, numeric).parse()


def matches(expression: Expression | None, record: Record) -> bool:
    """Whether an in-memory record fits the expression (SQL's meaning: a missing key
    never matches a comparison, but does match ``!=`` and ``NOT IN`` on text keys)."""
    if expression is None:
        return True
    if isinstance(expression, BoolOp):
        results = (matches(item, record) for item in expression.items)
        return all(results) if expression.op == "AND" else any(results)
    values: dict[str, Any] = {
        "attribute": record.attributes,
        "metric": record.metrics,
        "param": record.params,
        "tag": record.tags,
    }[expression.entity]
    value = values.get(expression.key)
    if value is None:
        return expression.op in ("!=", "NOT IN") and expression.entity != "metric"
    return _holds(value, expression.op, expression.value)


@dataclass(frozen=True)
class Record:
    """What ``matches`` compares: an entity's attributes and its key/value maps."""

    attributes: dict[str, Any]
    tags: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def _like(pattern: str, flags: int = 0) -> re.Pattern[str]:
    parts = (".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), flags | re.DOTALL)


def _holds(value: Any, op: str, wanted: Any) -> bool:
    if op == "=":
        return bool(value == wanted)
    if op == "!=":
        return bool(value != wanted)
    if op == "LIKE":
        return _like(str(wanted)).fullmatch(str(value)) is not None
    if op == "ILIKE":
        return _like(str(wanted), re.IGNORECASE).fullmatch(str(value)) is not None
    if op == "IN":
        return value in wanted
    if op == "NOT IN":
        return value not in wanted
    try:
        if op == ">":
            return bool(value > wanted)
        if op == ">=":
            return bool(value >= wanted)
        if op == "<":
            return bool(value < wanted)
        if op == "<=":
            return bool(value <= wanted)
    except TypeError:
        return False
    raise InvalidFilter(op, "unknown operator")


def parse_order_by(
    clauses: str | list[str] | None, *, attributes: dict[str, str] | None = None
) -> list[OrderBy]:
    if clauses is None:
        return []
    if isinstance(clauses, str):
        clauses = [part for part in clauses.split(",") if part.strip()]
    result = []
    for clause in clauses:
        words = clause.strip().split()
        if not words or len(words) > 2:
            raise InvalidFilter(clause, "order by takes a key and an optional ASC or DESC")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise InvalidFilter(clause, f"unknown direction {words[1]!r}; use ASC or DESC")
        entity, key = _split_identifier(words[0], clause, attributes)
        result.append(OrderBy(entity, key, direction == "DESC"))
    return result


def _split_identifier(
    identifier: str, expression: str, attributes: dict[str, str] | None = None
) -> tuple[str, str]:
    attributes = ATTRIBUTES if attributes is None else attributes
    bare = identifier.strip("`")
    if "." not in identifier or bare.lower() in attributes:
        if bare.lower() in attributes:
            return "attribute", attributes[bare.lower()]
        raise InvalidFilter(
            expression,
            f"unknown key {identifier!r}; use metrics.<name>, params.<name>, tags.<name> "
            f"or one of {sorted(attributes)}",
        )
    prefix, key = identifier.split(".", 1)
    entity = _ENTITY_ALIASES.get(prefix.lower())
    if entity is None:
        raise InvalidFilter(
            expression, f"unknown prefix {prefix!r}; use metrics., params., tags. or attributes."
        )
    key = key.strip("`")
    if entity == "attribute":
        if key.lower() not in attributes:
            raise InvalidFilter(
                expression, f"unknown attribute {key!r}; known: {sorted(attributes)}"
            )
        key = attributes[key.lower()]
    return entity, key


class _Parser:
    def __init__(
        self,
        text: str,
        attributes: dict[str, str] | None = None,
        numeric: frozenset[str] | set[str] | None = None,
    ) -> None:
        self.attributes = ATTRIBUTES if attributes is None else attributes
        self.numeric = _NUMERIC_ATTRIBUTES if numeric is None else numeric
        self.text = text
        self.tokens = self._tokenize(text)
        self.position = 0

    def _tokenize(self, text: str) -> list[tuple[str, str, int]]:
        tokens = []
        index = 0
        while index < len(text):
            if text[index:].strip() == "":
                break
            match = _TOKEN.match(text, index)
            if not match or match.end() == index:
                bad = text[index:].strip()[:20]
                raise InvalidFilter(text, f"cannot read {bad!r} at position {index}")
            kind = match.lastgroup or ""
            tokens.append((kind, match.group(kind), match.start(kind)))
            index = match.end()
        return tokens

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str, int]:
        token = self._peek()
        if token is None:
            raise InvalidFilter(self.text, "the expression ends too early")
        self.position += 1
        return token

    def _peek_word(self) -> str | None:
        token = self._peek()
        return token[1].upper() if token and token[0] == "ident" else None

    def parse(self) -> Expression:
        expression = self._or()
        token = self._peek()
        if token is not None:
            raise InvalidFilter(self.text, f"unexpected {token[1]!r} at position {token[2]}")
        return expression

    def _or(self) -> Expression:
        items = [self._and()]
        while self._peek_word() == "OR":
            self._take()
            items.append(self._and())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def _and(self) -> Expression:
        items = [self._atom()]
        while self._peek_word() == "AND":
            self._take()
            items.append(self._atom())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def _atom(self) -> Expression:
        token = self._take()
        if token[0] == "paren" and token[1] == "(":
            inner = self._or()
            closing = self._take()
            if closing[1] != ")":
                raise InvalidFilter(self.text, f"expected ')' at position {closing[2]}")
            return inner
        if token[0] != "ident":
            raise InvalidFilter(
                self.text, f"expected a key at position {token[2]}, got {token[1]!r}"
            )
        entity, key = _split_identifier(token[1], self.text, self.attributes)
        op = self._operator()
        value = self._value(op)
        return self._checked(Comparison(entity, key, op, value), token[2])

    def _operator(self) -> str:
        token = self._take()
        if token[0] == "op":
            return "=" if token[1] == "==" else token[1]
        word = token[1].upper()
        if word == "NOT" and self._peek_word() == "IN":
            self._take()
            return "NOT IN"
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        raise InvalidFilter(
            self.text,
            f"expected an operator at position {token[2]}, got {token[1]!r}; "
            f"use one of {list(OPERATORS)}",
        )

    def _value(self, op: str) -> Any:
        if op in ("IN", "NOT IN"):
            opening = self._take()
            if opening[1] != "(":
                raise InvalidFilter(self.text, f"{op} needs a list like ('a', 'b')")
            values = [self._scalar()]
            while (token := self._take())[1] == ",":
                values.append(self._scalar())
            if token[1] != ")":
                raise InvalidFilter(self.text, f"expected ')' at position {token[2]}")
            return tuple(values)
        return self._scalar()

    def _scalar(self) -> Any:
        kind, text, position = self._take()
        if kind == "string":
            return bytes(text[1:-1], "utf-8").decode("unicode_escape")
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        raise InvalidFilter(self.text, f"expected a value at position {position}, got {text!r}")

    def _checked(self, comparison: Comparison, position: int) -> Comparison:
        values = comparison.value if isinstance(comparison.value, tuple) else (comparison.value,)
        numeric = comparison.entity == "metric" or (
            comparison.entity == "attribute" and comparison.key in self.numeric
        )
        if numeric:
            if comparison.op in ("LIKE", "ILIKE"):
                raise InvalidFilter(
                    self.text, f"{comparison.op} needs a text key (position {position})"
                )
            if not all(isinstance(v, int | float) for v in values):
                raise InvalidFilter(
                    self.text,
                    f"{comparison.entity} {comparison.key!r} is numeric; compare it with a number "
                    f"(position {position})",
                )
        elif not all(isinstance(v, str) for v in values):
            raise InvalidFilter(
                self.text,
                f"{comparison.entity} values are text; quote the value, e.g. "
                f"{comparison.entity}s.{comparison.key} = '{values[0]}' (position {position})",
            )
        return comparison
