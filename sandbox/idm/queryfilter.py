"""CREST ``_queryFilter`` parsing and evaluation.

Grammar (CREST): ``true`` | ``false`` | ``<ptr> eq|co|sw|gt|ge|lt|le <json literal>`` | ``<ptr> pr`` |
``<expr> and <expr>`` | ``<expr> or <expr>`` | ``!<expr>`` | ``(<expr>)``. Pointers may be written ``/a/b`` or
``a/b``; string literals use double or single quotes with JSON escapes.

Matching rules, chosen to behave like IDM 7/8 on its default DS repository:

* Managed objects are matched case-insensitively for strings (DS indexes the managed JSON with
  ``caseIgnoreJsonQueryMatch``), so ``userName eq "BJensen"`` finds ``bjensen``. Config queries (an in-memory
  scan in IDM) are case-sensitive. Callers choose with ``case_insensitive``.
* A pointer that crosses an array matches if any element matches (``emails/value eq "x"``,
  ``roles/_refResourceId eq "r1"``); ``eq`` on an array field matches any element.
* ``gt/ge/lt/le`` compare strings with strings and numbers with numbers; mixed types never match.
* ``pr`` is true when the field exists and is not null.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from .errors import IdmError

# A parsed filter: ("const", bool), (op, pointer, value), ("pr", pointer), ("and"|"or", [nodes]), ("not", node).
Node = tuple[Any, ...]
_COMPARISONS = ("eq", "co", "sw", "gt", "ge", "lt", "le")
_OPERATORS = (*_COMPARISONS, "pr")
_TOKEN = re.compile(
    r"""\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<bang>!)|(?P<dq>"(?:[^"\\]|\\.)*")|(?P<sq>'(?:[^'\\]|\\.)*')"""
    r"""|(?P<word>[^\s()"']+))"""
)


def _invalid(query_filter: str, reason: str) -> IdmError:
    return IdmError(400, f"Invalid query filter '{query_filter}': {reason}")


def _tokens(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _invalid(text, f"unexpected character at position {pos}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "sq":
            # Single-quoted: re-quote as JSON so escapes decode the same way.
            value = '"' + value[1:-1].replace("\\'", "'").replace('"', '\\"') + '"'
            kind = "dq"
        out.append((kind, value))
    return out


def parse_pointer(text: str) -> list[str]:
    """``/a/b`` or ``a/b`` as a list of segments (JSON pointer escapes ``~1`` and ``~0`` decoded)."""
    segments = [s for s in text.strip("/").split("/") if s != ""] if text not in ("", "/") else []
    return [s.replace("~1", "/").replace("~0", "~") for s in segments]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str | None, str | None]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self) -> tuple[str | None, str | None]:
        token = self.peek()
        self.pos += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise _invalid(self.text, "empty filter")
        node = self.parse_or()
        if self.pos != len(self.tokens):
            raise _invalid(self.text, f"unexpected '{self.peek()[1]}'")
        return node

    def parse_or(self) -> Node:
        return self._joined("or", self.parse_and)

    def parse_and(self) -> Node:
        return self._joined("and", self.parse_not)

    def _joined(self, word: str, operand: Callable[[], Node]) -> Node:
        """Operands joined by ``word`` (``or``, ``and``): a lone operand as it is, else ``(word, [operands])``."""
        nodes = [operand()]
        while self.peek() == ("word", word):
            self.take()
            nodes.append(operand())
        return nodes[0] if len(nodes) == 1 else (word, nodes)

    def parse_not(self) -> Node:
        kind, value = self.take()
        if kind == "bang":
            return ("not", self.parse_not())
        if kind == "lp":
            node = self.parse_or()
            if self.take()[0] != "rp":
                raise _invalid(self.text, "missing ')'")
            return node
        if kind != "word":
            raise _invalid(self.text, f"expected a field or 'true'/'false', got {value!r}")
        if value in ("true", "false") and self.peek()[1] not in _OPERATORS:
            return ("const", value == "true")
        pointer = parse_pointer(value)
        op_kind, op = self.take()
        if op_kind != "word" or op not in _OPERATORS:
            raise _invalid(self.text, f"unknown operator {op!r} after '{value}'")
        if op == "pr":
            return ("pr", pointer)
        lit_kind, literal = self.take()
        if lit_kind not in ("dq", "word"):
            raise _invalid(self.text, f"missing value after '{op}'")
        try:
            parsed = json.loads(literal)
        except ValueError:
            raise _invalid(self.text, f"invalid value {literal}") from None
        if isinstance(parsed, (dict, list)):
            raise _invalid(self.text, "values must be JSON strings, numbers, booleans or null")
        return (op, pointer, parsed)


