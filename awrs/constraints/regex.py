"""``awrs.Regex``: a pattern, compiled to a byte DFA when it is regular, else partial matching.

Semantics are those of the ``regex`` module's ``fullmatch`` (version 0) with the ASCII flag: ``\\d``,
``\\w``, ``\\s`` and ``\\b`` are ASCII classes, as in JSON Schema (ECMA-262) and every peer
library; ``.`` does not match a newline unless ``(?s)`` is given.

Engine choice (``engine="auto"``):

1. The pattern must compile with the ``regex`` module; otherwise :class:`ConstraintError`
   names the problem and its position.
2. If Python's own parser reads it and it uses only regular features (``^``/``$`` only at the
   very ends, where ``fullmatch`` makes them no-ops), ``interegular`` builds a character
   automaton and awrs expands it to a byte DFA: exact prefix checks, Numba masks.
3. Anything else — back-references, look-arounds, conditionals, atomic groups, possessive
   quantifiers, recursion, Unicode properties, ``\\b`` — uses :class:`PartialMatch`.

``Regex.engine`` says which was chosen and ``Regex.reason`` why.
"""

from __future__ import annotations

import functools
import warnings
from typing import Literal

import interegular
import numpy as np
import regex as regex_module

from awrs.constraints.base import Constraint, State
from awrs.constraints.dfa import ByteDFA, DFAConstraint, DFATooLarge, build_byte_dfa
from awrs.constraints.partial import PartialMatch
from awrs.constraints.utf8 import code_point_ranges, complement_ranges, utf8_sequences
from awrs.errors import ConstraintError
from awrs.lm.vocab import Vocabulary

try:  # Python >= 3.11
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

__all__ = ["Regex", "Engine"]

Engine = Literal["auto", "dfa", "partial"]

#: interegular represents a character class by listing its characters, so a class such as
#: [\u0080-\uffff] takes about a second; past this many code points the partial engine is
#: used instead (2048 code points compile in about 30 ms).
MAX_INTEREGULAR_CLASS_WIDTH = 2048
#: Character automata past this size (e.g. ``(?:\S+\s+){0,199}``) go to partial matching: their
#: byte DFAs take seconds to build for little gain over the regex module.
MAX_INTEREGULAR_STATES = 400

#: Operators of Python's regex parser that leave the regular languages (or, for anchors in
#: the middle of a pattern, that interegular does not model).
_NON_REGULAR = {
    sre_constants.GROUPREF: "a back-reference",
    sre_constants.GROUPREF_EXISTS: "a conditional group",
    sre_constants.ASSERT: "a look-around",
    sre_constants.ASSERT_NOT: "a negative look-around",
    sre_constants.AT: "an anchor or word boundary inside the pattern",
}
for _name, _what in (("ATOMIC_GROUP", "an atomic group"), ("POSSESSIVE_REPEAT", "a possessive quantifier")):
    if hasattr(sre_constants, _name):
        _NON_REGULAR[getattr(sre_constants, _name)] = _what


class Regex(Constraint):
    """Strings that fully match ``pattern`` (compile once; immutable and thread-safe)."""

    def __init__(self, pattern: str, *, engine: Engine = "auto"):
        if not isinstance(pattern, str):
            raise ConstraintError(f"a regex pattern must be a str, got {type(pattern).__name__}")
        if engine not in ("auto", "dfa", "partial"):
            raise ConstraintError(f"engine must be 'auto', 'dfa' or 'partial', got {engine!r}")
        self.pattern = pattern
        compiled = _compile_or_raise(pattern)
        parsed = _parse_like_re(pattern)
        if engine == "partial":
            dfa, reason = None, "engine='partial' was asked for"
        else:
            dfa, reason = _try_dfa(pattern, parsed, limit_size=engine == "auto")
        if dfa is None and engine == "dfa":
            raise ConstraintError(f"pattern {pattern!r} cannot be compiled to a DFA: {reason}")
        self.reason = reason
        if dfa is not None:
            self._impl: Constraint = DFAConstraint(dfa)
        else:
            self._impl = PartialMatch(compiled, allowed_bytes=None if isinstance(parsed, str) else _possible_bytes(parsed))
        self.engine: Literal["dfa", "partial"] = "dfa" if dfa is not None else "partial"

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r}, engine={self.engine!r})"

    @property
    def dfa(self) -> ByteDFA | None:
        """The byte DFA, when the DFA engine is used."""
        return self._impl.dfa if isinstance(self._impl, DFAConstraint) else None

    def initial(self) -> State:
        return self._impl.initial()

    def advance(self, state: State, data: bytes) -> State | None:
        return self._impl.advance(state, data)

    def is_complete(self, state: State) -> bool:
        return self._impl.is_complete(state)

    def mask(self, state: State, vocab: Vocabulary) -> np.ndarray:
        return self._impl.mask(state, vocab)

    def allowed_bytes(self) -> np.ndarray | None:
        return self._impl.allowed_bytes()


