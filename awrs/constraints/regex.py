"""``awrs.Regex``: a pattern, compiled to a byte DFA when it is regular, else partial matching.

Semantics are those of the ``regex`` module's ``fullmatch`` (version 0) with the ASCII flag: ``\\d``,
``\\w``, ``\\s`` and ``\\b`` are ASCII classes, as in JSON Schema (ECMA-262) and every peer
library; ``.`` does not match a newline unless ``(?s)`` is given.

Engine choice (``engine="auto"``):

1. The pattern must compile with the ``regex`` module; otherwise :class:`ConstraintError`
   names the problem and its position.
2. awrs reads the pattern (:mod:`awrs.constraints.regex_syntax`) into a character automaton.
   When the reading is exact — only regular features, ``^``/``$`` only at the very ends where
   ``fullmatch`` makes them no-ops — it is expanded to a byte DFA: exact prefix checks, Numba
   masks.
3. Anything else — back-references, look-arounds, conditionals, atomic groups, possessive
   quantifiers, recursion, Unicode properties, ``\\b`` — uses :class:`PartialMatch`, guarded
   by the byte DFA of the reading's regular *envelope* (a superset of the language): texts the
   envelope refuses are refused without the regex module, and the sampler prunes, from each
   state, the tokens the envelope refuses.

``Regex.engine`` says which was chosen and ``Regex.reason`` why.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
import regex as regex_module

from awrs.constraints.base import Constraint, State
from awrs.constraints.dfa import ByteDFA, DFAConstraint, DFATooLarge, build_byte_dfa
from awrs.constraints.partial import PartialMatch
from awrs.constraints.regex_automaton import Reading, read
from awrs.constraints.regex_syntax import UnsupportedSyntax, ascii_shorthands
from awrs.errors import ConstraintError
from awrs.lm.vocab import Vocabulary

__all__ = ["Regex", "Engine"]

Engine = Literal["auto", "dfa", "partial"]


class Regex(Constraint):
    """Strings that fully match ``pattern`` (compile once; immutable and thread-safe)."""

    def __init__(self, pattern: str, *, engine: Engine = "auto"):
        if not isinstance(pattern, str):
            raise ConstraintError(f"a regex pattern must be a str, got {type(pattern).__name__}")
        if engine not in ("auto", "dfa", "partial"):
            raise ConstraintError(f"engine must be 'auto', 'dfa' or 'partial', got {engine!r}")
        self.pattern = pattern
        reading = _read(pattern)
        dfa, reason = None, "engine='partial' was asked for"
        if engine != "partial":
            dfa, reason = _exact_dfa(reading, limit_size=engine == "auto")
        if dfa is None:
            # The regex module validates every pattern awrs does not read exactly (a pattern read
            # exactly is valid: the reader refuses what the module refuses, a fuzz test checks it)
            # and checks the ones that are not regular.
            compiled = _compile_or_raise(pattern)
        if dfa is None and engine == "dfa":
            raise ConstraintError(f"pattern {pattern!r} cannot be compiled to a DFA: {reason}")
        self.reason = reason
        if dfa is not None:
            self._impl: Constraint = DFAConstraint(dfa)
        else:
            self._impl = PartialMatch(compiled, envelope=_envelope(pattern, reading))
        self.engine: Literal["dfa", "partial"] = "dfa" if dfa is not None else "partial"

    def __repr__(self) -> str:
        return f"Regex({self.pattern!r}, engine={self.engine!r})"

    @property
    def dfa(self) -> ByteDFA | None:
        """The byte DFA, when the DFA engine is used."""
        return self._impl.dfa if isinstance(self._impl, DFAConstraint) else None

    @property
    def envelope(self) -> ByteDFA | None:
        """For the partial engine: the byte DFA of a regular superset of the pattern's language
        (see :mod:`awrs.constraints.regex_syntax`), or None when none could be built."""
        return self._impl.envelope if isinstance(self._impl, PartialMatch) else None

    def initial(self) -> State:
        return self._impl.initial()

    def advance(self, state: State, data: bytes) -> State | None:
        return self._impl.advance(state, data)

    def is_complete(self, state: State) -> bool:
        return self._impl.is_complete(state)

    def mask(self, state: State, vocab: Vocabulary) -> np.ndarray:
        return self._impl.mask(state, vocab)

    def impossible_tokens(self, state: State, vocab: Vocabulary) -> np.ndarray | None:
        return self._impl.impossible_tokens(state, vocab)

    def next_bytes(self, state: State) -> np.ndarray | None:
        return self._impl.next_bytes(state)

    def allowed_bytes(self) -> np.ndarray | None:
        return self._impl.allowed_bytes()


def _unicode_mode(pattern: str) -> bool:
    """Patterns with \\p, \\P or \\N are compiled without the ASCII flag (see below)."""
    return _UNICODE_FEATURES.search(pattern) is not None


def _read(pattern: str, **options) -> Reading | str:
    """awrs's reading of the pattern, or why it has none."""
    try:
        return read(pattern, unicode=_unicode_mode(pattern), **options)
    except UnsupportedSyntax as exc:
        return f"uses syntax awrs does not model ({exc})"
    except RecursionError:
        return "is nested too deeply to read"
    except (IndexError, ValueError) as exc:  # a malformed pattern the regex module will name
        return f"could not be read ({type(exc).__name__})"


