r"""``awrs.Regex``: a pattern, checked by a byte DFA when it is regular, else partial matching.

Semantics: what Python's ``re`` means by the same pattern and flags, as the ``regex`` module
(version 0) implements it, under ``fullmatch``:

- Unicode by default: ``\d``, ``\w``, ``\s``, ``\b`` and ignore-case cover all of Unicode;
  ``flags=re.ASCII`` (or a leading ``(?a)``) makes them ASCII (ignore-case then pairs ASCII
  letters only), while ``\p{..}`` keeps its Unicode meaning. JSON Schema's ``pattern`` uses
  ASCII mode (ECMA-262's classes).
- ``re.IGNORECASE``, ``re.DOTALL``, ``re.MULTILINE``, ``re.VERBOSE`` and ``re.UNICODE`` are
  honoured, as arguments or inline.
- The character tables are the regex module's (Unicode's definition of ``\w``, which takes
  combining marks; ``re`` takes ``str.isalnum()``): docs/constraints.md gives the counts.

Engine choice (``engine="auto"``):

1. Nesting past :data:`~awrs.constraints.regex.syntax.MAX_NESTING` groups, or a pattern the
   ``regex`` module refuses, is a :class:`ConstraintError` naming the problem and where.
2. awrs reads the pattern (:mod:`awrs.constraints.regex.syntax`) into a character automaton.
   When the reading is exact — only regular features, ``^``/``$`` only at the very ends where
   ``fullmatch`` makes them no-ops — it is a DFA: built whole (Numba masks) up to
   :data:`EAGER_DFA_STATES` states, else made lazily, state by state as checks reach them
   (:class:`~awrs.constraints.regex.lazy_dfa.LazyDFA`). A regular pattern never backtracks.
3. Anything else — back-references, look-arounds, conditionals, atomic groups, possessive
   quantifiers, recursion, ``\b`` — uses :class:`PartialMatch`, guarded by the byte DFA of the
   reading's regular *envelope* (a superset of the language): texts the envelope refuses are
   refused without the regex module, and the sampler prunes, from each state, the tokens the
   envelope refuses.

``Regex.engine`` says which was chosen and ``Regex.reason`` why.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Literal

import regex as regex_module

from awrs.automata.dfa import MAX_DFA_STATES, ByteDFA, DFATooLarge, build_byte_dfa
from awrs.constraints.base import Constraint, Delegating
from awrs.constraints.dfa import DFAConstraint
from awrs.constraints.regex.automaton import Reading, read_parsed
from awrs.constraints.regex.classes import class_text
from awrs.constraints.regex.lazy_dfa import LazyDFA
from awrs.constraints.regex.partial import PartialMatch
from awrs.constraints.regex.syntax import MAX_NESTING, Parsed, nesting_depth, parse
from awrs.constraints.regex.tree import UnsupportedSyntax
from awrs.errors import ConstraintError, EmptyLanguageError

__all__ = ["ECMA_262", "Engine", "Regex", "char_automaton", "compile_pattern"]

Engine = Literal["auto", "dfa", "partial"]

#: The flags of JSON Schema's ``pattern`` (ECMA-262 semantics): ASCII ``\d \w \s \b`` and
#: ignore-case, Unicode ``\p{..}``.
ECMA_262 = re.ASCII

#: The ``re`` flags awrs honours (``re.ASCII`` and ``re.UNICODE`` choose the mode).
_SUPPORTED_FLAGS = int(re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.ASCII | re.UNICODE)
#: The regex module numbers some flags differently (its ASCII is re's DEBUG; re's ASCII is its
#: VERSION1): a ``regex.RegexFlag`` or a compiled regex pattern's flags are translated.
_FROM_REGEX_MODULE = {
    regex_module.IGNORECASE: re.IGNORECASE,
    regex_module.MULTILINE: re.MULTILINE,
    regex_module.DOTALL: re.DOTALL,
    regex_module.VERBOSE: re.VERBOSE,
    regex_module.ASCII: re.ASCII,
    regex_module.UNICODE: re.UNICODE,
    regex_module.VERSION0: 0,
}
_LETTERS = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s", re.VERBOSE: "x"}
#: An inline flag group that turns on the ASCII flag (it may make the whole pattern ASCII).
_INLINE_ASCII = re.compile(r"\(\?[a-zA-Z0-9]*a[a-zA-Z0-9]*(?:-[a-zA-Z]*)?[):]")


class Regex(Delegating):
    """Strings that fully match ``pattern`` (compile once; immutable and thread-safe).

    ``pattern`` is a str, or a pattern compiled by ``re`` or ``regex`` (its flags are added
    to ``flags``); ``flags`` combines ``re.IGNORECASE``, ``re.MULTILINE``, ``re.DOTALL``,
    ``re.VERBOSE``, ``re.ASCII`` and ``re.UNICODE``. Raises :class:`ConstraintError` for an
    invalid pattern, unsupported flags, or an empty language."""

    def __init__(self, pattern: str | Any, flags: int = 0, *, engine: Engine = "auto"):
        pattern, flags = _pattern_and_flags(pattern, flags)
        if engine not in ("auto", "dfa", "partial"):
            raise ConstraintError(f"engine must be 'auto', 'dfa' or 'partial', got {engine!r}")
        self.pattern = pattern
        self.flags = flags
        _check_nesting(pattern)
        parsed, reading = _read(pattern, flags)
        impl, reason = None, "engine='partial' was asked for"
        if engine != "partial":
            impl, reason = _automaton_engine(pattern, reading)
        if impl is None and engine == "dfa":
            compile_pattern(pattern, flags)  # an invalid pattern is named as such
            raise ConstraintError(f"pattern {pattern!r} cannot be compiled to a DFA: {reason}")
        if impl is None:
            # The regex module validates every pattern awrs does not read exactly (a pattern read
            # exactly is valid: the reader refuses what the module refuses, a fuzz test checks it)
            # and checks the ones that are not regular.
            compiled = compile_pattern(pattern, flags, parsed)
            recursive = not isinstance(reading, str) and "recursion" in reading.approximations
            impl = PartialMatch(compiled, envelope=_envelope(pattern, flags, parsed, reading), recursive=recursive)
        self.reason = reason
        self._impl: Constraint = impl
        self.engine: Literal["dfa", "partial"] = "partial" if isinstance(impl, PartialMatch) else "dfa"

    def __repr__(self) -> str:
        flags = f", flags={re.RegexFlag(self.flags)!r}" if self.flags else ""
        return f"Regex({self.pattern!r}{flags}, engine={self.engine!r})"

    @property
    def dfa(self) -> ByteDFA | None:
        """The byte DFA, when the DFA engine built it whole (None when it is made lazily)."""
        return self._impl.dfa if isinstance(self._impl, DFAConstraint) else None

    @property
    def envelope(self) -> ByteDFA | None:
        """For the partial engine: the byte DFA of a regular superset of the pattern's language
        (see :mod:`awrs.constraints.regex.syntax`), or None when none could be built."""
        return self._impl.envelope if isinstance(self._impl, PartialMatch) else None

    @property
    def compiled(self) -> Any:
        """The ``regex`` module's pattern object with awrs's semantics (for full matches)."""
        if isinstance(self._impl, PartialMatch):
            return self._impl.compiled
        return compile_pattern(self.pattern, self.flags)


# --- the pattern and its flags ---------------------------------------------------------------


def _pattern_and_flags(pattern: Any, flags: Any) -> tuple[str, int]:
    """The pattern as a str and its flags as ``re`` flags, validated (ConstraintError)."""
    if isinstance(flags, bool) or not isinstance(flags, int):
        raise ConstraintError(f"flags must be an int combining re flags, got {type(flags).__name__}")
    flags = _re_flags(flags, isinstance(flags, regex_module.RegexFlag))
    if isinstance(pattern, re.Pattern):
        flags |= _re_flags(pattern.flags, False)
        pattern = pattern.pattern
    elif isinstance(pattern, regex_module.Pattern):
        flags |= _re_flags(pattern.flags, True)
        pattern = pattern.pattern
    if not isinstance(pattern, str):
        raise ConstraintError(f"a regex pattern must be a str, got {type(pattern).__name__}")
    if flags & re.ASCII and flags & re.UNICODE:
        raise ConstraintError("flags: re.ASCII and re.UNICODE exclude each other; pass one")
    return pattern, flags & ~re.UNICODE  # Unicode is the default


def _re_flags(flags: int, from_regex_module: bool) -> int:
    if from_regex_module:
        out = 0
        for bit, meaning in _FROM_REGEX_MODULE.items():
            if flags & bit:
                out |= meaning
                flags &= ~bit
        if flags:
            raise ConstraintError(
                f"flags: awrs cannot honour {regex_module.RegexFlag(flags)!r}; it matches with the regex module's version 0 and the flags of re"
            )
        return out
    unsupported = flags & ~_SUPPORTED_FLAGS
    if unsupported:
        raise ConstraintError(
            f"flags: awrs cannot honour {unsupported!r} ({re.RegexFlag(unsupported)!r}); combine re.IGNORECASE, re.MULTILINE, "
            "re.DOTALL, re.VERBOSE, re.ASCII and re.UNICODE (the re module's flags)"
        )
    return flags


def _ascii_mode(pattern: str, flags: int) -> bool:
    """ASCII mode: re.ASCII, or an inline ``(?a)`` the regex module makes global (one at the
    top level, anywhere). Only a pattern that spells an inline ``a`` flag is compiled to tell."""
    if flags & re.ASCII:
        return True
    if _INLINE_ASCII.search(pattern) is None:
        return False
    try:
        return bool(regex_module.compile(pattern, flags=regex_module.VERSION0).flags & regex_module.ASCII)
    except (regex_module.error, ValueError, RecursionError):  # invalid: the compile proper says why
        return False


def _letters(flags: int) -> str:
    return "".join(letter for bit, letter in _LETTERS.items() if flags & bit)


def _check_nesting(pattern: str) -> None:
    depth = nesting_depth(pattern)
    if depth > MAX_NESTING:
        raise ConstraintError(
            f"the pattern nests groups {depth} deep; awrs reads patterns nested at most {MAX_NESTING} deep "
            "(the regex module's compiler recurses on nesting): flatten the groups"
        )


# --- reading and the engines -----------------------------------------------------------------


def _read(pattern: str, flags: int, **options) -> tuple[Parsed | None, Reading | str]:
    """awrs's parse and reading of the pattern, or why it has none."""
    try:
        parsed = parse(pattern, unicode=not _ascii_mode(pattern, flags), flags=_letters(flags))
    except UnsupportedSyntax as exc:
        return None, f"uses syntax awrs does not model ({exc})"
    except (IndexError, ValueError) as exc:  # a malformed pattern the regex module will name
        return None, f"could not be read ({type(exc).__name__})"
    try:
        return parsed, read_parsed(parsed, **options)
    except UnsupportedSyntax as exc:
        return parsed, f"cannot be read as an automaton ({exc})"