def _compile_or_raise(pattern: str):
    try:
        if _UNICODE_FEATURES.search(pattern):
            # The ASCII flag would also make \p{..} and POSIX classes ASCII-only: keep them
            # Unicode and spell the shorthand classes out as ASCII instead.
            return regex_module.compile(_ascii_shorthands(pattern), flags=regex_module.VERSION0)
        return regex_module.compile(pattern, flags=regex_module.ASCII | regex_module.VERSION0)
    except regex_module.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        pointer = f"\n  {pattern}\n  {' ' * exc.pos}^" if exc.pos is not None else ""
        raise ConstraintError(f"invalid regular expression{where}: {exc.msg}{pointer}") from None


def _parse_like_re(pattern: str):
    """Python's own parse of the pattern (a SubPattern), or the error message if it cannot read it."""
    try:
        with warnings.catch_warnings():  # e.g. "possible nested set": regex already accepted it
            warnings.simplefilter("ignore", FutureWarning)
            return sre_parse.parse(pattern, sre_constants.SRE_FLAG_ASCII)
    except (sre_constants.error, OverflowError, RecursionError) as exc:
        return str(exc)


_UNICODE_FEATURES = regex_module.compile(r"\\[pPN]")
_OUTSIDE = {"d": "[0-9]", "D": "[^0-9]", "w": "[A-Za-z0-9_]", "W": "[^A-Za-z0-9_]", "s": "[ \\t\\n\\r\\f\\v]", "S": "[^ \\t\\n\\r\\f\\v]"}
_INSIDE = {"d": "0-9", "w": "A-Za-z0-9_", "s": " \\t\\n\\r\\f\\v"}


def _ascii_shorthands(pattern: str) -> str:
    """\\d, \\w, \\s (and negations outside classes) written out as ASCII classes."""
    out, i, in_class, class_start = [], 0, False, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            table = _INSIDE if in_class else _OUTSIDE
            out.append(table.get(nxt, ch + nxt))
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class, class_start = True, i + 1 + (pattern[i + 1 : i + 2] == "^")
        elif ch == "]" and in_class and i > class_start:  # a "]" first in a class is literal
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


def _try_dfa(pattern: str, parsed, limit_size: bool = True) -> tuple[ByteDFA | None, str]:
    """A byte DFA for ``pattern`` and "regular", or None and why the DFA engine cannot be used."""
    if isinstance(parsed, str):
        return None, f"uses syntax only the regex module reads ({parsed})"
    if "[:" in pattern:
        # The regex module reads [[:alpha:]] as a POSIX class; Python's parser (and so
        # interegular) as a set of ':', 'a', 'l'...: keep the regex module's meaning.
        return None, "may use a POSIX character class, which only the regex module reads"
    body, why = _strip_edge_anchors(pattern, parsed)
    if why:
        return None, why
    if _explicit_class_width(parsed) > MAX_INTEREGULAR_CLASS_WIDTH:
        return None, f"has character ranges wider than {MAX_INTEREGULAR_CLASS_WIDTH} code points in all"
    if parsed.state.flags & sre_constants.SRE_FLAG_IGNORECASE and not pattern.isascii():
        return None, "is case-insensitive with non-ASCII characters"
    if parsed.state.flags & (sre_constants.SRE_FLAG_MULTILINE | sre_constants.SRE_FLAG_VERBOSE):
        return None, "uses the multiline or verbose flag"
    try:
        fsm = interegular.parse_pattern(_unicode_escapes_to_literals(body)).to_fsm()
    except (interegular.Unsupported, interegular.InvalidSyntax) as exc:
        return None, f"is not supported by interegular ({exc})"
    except Exception as exc:  # noqa: BLE001 - a third-party parser's failure only means "no DFA"
        return None, f"interegular failed ({type(exc).__name__}: {exc})"
    if limit_size and len(fsm.states) > MAX_INTEREGULAR_STATES:
        return None, f"its automaton has {len(fsm.states)} states (more than {MAX_INTEREGULAR_STATES})"
    try:
        return _fsm_to_dfa(fsm), "regular"
    except DFATooLarge as exc:
        return None, str(exc)
    except RecursionError:
        return None, "the automaton is too deep to build"


