"""From Lark grammar text to an Earley grammar over terminal ids and a byte-level lexer.

Lark parses the grammar (rules, terminals, ``%import``, ``%ignore``, templates, ``?rule``
inlining...), so its error messages, positions and semantics come for free; awrs takes the
expanded rules and the terminals' regular expressions from it.

Terminals become byte DFAs combined into one tagged automaton. A terminal whose regular
expression ends in a negative look-ahead of one character class, such as
``select(?![A-Za-z0-9_])``, keeps that look-ahead as a *follow restriction* (the next byte
may not be in the class), which is how keywords end at word boundaries; each alternative of a
terminal may carry its own. Any other look-around makes the terminal non-regular and the
grammar is refused with a clear error.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from awrs.constraints.dfa import TaggedDFA, build_tagged_dfa
from awrs.constraints.grammar.earley import Rules
from awrs.constraints.regex import char_automaton
from awrs.errors import ConstraintError

__all__ = ["CompiledGrammar", "Lexemes", "compile_grammar"]

_FOLLOW = re.compile(r"\(\?!(\[(?:\\.|[^\]\\])+\]|\\[wWdDsS])\)$")


@dataclass(frozen=True, eq=False)
class CompiledGrammar:
    rules: Rules
    terminal_names: tuple[str, ...]
    lexer: TaggedDFA
    lexeme_terminal: tuple[int, ...]  # lexer automaton -> grammar terminal (-1: ignored)
    follow: tuple[np.ndarray | None, ...]  # lexer automaton -> bytes that may not come next
    ignore_mask: int  # lexer automata of ignored terminals


@dataclass(frozen=True, eq=False)
class Lexemes:
    """A terminal given as ready-made automata rather than a regular expression (what
    ``awrs.SQL`` does for a schema's names): ``branches`` are ``(automaton, follow)`` pairs —
    a character automaton ``(n, initial, finals, transitions)``, a ByteDFA or a ByteNFA, with
    the bytes that may not come right after it (or None), as :func:`_branches` makes them."""

    branches: tuple[tuple[Any, np.ndarray | None], ...]


def compile_grammar(text: str, start: str, terminals: Mapping[str, str | Lexemes] | None = None) -> CompiledGrammar:
    """``terminals`` replaces the regular expressions of the named terminals (each must be a
    terminal of the grammar) by other regular expressions or by :class:`Lexemes`."""
    skeleton = _skeleton(text, start)
    for name in terminals or {}:
        if name not in skeleton.regexps:
            raise ConstraintError(f"terminals= names {name!r}, which is not a terminal of the grammar (it has {', '.join(sorted(skeleton.regexps))})")
    automata, lexeme_terminal, follow = [], [], []
    ignore_mask = 0
    for name in skeleton.regexps:
        given = (terminals or {}).get(name)
        branches = skeleton.lexemes(name) if given is None else given.branches if isinstance(given, Lexemes) else _lexemes(name, given)
        for automaton, restriction in branches:
            automata.append(automaton)
            follow.append(restriction)
            if name in skeleton.ignored:
                ignore_mask |= 1 << (len(automata) - 1)
                lexeme_terminal.append(-1)
            else:
                lexeme_terminal.append(skeleton.term_id[name])
    try:
        lexer = build_tagged_dfa(automata)
    except ConstraintError as exc:
        raise ConstraintError(f"grammar terminals cannot be compiled: {exc}") from None
    return CompiledGrammar(skeleton.rules, skeleton.names, lexer, tuple(lexeme_terminal), tuple(follow), ignore_mask)


@dataclass(frozen=True, eq=False)
class _Skeleton:
    """What a grammar text and start rule fix, whatever terminals= swaps in."""

    regexps: dict[str, str]  # every terminal, in Lark's order
    ignored: frozenset[str]
    names: tuple[str, ...]  # the grammar's terminals (ignored ones left out)
    term_id: dict[str, int]
    rules: Rules
    _lexemes: dict[str, tuple[tuple[Any, np.ndarray | None], ...]] = field(default_factory=dict)

    def lexemes(self, name: str) -> tuple[tuple[Any, np.ndarray | None], ...]:
        """The automata of a terminal as the grammar defines it (built when first asked for:
        a terminal that terminals= always replaces is never built)."""
        out = self._lexemes.get(name)
        if out is None:
            out = self._lexemes[name] = _lexemes(name, self.regexps[name])
        return out


@functools.lru_cache(maxsize=64)
def _skeleton(text: str, start: str) -> _Skeleton:
    """Memoised: a grammar used again with other terminals= (a SQL schema) is not re-read,
    its rules are not rebuilt and its other terminals' automata are reused."""
    lark_terminals, lark_rules, ignore_tokens = _read_grammar(text, start)
    ignored = frozenset(ignore_tokens)
    names = tuple(name for name, _ in lark_terminals if name not in ignored)
    term_id = {name: i for i, name in enumerate(names)}
    return _Skeleton(dict(lark_terminals), ignored, names, term_id, _rules(lark_rules, term_id, start))


def _lexemes(name: str, regexp: str) -> tuple[tuple[Any, np.ndarray | None], ...]:
    """A terminal's automata, one per top-level alternative, with their follow restrictions."""
    return tuple((_automaton(name, branch), restriction) for branch, restriction in _branches(regexp))


def _read_grammar(text: str, start: str):
    """Lark's reading of the grammar: ``((terminal name, regexp), ...)``, its BNF rules and the
    ignored terminals (read once per text and start rule: :func:`_skeleton` keeps it)."""
    import lark
    from lark.load_grammar import load_grammar

    try:
        # What lark.Lark(text, start=start, keep_all_tokens=True) does before it builds a parser
        # of its own (which awrs does not use: a third of the compile time).
        grammar, _ = load_grammar(text, "<string>", [], True)
        terminals, rules, ignore_tokens = grammar.compile([start], set())
    except lark.exceptions.GrammarError as exc:
        if f"NonTerminal('{start}')" in str(exc):
            raise ConstraintError(f"the grammar has no rule named {start!r}; pass start= the name of its top rule") from None
        raise ConstraintError(f"invalid Lark grammar: {exc} (check the rule and terminal names it mentions)") from None
    except lark.exceptions.UnexpectedInput as exc:
        raise ConstraintError(
            f"invalid Lark grammar at line {exc.line}, column {exc.column}: {str(exc).splitlines()[0]} "
            "(see the Lark grammar reference for the syntax)"
        ) from None
    except (lark.exceptions.LarkError, KeyError) as exc:
        raise ConstraintError(f"invalid Lark grammar: {exc}") from None
    return tuple((t.name, t.pattern.to_regexp()) for t in terminals), tuple(rules), tuple(ignore_tokens)


def _automaton(name: str, pattern):
    """A char automaton for the pattern, or for (pattern, excluded words) a byte DFA of the
    pattern's strings that are not excluded."""
    try:
        if isinstance(pattern, tuple):
            return _excluding(*pattern)
        return char_automaton(pattern)
    except ConstraintError as exc:
        raise ConstraintError(
            f"terminal {name} is not a regular expression awrs can compile: {exc}. Look-arounds are "
            "supported only as one final negative look-ahead of a character class, e.g. (?![A-Za-z0-9_])"
        ) from None


@functools.lru_cache(maxsize=256)
def _excluding(keep: str, drop: str):
    """The byte DFA of ``keep``'s strings that ``drop`` does not match (memoised, immutable)."""
    from awrs.constraints.dfa import build_byte_dfa, difference

    return difference(build_byte_dfa(*char_automaton(keep)), build_byte_dfa(*char_automaton(drop)))


def _branches(regexp: str) -> list[tuple[Any, np.ndarray | None]]:
    """Split a terminal's regex into top-level alternatives, each with its follow restriction."""
    body, flags = _unwrap(regexp)
    out = []
    for branch in _split_top(body):
        inner, inner_flags = _unwrap(branch)
        parts = _split_top(inner)
        if len(parts) > 1:  # a group that is itself an alternation: split further
            out.extend((_wrap(p, flags + inner_flags), r) for p, r in _branches(_wrap(inner, inner_flags)))
            continue
        excluded, inner = _leading_exclusion(inner)
        m = _FOLLOW.search(inner)
        restriction = None
        if m:
            inner = inner[: m.start()]
            restriction = _class_bytes(m.group(1))
        pattern = _wrap(inner, flags + inner_flags)
        if excluded is not None:
            pattern = (pattern, _wrap(excluded, flags + inner_flags))
        out.append((pattern, restriction))
    return out


def _leading_exclusion(branch: str) -> tuple[str | None, str]:
    """``(?!K(?!C))R`` or ``(?!K)R`` at the start of a branch: the words of K are excluded from
    R's tokens (how keywords are kept out of identifiers). Returns (K, R) or (None, branch)."""
    if not branch.startswith("(?!"):
        return None, branch
    depth = 0
    for i, ch in enumerate(branch):
        if ch == "(" and (i == 0 or branch[i - 1] != "\\"):
            depth += 1
        elif ch == ")" and branch[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                inside, rest = branch[3:i], branch[i + 1 :]
                m = _FOLLOW.search(inside)
                return (inside[: m.start()] if m else inside), rest
    return None, branch


def _unwrap(regexp: str) -> tuple[str, str]:
    """``(?:X)`` or ``(?i:X)`` enclosing the whole pattern -> (X, flags)."""
    m = re.fullmatch(r"\(\?([a-z]*):(.*)\)", regexp, flags=re.S)
    if m and _balanced(m.group(2)):
        body, flags = _unwrap(m.group(2))
        return body, m.group(1) + flags
    return regexp, ""


def _wrap(body: str, flags: str) -> str:
    return f"(?{''.join(sorted(set(flags)))}:{body})" if flags else body


def _balanced(text: str) -> bool:
    depth, escaped, in_class = 0, False, False
    for ch in text:
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
            if depth < 0:
                return False
    return depth == 0


def _split_top(text: str) -> list[str]:
    parts, depth, escaped, in_class, start = [], 0, False, False, 0
    for i, ch in enumerate(text):
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
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


@functools.lru_cache(maxsize=1024)
def _class_bytes(cls: str) -> np.ndarray:
    """The ASCII bytes of a character class, as a read-only 256-entry mask (memoised: keywords
    share a few classes). Follow restrictions look at the next byte only, so they apply to
    ASCII characters (docs/grammars.md)."""
    compiled = re.compile(cls)
    mask = np.zeros(256, dtype=np.bool_)
    for b in range(128):
        mask[b] = compiled.fullmatch(chr(b)) is not None
    mask.flags.writeable = False
    return mask


def _rules(lark_rules, term_id: dict[str, int], start: str) -> Rules:
    nt_id: dict[str, int] = {}

    def nt(name: str) -> int:
        if name not in nt_id:
            nt_id[name] = len(nt_id)
        return nt_id[name]

    raw = []
    for rule in lark_rules:
        rhs = []
        for sym in rule.expansion:
            if sym.is_term:
                if sym.name not in term_id:  # an ignored terminal used in a rule
                    raise ConstraintError(f"terminal {sym.name} is both %ignore'd and used in rule {rule.origin.name}")
                rhs.append(term_id[sym.name])
            else:
                rhs.append(-1 - nt(sym.name))
        raw.append((nt(rule.origin.name), tuple(rhs)))
    if start not in nt_id:
        raise ConstraintError(f"the grammar has no rule named {start!r}; pass start= the name of its top rule")
    productive = _productive(raw)
    if nt_id[start] not in productive:
        raise ConstraintError(f"the grammar derives no string from {start!r} (its language is empty): every rule for it needs a nonterminal that never ends")
    kept = tuple((lhs, rhs) for lhs, rhs in raw if lhs in productive and all(s >= 0 or (-1 - s) in productive for s in rhs))
    return Rules(kept, nt_id[start], len(term_id), len(nt_id))


def _productive(raw) -> set[int]:
    productive: set[int] = set()
    changed = True
    while changed:
        changed = False
        for lhs, rhs in raw:
            if lhs not in productive and all(s >= 0 or (-1 - s) in productive for s in rhs):
                productive.add(lhs)
                changed = True
    return productive