#: A character automaton past this many states goes straight to the lazy DFA: its whole DFA
#: would have at least about as many (a 4,000-character literal has 4,001) and building it
#: first, only to give up at MAX_DFA_STATES, costs a second.
EAGER_NFA_STATES = 2_000
#: The whole DFA is built (Numba masks, ``Regex.dfa``) up to this many states, else lazily.
EAGER_DFA_STATES = MAX_DFA_STATES


def _automaton_engine(pattern: str, reading: Reading | str) -> tuple[Constraint | None, str]:
    """A DFA constraint for an exact reading and "regular ...", or None and why not."""
    if isinstance(reading, str):
        return None, reading
    if not reading.exact:
        return None, "uses " + ", ".join(reading.approximations)
    automaton = reading.automaton
    if automaton[0] <= EAGER_NFA_STATES:
        try:
            return DFAConstraint(build_byte_dfa(*automaton, max_states=EAGER_DFA_STATES)), "regular"
        except DFATooLarge:
            why = f"its DFA would exceed {EAGER_DFA_STATES:,} states"
        except EmptyLanguageError as exc:
            raise EmptyLanguageError(_empty_language(pattern, exc)) from None
    else:
        why = f"its automaton has {automaton[0]:,} states (more than {EAGER_NFA_STATES:,})"
    try:
        return LazyDFA(*automaton), f"regular (a DFA made lazily: {why})"
    except EmptyLanguageError as exc:
        raise EmptyLanguageError(_empty_language(pattern, exc)) from None