_UNICODE_ESCAPE = regex_module.compile(r"\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))|\\.", regex_module.DOTALL)
_SPECIAL = set("\\^$.|?*+()[]{}-#&~ ")


def _unicode_escapes_to_literals(pattern: str) -> str:
    """``\\uXXXX`` and ``\\UXXXXXXXX`` as the characters themselves (interegular reads
    neither); an escaped backslash stays as it is."""

    def replace(m) -> str:
        code = m.group(1) or m.group(2)
        if code is None:
            return m.group(0)
        ch = chr(int(code, 16))
        return "\\" + ch if ch in _SPECIAL else ch

    return _UNICODE_ESCAPE.sub(replace, pattern)


def _strip_edge_anchors(pattern: str, parsed) -> tuple[str, str]:
    """Drop a leading ``^``/``\\A`` and a trailing ``$``/``\\Z`` (no-ops under fullmatch);
    report any other non-regular operator."""
    items = list(parsed)
    body = pattern
    if items and items[0] == (sre_constants.AT, sre_constants.AT_BEGINNING) and body.startswith("^"):
        items, body = items[1:], body[1:]
    elif items and items[0] == (sre_constants.AT, sre_constants.AT_BEGINNING_STRING) and body.startswith("\\A"):
        items, body = items[1:], body[2:]
    if items and items[-1] == (sre_constants.AT, sre_constants.AT_END) and body.endswith("$"):
        items, body = items[:-1], body[:-1]
    elif items and items[-1] == (sre_constants.AT, sre_constants.AT_END_STRING) and body.endswith("\\Z"):
        items, body = items[:-1], body[:-2]
    found = _find_non_regular(items)
    return body, (f"uses {found}" if found else "")


def _possible_bytes(parsed) -> np.ndarray | None:
    """The bytes that can occur in a match, when Python's parse shows that only ASCII and the
    pattern's own non-ASCII characters can match; None when any character may (``.``,
    negated classes, ``\\W``...). Lets the sampler prune impossible tokens exactly."""
    if parsed.state.flags & sre_constants.SRE_FLAG_IGNORECASE and _has_non_ascii_literal(list(parsed)):
        return None
    ranges = _non_ascii_ranges(list(parsed))
    if ranges is None:
        return None
    allowed = np.zeros(256, dtype=np.bool_)
    allowed[:128] = True
    for lo, hi in ranges:
        for seq in utf8_sequences(lo, hi):
            for blo, bhi in seq:
                allowed[blo : bhi + 1] = True
    return allowed


_ANY_CHARACTER_CATEGORIES = {
    sre_constants.CATEGORY_NOT_DIGIT,
    sre_constants.CATEGORY_NOT_WORD,
    sre_constants.CATEGORY_NOT_SPACE,
    sre_constants.CATEGORY_NOT_LINEBREAK,
}


