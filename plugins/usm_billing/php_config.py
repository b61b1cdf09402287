"""Read the top-level ``$name = value;`` assignments of a PHP config file, never running it.

The PHP module is configured by a PHP file (``usm_billing.conf.php``) of plain
assignments: strings, numbers, booleans, ``null`` and arrays (``array(…)`` or ``[…]``,
with or without ``key =>``), and now and then ``$name['key'] = value;``. This is a small
tolerant reader of exactly that: an assignment it cannot read (a constant, a function
call, a string with ``$variables`` in it) is reported by name and line, never guessed,
and the rest of the file is still read. Values are never put into messages, since the
file holds API keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeAlias

__all__ = ["PhpAssignments", "PhpValue", "parse_php_config"]

PhpValue: TypeAlias = "str | int | float | bool | dict[str | int, PhpValue] | None"

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<open><\?php|<\?)
  | (?P<close>\?>)
  | (?P<variable>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<single>'(?:[^'\\]|\\.)*')
  | (?P<double>"(?:[^"\\]|\\.)*")
  | (?P<number>-?(?:0[xX][0-9a-fA-F]+|\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_\\]*)
  | (?P<arrow>=>)
  | (?P<punct>[=;,()\[\].])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_DOUBLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", "0": "\0"}
_DOUBLE_ESCAPES.update({c: c for c in '\\$"'})


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    line: int


@dataclass
class PhpAssignments:
    """What the file assigns, by variable name without ``$`` (in file order), and the
    assignments that could not be read, by name: ``line N: why`` (no values)."""

    values: dict[str, PhpValue] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


class _Unreadable(ValueError):
    """An assignment this reader does not understand; the message never holds a value."""


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    line = 1
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind not in {"space", "comment", "open", "close"}:
            tokens.append(_Token(kind, match.group(), line))
        line += match.group().count("\n")
    return tokens


def _unquote_single(body: str) -> str:
    return re.sub(r"\\([\\'])", r"\1", body)


def _unquote_double(body: str) -> str:
    if re.search(r"(?<!\\)\$[A-Za-z_{]", body):
        msg = "a double-quoted string with a $variable in it (PHP would interpolate it)"
        raise _Unreadable(msg)
    return re.sub(r"\\(.)", lambda m: _DOUBLE_ESCAPES.get(m.group(1), m.group()), body)


class _Parser:
    """Recursive descent over the tokens of one file."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self, text: str | None = None) -> _Token:
        token = self.peek()
        if token is None:
            msg = "the file ends inside the assignment"
            raise _Unreadable(msg)
        if text is not None and token.text.lower() != text:
            msg = f"expected `{text}`, found {_shown(token)}"
            raise _Unreadable(msg)
        self.at += 1
        return token

    def skip_statement(self) -> None:
        """Past the next `;` outside brackets (the end of the statement that failed)."""
        depth = 0
        while (token := self.peek()) is not None:
            self.at += 1
            if token.text in {"(", "["}:
                depth += 1
            elif token.text in {")", "]"}:
                depth = max(depth - 1, 0)
            elif token.text == ";" and depth == 0:
                return

    def value(self) -> PhpValue:
        """A literal, possibly joined with `.` (`'a' . 'b'`)."""
        parts = [self.atom()]
        while (token := self.peek()) is not None and token.text == ".":
            self.take(".")
            parts.append(self.atom())
        if len(parts) == 1:
            return parts[0]
        if not all(isinstance(p, str | int | float) for p in parts):
            msg = "`.` joins something other than strings and numbers"
            raise _Unreadable(msg)
        return "".join(str(p) for p in parts)

    def atom(self) -> PhpValue:
        token = self.take()
        if token.kind == "single":
            return _unquote_single(token.text[1:-1])
        if token.kind == "double":
            return _unquote_double(token.text[1:-1])
        if token.kind == "number":
            return _number(token.text)
        if token.text == "(":
            inner = self.value()
            self.take(")")
            return inner
        if token.text == "[":
            return self.array("]")
        if token.kind == "word":
            word = token.text.lower()
            if word in {"true", "false"}:
                return word == "true"
            if word == "null":
                return None
            if word == "array" and (nxt := self.peek()) is not None and nxt.text == "(":
                self.take("(")
                return self.array(")")
            msg = "a constant or a function call, not a literal"
            raise _Unreadable(msg)
        if token.kind == "variable":
            msg = f"refers to another variable ({token.text})"
            raise _Unreadable(msg)
        msg = f"unexpected {_shown(token)}"
        raise _Unreadable(msg)

    def array(self, closing: str) -> dict[str | int, PhpValue]:
        """PHP's ordered map; keys without `=>` count up from the largest int key + 1."""
        items: dict[str | int, PhpValue] = {}
        while (token := self.peek()) is not None and token.text != closing:
            item = self.value()
            if (arrow := self.peek()) is not None and arrow.kind == "arrow":
                self.take("=>")
                items[_key(item)] = self.value()
            else:
                items[_next_index(items)] = item
            if (sep := self.peek()) is not None and sep.text == ",":
                self.take(",")
            elif sep is None or sep.text != closing:
                msg = f"expected `,` or `{closing}` in an array"
                raise _Unreadable(msg)
        self.take(closing)
        return items

    def assignment(self, result: PhpAssignments) -> None:
        """``$name = value;``, ``$name['k'] = value;`` or ``$name[] = value;``."""
        name = self.take().text[1:]
        path: list[str | int | None] = []
        while (token := self.peek()) is not None and token.text == "[":
            self.take("[")
            if (end := self.peek()) is not None and end.text == "]":
                path.append(None)
            else:
                path.append(_key(self.value()))
            self.take("]")
        self.take("=")
        value = self.value()
        self.take(";")
        if not path:
            result.values[name] = value
            return
        target = result.values.get(name)
        if not isinstance(target, dict):
            target = {}
            result.values[name] = target
        for step in path[:-1]:
            key = _next_index(target) if step is None else step
            inner = target.get(key)
            if not isinstance(inner, dict):
                inner = {}
                target[key] = inner
            target = inner
        last = path[-1]
        target[_next_index(target) if last is None else last] = value


