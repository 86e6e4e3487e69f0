r"""A grammar's terminals as Lark matches them: first matches, look-arounds, ``%ignore``.

Lark's Earley parser with ``lexer="dynamic_complete"`` tries, at each position, every terminal
the parser expects there. It takes the terminal's *first match* on the text — Python's
``re.match``: alternatives and repeats in their order of preference, lazy repeats shortest
first — and, for the grammar's own terminals (not the ``%ignore``'d ones), every shorter text
that is itself a first match. Hence:

- a terminal's **token language** is the set of texts ``w`` at whose end the leftmost-first
  search of the terminal over ``w`` ends: ``/a+?/`` has the token ``a`` only, ``/a|ab/`` has no
  token ``ab``, a C comment ``/\*(.|\n)*?\*/`` ends at its first ``*/``. It is regular: a DFA
  whose states are the *ordered lists* of the threads of Pike's VM recognises it (threads
  behind a finished match are cut; a thread met again keeps its first, preferred place);
- an **ignored** terminal's token is the first match on the text itself: its token language,
  and the threads that were ahead of the match at its end (the preferred ways to go on) must
  not reach a match in the text that follows. ``/#[^\n]*/`` ends only before a newline or at
  the end of the text;
- a **look-ahead** ``(?=P)`` / ``(?!P)`` asks the text from where it stands to begin (not to
  begin) with a match of ``P``; the text may reach past the token's end into the tokens after
  it (``select(?![A-Za-z0-9_])``: the next character);
- a **look-behind** ``(?<=P)`` / ``(?<!P)`` reads the token's own text (at the token's start it
  sees the start of a string, as Lark's shorter matches do); ``\b``, ``\B``, ``^``, ``$``,
  ``\A``, ``\Z`` are read as look-arounds of one character (``^``/``\A``: at the token's start).

What a token asks of the text after it is a :class:`Follow`: pending look-aheads and first-match
obligations, advanced byte by byte as that text comes, and interned, so that equal ones are one
object. :func:`terminal_lexemes` gives a terminal as lexer automata, each with the Follow its
tokens carry (a terminal whose tokens end with different Follows is split into one automaton
per Follow, each accepting where its tokens carry that one).

Where awrs differs from Lark (docs/grammars.md): a look-ahead is read on the real text after the
token for every token length (Lark reads it so for the first match only, and sees the end of
the text for the shorter ones: ``[a-z]+(?![a-z])`` then ends inside a word); a look-behind never
sees the text before the token; an ignored terminal whose more preferred threads carry a
look-ahead has them treated as if the look-ahead held; look-arounds inside look-arounds are
refused, except a trailing negative look-ahead of one character class.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from awrs.automata.dfa import ByteDFA
from awrs.constraints.grammar.follow import NOTHING, Follow, follow, follow_from_bytes
from awrs.constraints.grammar.pike import MATCH_POS, Machine, OrderedLists
from awrs.constraints.grammar.thompson import MATCH, Nfa, TerminalError, thompson
from awrs.constraints.regex.classes import Ranges, merge
from awrs.constraints.regex.syntax import parse
from awrs.constraints.regex.tree import UnsupportedSyntax

__all__ = ["NOTHING", "Follow", "TerminalError", "TerminalLexemes", "follow_from_bytes", "terminal_lexemes"]


#: The Follow of each accepting state of a terminal's DFA: one Follow for them all, or a dict
#: from state to Follow (``NOTHING`` where a token asks nothing of what follows).
FollowMap = "Follow | dict[int, Follow]"


@dataclass(frozen=True)
class TerminalLexemes:
    """A terminal as lexer automata: ``branches`` are ``(ByteDFA, follows)`` pairs — the DFA's
    accepting states end tokens, and ``follows`` (a :data:`FollowMap`) says what each asks of
    the text after it; a state that ends tokens in several ways (finished matches with
    different pending look-aheads) is accepting in as many branches. ``approximate`` says why
    the automata are not exactly Lark's reading (empty: exact)."""

    branches: tuple[tuple[ByteDFA, Any], ...]
    approximate: str = ""