def _non_ascii_ranges(items) -> list[tuple[int, int]] | None:
    out: list[tuple[int, int]] = []
    for op, av in items:
        if op in (sre_constants.ANY, sre_constants.NOT_LITERAL):
            return None
        if op == sre_constants.LITERAL and av >= 128:
            out.append((av, av))
        if op == sre_constants.IN:
            for kind, arg in av:
                if kind == sre_constants.NEGATE or (kind == sre_constants.CATEGORY and arg in _ANY_CHARACTER_CATEGORIES):
                    return None
                if kind == sre_constants.LITERAL and arg >= 128:
                    out.append((arg, arg))
                if kind == sre_constants.RANGE and arg[1] >= 128:
                    out.append((max(arg[0], 128), arg[1]))
        for sub in _children(op, av):
            found = _non_ascii_ranges(sub)
            if found is None:
                return None
            out.extend(found)
    return out


def _has_non_ascii_literal(items) -> bool:
    ranges = _non_ascii_ranges(items)
    return ranges is None or bool(ranges)


def _explicit_class_width(items) -> int:
    """How many distinct code points the pattern's explicit ranges cover (interegular lists
    each of them in its alphabet)."""
    ranges: list[tuple[int, int]] = []
    _collect_ranges(items, ranges)
    width, end = 0, -1
    for lo, hi in sorted(ranges):
        if hi > end:
            width += hi - max(lo, end + 1) + 1
            end = hi
    return width


def _collect_ranges(items, out: list[tuple[int, int]]) -> None:
    for op, av in items:
        if op == sre_constants.IN:
            out.extend(arg for kind, arg in av if kind == sre_constants.RANGE)
        for sub in _children(op, av):
            _collect_ranges(sub, out)


def _find_non_regular(items) -> str | None:
    for op, av in items:
        if op in _NON_REGULAR:
            return _NON_REGULAR[op]
        for sub in _children(op, av):
            found = _find_non_regular(sub)
            if found:
                return found
    return None


def _children(op, av):
    if op == sre_constants.BRANCH:
        return av[1]
    if op == sre_constants.SUBPATTERN:
        return [av[-1]]
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) or op == getattr(sre_constants, "POSSESSIVE_REPEAT", None):
        return [av[2]]
    if op == getattr(sre_constants, "ATOMIC_GROUP", None):
        return [av]
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [av[1]]
    return []


def _fsm_to_dfa(fsm) -> ByteDFA:
    """interegular's character FSM -> awrs's byte DFA."""
    return build_byte_dfa(*_fsm_to_char_automaton(fsm))


@functools.lru_cache(maxsize=4096)
def char_automaton(pattern: str):
    """``(n_states, initial, finals, transitions)`` of a regular pattern, for building combined
    automata (the grammar lexer). Raises ConstraintError when the pattern is not regular.

    Memoised (the result is immutable): grammars restricted to different schemas share most
    of their terminals, so only the new ones are built (SQL(schema) for a second schema)."""
    _compile_or_raise(pattern)
    try:
        fsm = interegular.parse_pattern(_unicode_escapes_to_literals(pattern)).to_fsm()
    except Exception as exc:  # noqa: BLE001 - interegular's failure means "not regular for us"
        raise ConstraintError(f"pattern {pattern!r} is not a regular expression awrs can compile: {exc}") from None
    return _fsm_to_char_automaton(fsm)


def _fsm_to_char_automaton(fsm):
    states = sorted(fsm.states)
    number = {s: i for i, s in enumerate(states)}
    explicit = [c for c in fsm.alphabet._symbol_mapping if isinstance(c, str)]
    by_symbol: dict[int, list[tuple[int, int]]] = {}
    for symbol, chars in fsm.alphabet.by_transition.items():
        plain = [c for c in chars if isinstance(c, str)]
        ranges = code_point_ranges(plain)
        if len(plain) != len(chars):  # the symbol includes anything_else
            ranges = sorted(ranges + complement_ranges(code_point_ranges(explicit)))
        by_symbol[symbol] = ranges
    transitions = [
        (number[src], by_symbol[symbol], number[dst])
        for src, moves in fsm.map.items()
        for symbol, dst in moves.items()
    ]
    return len(states), number[fsm.initial], tuple(number[s] for s in fsm.finals), tuple(transitions)