# ``<pointer> eq "<string>"``, the shape of nearly every correlation query: parsed without the tokenizer. It
# yields the same node as the parser would; anything else (or a string JSON cannot decode) takes the parser.
_SIMPLE_EQUALITY = re.compile(r'^\s*(/?[A-Za-z_][\w/]*)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$')


def parse(query_filter: str | None) -> Node:
    """The AST of a ``_queryFilter`` string; 400 ``IdmError`` when it does not parse.

    Nodes: ``("const", bool)``, ``(op, pointer, value)`` for ``eq co sw gt ge lt le``, ``("pr", pointer)``,
    ``("and"|"or", [nodes])``, ``("not", node)``; a pointer is a list of segments."""
    if query_filter is None:
        raise IdmError(400, "Missing _queryFilter")
    simple = _SIMPLE_EQUALITY.match(query_filter)
    if simple:
        try:
            return ("eq", parse_pointer(simple.group(1)), json.loads(simple.group(2)))
        except ValueError:
            pass
    return _Parser(query_filter).parse()


def resolve(obj: Any, pointer: list[str]) -> list[Any]:
    """Every value a pointer reaches, fanning out over arrays on the way and at the end."""
    values = [obj]
    for segment in pointer:
        nxt = []
        for value in values:
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and segment in item:
                        nxt.append(item[segment])
            elif isinstance(value, dict) and segment in value:
                nxt.append(value[segment])
        values = nxt
        if not values:
            return values
    flat = []
    for value in values:
        if isinstance(value, list):
            flat.extend(value)
        else:
            flat.append(value)
    return flat


def comparable(value: Any, case_insensitive: bool) -> tuple[str, Any] | None:
    """A (type-tag, value) key: keeps ``True`` apart from ``1`` and folds case when asked."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value.lower() if case_insensitive else value)
    if value is None:
        return ("z", None)
    return None


def _compare(op: str, actual: Any, expected: Any, case_insensitive: bool) -> bool:
    left = comparable(actual, case_insensitive)
    right = comparable(expected, case_insensitive)
    if left is None or right is None:
        return False
    if op == "eq":
        return left == right
    if left[0] != right[0] or (left[0] in ("z", "b") and op not in ("eq",)):
        return False
    if op in ("co", "sw"):
        if left[0] != "s":
            return False
        return right[1] in left[1] if op == "co" else left[1].startswith(right[1])
    if op == "gt":
        return left[1] > right[1]
    if op == "ge":
        return left[1] >= right[1]
    if op == "lt":
        return left[1] < right[1]
    return left[1] <= right[1]


def matches(node: Node, obj: Any, case_insensitive: bool = False) -> bool:
    kind = node[0]
    if kind == "const":
        return node[1]
    if kind == "and":
        return all(matches(child, obj, case_insensitive) for child in node[1])
    if kind == "or":
        return any(matches(child, obj, case_insensitive) for child in node[1])
    if kind == "not":
        return not matches(node[1], obj, case_insensitive)
    if kind == "pr":
        return any(value is not None for value in resolve(obj, node[1]))
    op, pointer, expected = node
    return any(_compare(op, value, expected, case_insensitive) for value in resolve(obj, pointer))


def pointers(node: Node) -> Iterator[list[str]]:
    """Every pointer a filter reads (used to decide whether relationship fields must be loaded)."""
    kind = node[0]
    if kind in ("and", "or"):
        for child in node[1]:
            yield from pointers(child)
    elif kind == "not":
        yield from pointers(node[1])
    elif kind != "const":
        yield node[1]
