"""The digit patterns of phonenumbers' metadata as automata, to reason about every number at once.

phonenumbers decides one number at a time with Python regular expressions. To turn its
decisions into ranges of numbers (pipelines.number_ranges), a pattern must be stepped digit by
digit, which `re` cannot do. The metadata's patterns use a small part of the syntax: digits,
`\\d`, classes such as `[1-35-9]`, groups `(…)` and `(?:…)`, `|`, and the quantifiers `?`, `*`,
`+`, `{n}`, `{n,}` and `{n,m}`. `DigitPattern` parses exactly that part, refuses anything else
(lazy quantifiers, other scripts' digits, empty or reversed classes among them), and runs as a
nondeterministic automaton over the digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DIGITS = frozenset(range(10))
ASCII_DIGITS = "0123456789"  # str.isdigit also takes other scripts' digits
QUANTIFIERS = "?*+{"
# a state set: the automaton's states after the digits read so far
States = frozenset[int]


class PatternSyntaxError(ValueError):
    """A pattern uses syntax outside the part of regular expressions this module reads."""


@dataclass(frozen=True)
class _Digits:
    digits: frozenset[int]


@dataclass(frozen=True)
class _Sequence:
    parts: tuple[_Node, ...]


@dataclass(frozen=True)
class _Choice:
    options: tuple[_Node, ...]


@dataclass(frozen=True)
class _Repeat:
    node: _Node
    least: int
    most: int | None  # None: no bound


_Node = _Digits | _Sequence | _Choice | _Repeat


class _Parser:
    def __init__(self, pattern: str, ignore_end_anchors: bool) -> None:
        self.pattern = pattern
        self.at = 0
        self.ignore_end_anchors = ignore_end_anchors

    def parse(self) -> _Node:
        node = self._choice()
        if self.at != len(self.pattern):
            self._refuse("an unmatched ')'")
        return node

    def _peek(self) -> str:
        return self.pattern[self.at] if self.at < len(self.pattern) else ""

    def _refuse(self, what: str) -> None:
        raise PatternSyntaxError(f"{self.pattern!r}: {what} at {self.at}")

    def _choice(self) -> _Node:
        options = [self._sequence()]
        while self._peek() == "|":
            self.at += 1
            options.append(self._sequence())
        return options[0] if len(options) == 1 else _Choice(tuple(options))

    def _sequence(self) -> _Node:
        parts: list[_Node] = []
        while self._peek() not in ("", "|", ")"):
            atom = self._atom()
            if atom is not None:
                parts.append(self._quantified(atom))
        return parts[0] if len(parts) == 1 else _Sequence(tuple(parts))

    def _atom(self) -> _Node | None:
        char = self._peek()
        self.at += 1
        if char and char in ASCII_DIGITS:
            return _Digits(frozenset({int(char)}))
        if char == "\\" and self._peek() == "d":
            self.at += 1
            return _Digits(DIGITS)
        if char == "[":
            return self._class()
        if char == "(":
            if self.pattern.startswith("?:", self.at):
                self.at += 2
            node = self._choice()
            if self._peek() != ")":
                self._refuse("a '(' never closed")
            self.at += 1
            return node
        if char == "$" and self.ignore_end_anchors:
            return None
        self.at -= 1
        self._refuse(f"{char!r} is not supported")
        raise AssertionError  # unreachable: _refuse raises

    def _class(self) -> _Node:
        digits: set[int] = set()
        while self._peek() != "]":
            low = self._peek()
            if not low or low not in ASCII_DIGITS:
                self._refuse("a class holds only digits and ranges of digits")
            self.at += 1
            high = low
            if self._peek() == "-":
                high = self.pattern[self.at + 1 : self.at + 2]
                if not high or high not in ASCII_DIGITS or high < low:
                    self._refuse("a range runs from a digit up to a digit")
                self.at += 2
            digits.update(range(int(low), int(high) + 1))
        if not digits:
            self._refuse("an empty class")
        self.at += 1
        return _Digits(frozenset(digits))

    def _quantified(self, node: _Node) -> _Node:
        char = self._peek()
        if char == "?":
            node = _Repeat(node, 0, 1)
        elif char == "*":
            node = _Repeat(node, 0, None)
        elif char == "+":
            node = _Repeat(node, 1, None)
        elif char == "{":
            bounds = re.match(r"\{([0-9]+)(,([0-9]*))?\}", self.pattern[self.at :])
            if not bounds:
                self._refuse("a repeat is {n}, {n,} or {n,m}")
                raise AssertionError  # unreachable: _refuse raises
            least, comma, most = bounds.groups()
            upper = int(most) if most else None if comma else int(least)
            if upper is not None and upper < int(least):
                self._refuse("a repeat's bounds are in order")
            self.at += bounds.end() - 1
            node = _Repeat(node, int(least), upper)
        else:
            return node
        self.at += 1
        if self._peek() and self._peek() in QUANTIFIERS:
            # `x{2}?` is lazy in re, `x??` too: a second quantifier is not read as a repeat
            self._refuse("a quantifier after a quantifier")
        return node


@dataclass
class DigitPattern:
    """A pattern as an automaton: `start`, then `step` one digit at a time.

    `accepts(states)` says whether the digits read so far match the whole pattern.
    """

    pattern: str
    _moves: list[list[tuple[frozenset[int], int]]] = field(default_factory=list)
    _empty: list[list[int]] = field(default_factory=list)
    _accept: int = 0
    _steps: dict[tuple[States, int], States] = field(default_factory=dict)
    start: States = frozenset()

    @classmethod
    def compile(cls, pattern: str, ignore_end_anchors: bool = False) -> DigitPattern:
        """`ignore_end_anchors` reads `$` as nothing, which widens what the pattern matches."""
        automaton = cls(pattern)
        first = automaton._state()
        automaton._accept = automaton._build(_Parser(pattern, ignore_end_anchors).parse(), first)
        automaton.start = automaton._closure({first})
        return automaton

    def step(self, states: States, digit: int) -> States:
        key = (states, digit)
        found = self._steps.get(key)
        if found is None:
            reached = {
                target
                for state in states
                for digits, target in self._moves[state]
                if digit in digits
            }
            found = self._steps[key] = self._closure(reached)
        return found

    def accepts(self, states: States) -> bool:
        return self._accept in states

    def matches(self, digits: str) -> bool:
        """Whether the whole of `digits` matches, like `re.fullmatch`."""
        states = self.start
        for char in digits:
            states = self.step(states, int(char))
        return self.accepts(states)

    def _state(self) -> int:
        self._moves.append([])
        self._empty.append([])
        return len(self._moves) - 1

    def _closure(self, states: set[int]) -> States:
        seen = set(states)
        pending = list(states)
        while pending:
            for target in self._empty[pending.pop()]:
                if target not in seen:
                    seen.add(target)
                    pending.append(target)
        return frozenset(seen)

    def _build(self, node: _Node, entry: int) -> int:
        """Add `node` after state `entry`; returns the state where it ends."""
        if isinstance(node, _Digits):
            end = self._state()
            self._moves[entry].append((node.digits, end))
            return end
        if isinstance(node, _Sequence):
            for part in node.parts:
                entry = self._build(part, entry)
            return entry
        if isinstance(node, _Choice):
            end = self._state()
            for option in node.options:
                self._empty[self._build(option, entry)].append(end)
            return end
        for _ in range(node.least):
            entry = self._build(node.node, entry)
        if node.most is None:
            loop = self._state()
            self._empty[entry].append(loop)
            self._empty[self._build(node.node, loop)].append(loop)
            return loop
        end = self._state()
        self._empty[entry].append(end)
        for _ in range(node.most - node.least):
            entry = self._build(node.node, entry)
            self._empty[entry].append(end)
        return end
