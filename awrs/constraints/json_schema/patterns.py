"""The regular expressions of a string schema — ``pattern``, ``patternProperties`` and the
pattern-like formats — checked when the schema compiles and built into automata the first
time generation needs them (most strings of a big schema are never generated).
"""

from __future__ import annotations

import functools
from typing import Any

from awrs.automata.dfa import ByteDFA, DFATooLarge
from awrs.automata.product import intersect
from awrs.constraints.json_schema.formats import FINAL_CHECKS, FORMATS, format_dfa
from awrs.constraints.regex.syntax import parses_exactly
from awrs.errors import ConstraintError

__all__ = ["NameSearch", "check_pattern", "check_regex", "search_pattern", "string_automata"]


def check_pattern(pattern: Any, pointer: str) -> None:
    """A pattern must be a valid regular expression (checked now; its automaton is built later)."""
    if not isinstance(pattern, str):
        raise ConstraintError(f"invalid pattern at {pointer}: expected a string")
    check_regex(search_pattern(pattern), pattern, f"{pointer}/pattern")


def check_regex(full: str, pattern: str, pointer: str) -> None:
    """Raise a ConstraintError naming ``pattern`` and where it is unless ``full`` (the pattern
    as awrs matches it) is a valid regular expression."""
    error = _regex_error(full)
    if error is not None:
        raise ConstraintError(f"invalid pattern {pattern!r} at {pointer}: {error}")


@functools.lru_cache(maxsize=1024)
def _regex_error(full: str) -> str | None:
    """Why ``full`` is not a valid regular expression, or None. awrs's own reader answers for
    most patterns; the regex module's compile (several times slower, the one awrs.Regex uses)
    for the rest. Memoised: schemas repeat their patterns (a uuid or a date in many places),
    and reading one costs a compile tens of microseconds."""
    from awrs.constraints.regex import ECMA_262, compile_pattern

    if parses_exactly(full):
        return None
    try:
        compile_pattern(full, ECMA_262)
    except ConstraintError as exc:
        return str(exc)
    return None


def string_automata(pattern: str | None, fmt: str | None):
    """(dfa, partial patterns, final checks) for a pattern and a format, built on first use."""
    from awrs.constraints.regex import ECMA_262, Regex

    dfa: Any = None
    partial: list[Any] = []
    checks: list[Any] = []
    if pattern is not None:
        rx = Regex(search_pattern(pattern), ECMA_262)
        if rx.dfa is not None:
            dfa = rx.dfa
        else:  # not regular, or a DFA too large to build whole
            partial.append(rx.compiled)
    if fmt is not None:
        if fmt in FINAL_CHECKS:
            checks.append(FINAL_CHECKS[fmt])
        if dfa is None:
            dfa = format_dfa(fmt)
        else:
            try:
                dfa = intersect(dfa, format_dfa(fmt))
            except DFATooLarge:
                checks.append(_full_match(FORMATS[fmt]))
            except ConstraintError:  # the pattern and the format exclude each other
                dfa = ByteDFA.nothing()
    return dfa, partial, checks


def search_pattern(pattern: str) -> str:
    """A JSON Schema ``pattern`` (found anywhere in the string) as a full-match pattern."""
    anchored_start = pattern.startswith("^")
    anchored_end = pattern.endswith("$") and not pattern.endswith("\\$")
    if "|" in pattern and not (anchored_start and anchored_end and _single_branch(pattern)):
        return r"[\s\S]*(?:" + pattern + r")[\s\S]*"
    head = "" if anchored_start else r"[\s\S]*"
    tail = "" if anchored_end else r"[\s\S]*"
    return head + pattern + tail


def _single_branch(pattern: str) -> bool:
    """True when the pattern's alternations are all inside groups."""
    depth, escaped, in_class = 0, False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return False
    return True


class NameSearch:
    """A ``patternProperties`` pattern searched in property names, compiled by the regex module
    the first time a name is looked up (compiling a schema only checks that it is valid)."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str):
        self.pattern = pattern
        self._compiled: Any = None

    def search(self, name: str) -> Any:
        if self._compiled is None:
            from awrs.constraints.regex import ECMA_262, compile_pattern

            self._compiled = compile_pattern(self.pattern, ECMA_262)
        return self._compiled.search(name)


def _full_match(pattern: str):
    """An exact check of a whole string against a pattern (used when two DFAs are too large to
    intersect: the prefix check then follows only one of them)."""
    from awrs.constraints.regex import ECMA_262, compile_pattern

    compiled = compile_pattern(pattern, ECMA_262)
    return lambda text: compiled.fullmatch(text) is not None