#: When the reading's own envelope is too large, one coarser reading is tried: references match
#: any string of their group's characters and repeats above 8 are unbounded.
_COARSE = {"max_ref_depth": 0, "max_repeat": 8}
#: An envelope only prunes: past this many states it is not worth its build time (about 30 ms
#: per 1,000 states). Unicode classes take room: each ``\\w`` a pattern copies adds 329 states,
#: and this bound gives every non-regular pattern of the AWRS set its envelope.
MAX_ENVELOPE_STATES = 2_000


def _envelope(pattern: str, flags: int, parsed: Parsed | None, reading: Reading | str) -> ByteDFA | None:
    """The byte DFA of a regular superset of the pattern's language, or None.

    The reading the engine choice made serves first (unless it is exact: a pattern for which
    partial matching was asked). Raises ConstraintError when the superset is empty (then so
    is the pattern's language)."""
    if not isinstance(reading, str) and not reading.exact:
        found = _envelope_dfa(pattern, reading)
        if found is not None:
            return found
    if parsed is None:
        return None
    try:
        coarse = read_parsed(parsed, **_COARSE)
    except UnsupportedSyntax:
        return None
    if coarse.exact:  # nothing coarser to build
        return None
    return _envelope_dfa(pattern, coarse)


def _envelope_dfa(pattern: str, reading: Reading) -> ByteDFA | None:
    try:
        return build_byte_dfa(*reading.automaton, max_states=MAX_ENVELOPE_STATES)
    except DFATooLarge:
        return None
    except ConstraintError as exc:
        raise ConstraintError(_empty_language(pattern, exc)) from None