#: Automatic engine choice: character automata past this size (e.g. ``(?:\\S+\\s+){0,199}``, 3,600
#: byte-DFA states in 0.5 s) go to partial matching, guarded by a coarser envelope.
MAX_AUTO_STATES = 400


def _exact_dfa(reading: Reading | str, limit_size: bool) -> tuple[ByteDFA | None, str]:
    """A byte DFA for the pattern and "regular", or None and why the DFA engine cannot be used."""
    if isinstance(reading, str):
        return None, reading
    if not reading.exact:
        return None, "uses " + ", ".join(reading.approximations)
    n_states = reading.automaton[0]
    if limit_size and n_states > MAX_AUTO_STATES:
        return None, f"its automaton has {n_states} states (more than {MAX_AUTO_STATES}; engine='dfa' builds it anyway)"
    try:
        return build_byte_dfa(*reading.automaton), "regular"
    except DFATooLarge as exc:
        return None, str(exc)


#: When the reading's own envelope is too large, one coarser reading is tried: references match
#: any string of their group's characters and repeats above 8 are unbounded.
_COARSE = {"max_ref_depth": 0, "max_repeat": 8}
#: An envelope only prunes: past this many states it is not worth its build time (a 2,500-state
#: envelope of a recursive JSON pattern took 0.6 s).
MAX_ENVELOPE_STATES = 500


def _envelope(pattern: str, reading: Reading | str) -> ByteDFA | None:
    """The byte DFA of a regular superset of the pattern's language, or None.

    The reading the engine choice made serves first (unless it is exact: a regular pattern too
    large for the DFA engine, whose envelope would be as large). Raises ConstraintError when
    the superset is empty (then so is the pattern's language)."""
    if not isinstance(reading, str) and not reading.exact:
        found = _envelope_dfa(reading)
        if found is not None:
            return found
    coarse = _read(pattern, **_COARSE)
    if isinstance(coarse, str) or coarse.exact:  # nothing coarser to build
        return None
    return _envelope_dfa(coarse)


def _envelope_dfa(reading: Reading) -> ByteDFA | None:
    try:
        return build_byte_dfa(*reading.automaton, max_states=MAX_ENVELOPE_STATES)
    except DFATooLarge:
        return None


def _compile_or_raise(pattern: str):
    try:
        if _UNICODE_FEATURES.search(pattern):
            # The ASCII flag would also make \p{..} and POSIX classes ASCII-only: keep them
            # Unicode and spell the shorthand classes out as ASCII instead.
            return regex_module.compile(ascii_shorthands(pattern), flags=regex_module.VERSION0)
        return regex_module.compile(pattern, flags=regex_module.ASCII | regex_module.VERSION0)
    except regex_module.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        pointer = f"\n  {pattern}\n  {' ' * exc.pos}^" if exc.pos is not None else ""
        raise ConstraintError(f"invalid regular expression{where}: {exc.msg}{pointer}") from None
    except ValueError as exc:  # e.g. inline flags that clash with awrs's: (?V1), (?L)
        raise ConstraintError(
            f"the regex module cannot compile {pattern!r} ({exc}); awrs matches with the regex module's "
            "version 0 and ASCII classes, so inline flags such as (?V1) or (?L) cannot be used"
        ) from None


_UNICODE_FEATURES = regex_module.compile(r"\\[pPN]")


@functools.lru_cache(maxsize=4096)
def char_automaton(pattern: str):
    """``(n_states, initial, finals, transitions)`` of a regular pattern, for building combined
    automata (the grammar lexer). Raises ConstraintError when the pattern is not regular.

    Memoised (the result is immutable): grammars restricted to different schemas share most
    of their terminals, so only the new ones are built (SQL(schema) for a second schema)."""
    _compile_or_raise(pattern)
    reading = _read(pattern)
    if isinstance(reading, str) or not reading.exact:
        why = reading if isinstance(reading, str) else "uses " + ", ".join(reading.approximations)
        raise ConstraintError(f"pattern {pattern!r} is not a regular expression awrs can compile: it {why}")
    return reading.automaton
