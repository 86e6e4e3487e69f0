"""From Lark grammar text to an Earley grammar over terminal ids and a byte-level lexer.

Lark parses the grammar (rules, terminals, ``%import``, ``%ignore``, templates, ``?rule``
inlining...), so its error messages, positions and semantics come for free; awrs takes the
expanded rules and the terminals' regular expressions from it.

Terminals become byte DFAs combined into one tagged automaton, read as Lark reads them: each
terminal's tokens are its first matches, and what a token asks of the text after it (a
look-ahead, or an ignored terminal's more preferred ways to go on) travels with it as a
:class:`~awrs.constraints.grammar.terminals.Follow` (:mod:`awrs.constraints.grammar.terminals`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from awrs.automata.tagged_dfa import TaggedDFA, build_tagged_dfa
from awrs.constraints.grammar.earley import Rules
from awrs.constraints.grammar.terminals import NOTHING, Follow, TerminalError, follow_from_bytes, terminal_lexemes
from awrs.errors import ConstraintError

__all__ = ["CompiledGrammar", "Lexemes", "compile_grammar"]


@dataclass(frozen=True, eq=False)
class CompiledGrammar:
    rules: Rules
    terminal_names: tuple[str, ...]
    lexer: TaggedDFA
    lexeme_terminal: tuple[int, ...]  # lexer automaton -> grammar terminal (-1: ignored)
    #: lexer automaton -> what the text after its tokens must hold: a Follow, None (nothing), or
    #: a dict from the automaton's own state to either (:meth:`follow_of` reads it)
    follow: tuple[Follow | dict[int, Follow | None] | None, ...]
    ignore_mask: int  # lexer automata of ignored terminals
    #: ``(terminal, why)`` for the terminals whose automata are not exactly Lark's reading.
    approximations: tuple[tuple[str, str], ...] = ()
    _follow_at: dict[tuple[int, int], Follow | None] = field(default_factory=dict, repr=False)

    def follow_of(self, lex: int, k: int) -> Follow | None:
        """What a token of lexer automaton ``k`` ending in lexer state ``lex`` asks of the text
        after it (None: nothing)."""
        found = self.follow[k]
        if not isinstance(found, dict):
            return found
        key = (lex, k)
        try:
            return self._follow_at[key]
        except KeyError:
            nodes = self.lexer.nodes_of(lex, k)
            result = self._follow_at[key] = found.get(nodes[0]) if len(nodes) == 1 else None
            return result


@dataclass(frozen=True, eq=False)
class Lexemes:
    """A terminal given as ready-made automata rather than a regular expression (what
    ``awrs.SQL`` does for a schema's names): ``branches`` are ``(automaton, follow)`` pairs —
    a character automaton ``(n, initial, finals, transitions)``, a ByteDFA or a ByteNFA whose
    accepted texts are the tokens, with the bytes that may not come right after a token (a
    (256,) bool array, or None)."""

    branches: tuple[tuple[Any, np.ndarray | None], ...]


def compile_grammar(
    text: str, start: str, terminals: Mapping[str, str | Lexemes] | None = None, flags: int = 0
) -> CompiledGrammar:
    """``terminals`` replaces the regular expressions of the named terminals (each must be a
    terminal of the grammar) by other regular expressions or by :class:`Lexemes`; ``flags``
    are ``re`` flags for every terminal (see :class:`~awrs.constraints.grammar.Grammar`)."""
    unicode, inline = _read_flags(flags)
    skeleton = _skeleton(text, start)
    for name in terminals or {}:
        if name not in skeleton.regexps:
            raise ConstraintError(
                f"terminals= names {name!r}, which is not a terminal of the grammar (it has {', '.join(sorted(skeleton.regexps))})"
            )
    automata, lexeme_terminal, follow = [], [], []
    approximations = []
    ignore_mask = 0
    for name in skeleton.regexps:
        given = (terminals or {}).get(name)
        ignored = name in skeleton.ignored
        if given is None:
            branches, why = skeleton.lexemes(name, unicode, inline)
        elif isinstance(given, Lexemes):
            branches, why = tuple((a, follow_from_bytes(mask)) for a, mask in given.branches), ""
        else:
            branches, why = _lexemes(name, given, ignored, unicode, inline)
        if why:
            approximations.append((name, why))
        for automaton, after in branches:
            automata.append(automaton)
            follow.append(_no_nothing(after))
            if ignored:
                ignore_mask |= 1 << (len(automata) - 1)
                lexeme_terminal.append(-1)
            else:
                lexeme_terminal.append(skeleton.term_id[name])
    try:
        lexer = build_tagged_dfa(automata)
    except ConstraintError as exc:
        raise ConstraintError(f"grammar terminals cannot be compiled: {exc}") from None
    return CompiledGrammar(
        skeleton.rules, skeleton.names, lexer, tuple(lexeme_terminal), tuple(follow), ignore_mask, tuple(approximations)
    )


def _no_nothing(follows):
    """A FollowMap with None for "nothing pending" (the hot path's cheapest test)."""
    if isinstance(follows, dict):
        return {state: None if f is NOTHING else f for state, f in follows.items()}
    return None if follows is NOTHING else follows


@dataclass(frozen=True, eq=False)
class _Skeleton:
    """What a grammar text and start rule fix, whatever terminals= swaps in."""

    regexps: dict[str, str]  # every terminal, in Lark's order
    ignored: frozenset[str]
    names: tuple[str, ...]  # the grammar's terminals (ignored ones left out)
    term_id: dict[str, int]
    rules: Rules
    _lexemes: dict[tuple[str, bool, str], tuple[tuple[tuple[Any, Follow], ...], str]] = field(default_factory=dict)

    def lexemes(self, name: str, unicode: bool, inline: str) -> tuple[tuple[tuple[Any, Follow], ...], str]:
        """The automata of a terminal as the grammar defines it, and why they are not exactly
        Lark's reading ("" when they are); built when first asked for: a terminal that
        terminals= always replaces is never built."""
        key = (name, unicode, inline)
        out = self._lexemes.get(key)
        if out is None:
            out = self._lexemes[key] = _lexemes(name, self.regexps[name], name in self.ignored, unicode, inline)
        return out


_FLAG_LETTERS = {re.IGNORECASE: "i", re.MULTILINE: "m", re.DOTALL: "s"}


def _read_flags(flags: int) -> tuple[bool, str]:
    """``(unicode, inline flag letters)`` of the ``re`` flags given for every terminal."""
    if not isinstance(flags, int):
        raise ConstraintError(f"flags must be re flags (an int such as re.ASCII | re.IGNORECASE), got {type(flags).__name__}")
    known = re.ASCII | re.IGNORECASE | re.MULTILINE | re.DOTALL | re.UNICODE
    if flags & ~known:
        raise ConstraintError(
            f"flags may combine re.ASCII, re.IGNORECASE, re.MULTILINE and re.DOTALL; got {re.RegexFlag(flags)!r}"
        )
    return not flags & re.ASCII, "".join(letter for flag, letter in _FLAG_LETTERS.items() if flags & flag)


@functools.lru_cache(maxsize=64)
def _skeleton(text: str, start: str) -> _Skeleton:
    """Memoised: a grammar used again with other terminals= (a SQL schema) is not re-read,
    its rules are not rebuilt and its other terminals' automata are reused."""
    lark_terminals, lark_rules, ignore_tokens = _read_grammar(text, start)
    ignored = frozenset(ignore_tokens)
    names = tuple(name for name, _ in lark_terminals if name not in ignored)
    term_id = {name: i for i, name in enumerate(names)}
    return _Skeleton(dict(lark_terminals), ignored, names, term_id, _rules(lark_rules, term_id, start))


def _lexemes(
    name: str, regexp: str, ignored: bool, unicode: bool = True, inline: str = ""
) -> tuple[tuple[tuple[Any, Follow], ...], str]:
    """A terminal's automata with the Follow of their tokens, and why they are approximate."""
    try:
        found = terminal_lexemes(f"(?{inline}:{regexp})" if inline else regexp, ignored, unicode)
    except TerminalError as exc:
        raise ConstraintError(f"terminal {name} (/{regexp}/) cannot be compiled: {exc}") from None
    return found.branches, found.approximate


#: Lark turns a rule's optional parts and inline alternatives into that many plain alternatives
#: (``A? B? C?`` is eight) before awrs sees the rules; past this many its compile takes seconds,
#: and it doubles with each optional part (18 of them took 34 s, 40 would never end).
MAX_EXPANSIONS = 4096
#: Lark expands ``x~a..b`` into alternatives up to this many copies, and into nested rules past it.
_REPEAT_INLINE = 50
_CAP = MAX_EXPANSIONS * 1024  # counting stops here


def _check_expansion_sizes(grammar) -> None:
    """Refuse a rule that Lark would expand into more than :data:`MAX_EXPANSIONS` alternatives."""
    for name, _, tree, _ in grammar.rule_defs:
        size = _expansions(tree)
        if size > MAX_EXPANSIONS:
            shown = f"{size:,}" if size < _CAP else f"more than {_CAP:,}"
            raise ConstraintError(
                f"rule {name} expands to {shown} alternatives when Lark writes out its optional parts and inline "
                f"groups (awrs takes at most {MAX_EXPANSIONS:,}): give some of its optional parts or groups rules of "
                "their own, e.g. a: b? c? ... with b: x | and c: y |"
            )


def _expansions(tree) -> int:
    """How many plain alternatives Lark makes of a rule's tree (iteratively; capped)."""
    from lark import Tree

    cap = _CAP
    # post-order over the tree, each node's count from its children's
    order, stack = [], [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Tree):
            order.append(node)
            stack.extend(node.children)
    counts: dict[int, int] = {}
    for node in reversed(order):
        kids = [counts.get(id(c), 1) for c in node.children if isinstance(c, Tree)]
        if node.data == "expansions":
            n = sum(kids)
        elif node.data == "expansion":
            n = 1
            for k in kids:
                n = min(n * k, cap)
        elif node.data == "maybe":
            n = kids[0] + 1 if kids else 1
        elif node.data == "expr":
            n = kids[0] if kids else 1
            op = str(node.children[1]) if len(node.children) > 1 else ""
            if op in ("?", "*"):
                n += 1
            elif op == "~" and len(node.children) >= 3:
                lo = int(str(node.children[2]))
                hi = int(str(node.children[3])) if len(node.children) > 3 else lo
                if hi - lo < _REPEAT_INLINE:
                    n = sum(min(n**k, cap) for k in range(lo, min(hi, lo + _REPEAT_INLINE) + 1) if k < 64) or 1
        else:
            n = kids[0] if len(kids) == 1 else 1
        counts[id(node)] = min(n, cap)
    return counts.get(id(tree), 1)


def _read_grammar(text: str, start: str):
    """Lark's reading of the grammar: ``((terminal name, regexp), ...)``, its BNF rules and the
    ignored terminals (read once per text and start rule: :func:`_skeleton` keeps it)."""
    import lark
    from lark.load_grammar import load_grammar

    try:
        # What lark.Lark(text, start=start, keep_all_tokens=True) does before it builds a parser
        # of its own (which awrs does not use: a third of the compile time).
        grammar, _ = load_grammar(text, "<string>", [], True)
        _check_expansion_sizes(grammar)
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
    except RecursionError:
        raise ConstraintError(
            "the grammar is nested too deeply for Lark to read (its rules' groups and alternatives go about a "
            "thousand levels deep): give the deepest parts rules of their own"
        ) from None
    except OSError as exc:
        raise ConstraintError(
            f"the grammar's %import names a grammar file that cannot be read: {exc.filename} ({exc.strerror}). Lark reads "
            "its own grammars (common, lark, python, unicode) from its package and any other import from a file: a "
            "relative one (%import .name) from the current directory, since the grammar is given as text. Copy the "
            "imported rules into the grammar, or run from the directory that holds the file"
        ) from None
    return tuple((t.name, t.pattern.to_regexp()) for t in terminals), tuple(rules), tuple(ignore_tokens)


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
        raise ConstraintError(
            f"the grammar derives no string from {start!r} (its language is empty): every rule for it needs a nonterminal that never ends"
        )
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