def terminal_lexemes(pattern: str, ignored: bool, unicode: bool = True) -> TerminalLexemes:
    """The lexer automata of a terminal whose regular expression (Python ``re`` syntax, as Lark
    writes it) is ``pattern``; ``ignored`` for a ``%ignore``'d terminal. Raises
    :class:`TerminalError` for what awrs cannot compile."""
    return _terminal_lexemes(pattern, ignored, unicode)


@functools.lru_cache(maxsize=1024)
def _terminal_lexemes(pattern: str, ignored: bool, unicode: bool) -> TerminalLexemes:
    try:
        parsed = parse(pattern, unicode=unicode)
    except UnsupportedSyntax as exc:
        raise TerminalError(f"it uses syntax awrs does not model ({exc})") from None
    except RecursionError:
        raise TerminalError("it is nested too deeply") from None
    unsupported = [n for n in parsed.notes if not n.startswith(("a look-around", "an anchor"))]
    if unsupported:
        raise TerminalError("it uses " + ", ".join(unsupported))
    if _MULTILINE.search(pattern) and _has_line_anchor(parsed.tree):
        raise TerminalError("it uses ^ or $ under the multiline flag, which awrs does not support in a terminal")
    word = _word_class(unicode)
    nfa = Nfa()
    match = nfa.node(MATCH)
    start = thompson(parsed.tree, nfa, word, match)
    machine = Machine(nfa, start)
    lists = OrderedLists(machine)
    follows_of = [_follows(threads, ignored, machine) for threads, _ in lists.states]
    branches = []
    for j in range(max(map(len, follows_of), default=0)):
        ends = {s: fs[j] for s, fs in enumerate(follows_of) if len(fs) > j}
        final = np.zeros(len(lists.states), dtype=np.bool_)
        final[list(ends)] = True
        distinct = set(ends.values())
        follows = next(iter(distinct)) if len(distinct) == 1 else ends
        branches.append((ByteDFA(table=None, final=final, rows=lists.rows), follows))
    if not branches:
        why = " (a look-behind in a terminal reads only the token's own text)" if machine.trackers else ""
        raise TerminalError(f"it matches no text{why}")
    approximate = "an ignored terminal's more preferred threads pass a look-around" if machine.approximate else ""
    return TerminalLexemes(tuple(branches), approximate)


def _follows(threads: tuple, ignored: bool, machine: Machine) -> list[Follow]:
    """The Follow of each way a state ends a token (one per finished match)."""
    out = []
    for i, (pos, conds) in enumerate(threads):
        if pos != MATCH_POS:
            continue
        items = set(conds)
        ahead = [p for p, _ in threads[:i] if p != MATCH_POS] if ignored else []
        if ahead:
            items.add(("first", machine, frozenset(ahead), None, 0))
            machine.approximate = machine.approximate or bool(machine.nfa.looks)
        out.append(follow(items))
    return out


_MULTILINE = re.compile(r"\(\?[a-zA-Z]*m[a-zA-Z-]*[:)]")


def _has_line_anchor(tree) -> bool:
    stack = [tree]
    while stack:
        node = stack.pop()
        kind = node[0]
        if kind == "anchor" and node[1] in ("^", "$"):
            return True
        if kind in ("seq", "alt"):
            stack.extend(node[1])
        elif kind in ("rep", "look"):
            stack.append(node[1] if kind == "rep" else node[2])
        elif kind == "cap":
            stack.append(node[2])
    return False


@functools.lru_cache(maxsize=4)
def _word_class(unicode: bool) -> Ranges:
    """The characters ``\\w`` matches in the reader's mode."""
    tree = parse(r"\w", unicode=unicode).tree
    return merge(tree[1])