def _shown(token: _Token) -> str:
    """A token as a message may show it: punctuation and variable names as they are,
    anything else (a literal, a bare word) only by its kind, as it may be a key."""
    if token.kind in {"punct", "arrow", "variable"}:
        return f"`{token.text}`"
    return {"single": "a string", "double": "a string", "number": "a number"}.get(
        token.kind, "a bare word"
    )


def _number(text: str) -> int | float:
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("-")
    if digits.lower().startswith("0x"):
        return sign * int(digits, 16)
    if re.fullmatch(r"0[0-7]+", digits):  # PHP's octal literal
        return sign * int(digits, 8)
    if re.fullmatch(r"0\d+", digits):
        msg = f"`{text}` is an invalid octal number"
        raise _Unreadable(msg)
    if re.fullmatch(r"\d+", digits):
        return sign * int(digits)
    return sign * float(digits)


def _key(value: PhpValue) -> str | int:
    """An array key as PHP casts it: bools and integral floats become ints, decimal
    strings like "12" become 12, null becomes ""."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return int(value) if re.fullmatch(r"-?[1-9]\d*|0", value) else value
    msg = "an array is used as an array key"
    raise _Unreadable(msg)


def _next_index(items: dict[str | int, PhpValue]) -> int:
    ints = [k for k in items if isinstance(k, int)]
    return max(ints) + 1 if ints else 0


def parse_php_config(text: str) -> PhpAssignments:
    """Every assignment statement of ``text`` (the last one wins, as in PHP); any other
    statement (``define(…)``, ``include``, ``if``) is passed over, and an assignment we
    could not read is listed in :attr:`PhpAssignments.skipped`."""
    parser = _Parser(_tokens(text))
    result = PhpAssignments()
    statement_start = True
    while (token := parser.peek()) is not None:
        if token.kind == "variable" and statement_start:
            start = parser.at
            try:
                parser.assignment(result)
            except _Unreadable as err:
                result.skipped[token.text[1:]] = f"line {token.line}: {err}"
                parser.at = start
                parser.skip_statement()
            continue
        parser.at += 1  # any other statement, one token at a time
        statement_start = token.text in {";", "{", "}"}
    return result