#: A lone surrogate, written as itself or as an escape.
_SURROGATE = re.compile(r"[\ud800-\udfff]|\\u[dD][89a-fA-F][0-9a-fA-F]{2}|\\U0000[dD][89a-fA-F][0-9a-fA-F]{2}")


def _empty_language(pattern: str, exc: ConstraintError) -> str:
    """The message for an empty language, with the likely cause when it is a lone surrogate."""
    message = str(exc)
    if _SURROGATE.search(pattern):
        message += (
            " (the pattern has a lone surrogate, U+D800..U+DFFF: awrs matches UTF-8 text, which holds none; "
            "write the character itself, or \\U0001xxxx for one beyond U+FFFF)"
        )
    return message


# --- the regex module's pattern object -----------------------------------------------------------


@functools.lru_cache(maxsize=1024)
def _compile_cached(pattern: str, flags: int) -> Any:
    return _compile(pattern, flags, None)


def compile_pattern(pattern: str, flags: int = 0, parsed: Parsed | None = None) -> Any:
    r"""The ``regex`` module's pattern object for ``pattern`` with awrs's semantics (``flags``
    are ``re`` flags): version 0, the ASCII flag in ASCII mode with ``\p{..}`` and POSIX
    classes spelled out (see :func:`_spelled_out`). Raises ConstraintError naming the problem
    and its position.
    Memoised when ``parsed`` is not given."""
    if parsed is None:
        return _compile_cached(pattern, flags)
    return _compile(pattern, flags, parsed)


def _compile(pattern: str, flags: int, parsed: Parsed | None) -> Any:
    _check_nesting(pattern)
    ascii = _ascii_mode(pattern, flags)
    module_flags = regex_module.VERSION0 | (regex_module.ASCII if ascii else 0)
    module_flags |= flags & (re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE)
    text = pattern
    if ascii and ("\\p" in pattern or "\\P" in pattern or "[:" in pattern):
        if parsed is None:
            try:
                parsed = parse(pattern, unicode=False, flags=_letters(flags))
            except (UnsupportedSyntax, IndexError, ValueError):
                parsed = None  # a pattern awrs cannot read: the regex module's meaning of \p
        if parsed is not None:
            text = _spelled_out(pattern, parsed.spelled)
    try:
        compiled = regex_module.compile(text, flags=module_flags)
    except regex_module.error as exc:
        known = exc.pos is not None and text is pattern  # positions in a spelled-out pattern are not the user's
        where = f" at position {exc.pos}" if known else ""
        pointer = f"\n  {pattern}\n  {' ' * exc.pos}^" if known else ""
        raise ConstraintError(f"invalid regular expression{where}: {exc.msg}{pointer}") from None
    except ValueError as exc:  # e.g. inline flags that clash with awrs's: (?V1), (?L), (?u) in ASCII mode
        raise ConstraintError(
            f"the regex module cannot compile {pattern!r} ({exc}); awrs matches with the regex module's version 0 "
            "and the re module's flags, so inline flags such as (?V1) or (?L) cannot be used"
        ) from None
    except RecursionError:
        raise ConstraintError(f"the pattern {pattern[:40]!r}... nests too deeply for the regex module's compiler") from None
    if compiled.flags & (regex_module.LOCALE | regex_module.VERSION1):
        raise ConstraintError(
            f"the pattern {pattern!r} turns on {regex_module.RegexFlag(compiled.flags & (regex_module.LOCALE | regex_module.VERSION1))!r}; "
            "awrs matches with the regex module's version 0 and the re module's flags, so inline flags such as (?V1) or (?L) cannot be used"
        )
    return compiled


def _spelled_out(pattern: str, spelled) -> str:
    r"""``pattern`` with each ``\p{..}`` or POSIX class replaced by the class of its set (see
    :class:`~awrs.constraints.regex.syntax.Parsed`). Inside a class the set is framed by
    ``\P{Any}`` (the empty set), so that a neighbouring ``-`` stays a literal as it was
    (``[a-\p{L}]``), never a range to a spelled-out character."""
    out, last = [], 0
    for start, end, inside, ranges in spelled:
        out.append(pattern[last:start])
        body = class_text(ranges)
        out.append(f"\\P{{Any}}{body}\\P{{Any}}" if inside else f"[{body or chr(92) + 'P{Any}'}]")
        last = end
    out.append(pattern[last:])
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def char_automaton(pattern: str, flags: int = re.ASCII):
    """``(n_states, initial, finals, transitions)`` of a regular pattern, for building combined
    automata (the grammar lexer). ``flags`` are ``re`` flags; the default, ASCII mode, is the
    one grammar terminals have always had. Raises ConstraintError when the pattern is invalid
    or not regular.

    Memoised (the result is immutable): grammars restricted to different schemas share most
    of their terminals, so only the new ones are built (SQL(schema) for a second schema)."""
    pattern, flags = _pattern_and_flags(pattern, flags)
    compile_pattern(pattern, flags)
    _, reading = _read(pattern, flags)
    if isinstance(reading, str) or not reading.exact:
        why = reading if isinstance(reading, str) else "uses " + ", ".join(reading.approximations)
        raise ConstraintError(f"pattern {pattern!r} is not a regular expression awrs can compile: it {why}")
    return reading.automaton
