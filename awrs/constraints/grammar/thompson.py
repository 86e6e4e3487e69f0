"""A terminal's regular expression as a Thompson NFA whose epsilons keep their order of
preference, with look-arounds and anchors as conditions on its edges: what
:mod:`awrs.constraints.grammar.pike` runs as Pike's VM (docs/grammars.md, "How Lark matches a
terminal").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from awrs.automata.char_dfa import CharAutomaton
from awrs.automata.dfa import ByteDFA, build_byte_dfa
from awrs.automata.utf8 import complement_ranges
from awrs.constraints.regex.automaton import remove_epsilons
from awrs.constraints.regex.classes import ANY, Ranges
from awrs.errors import ConstraintError, EmptyLanguageError

__all__ = [
    "CHAR",
    "EPS",
    "ITER",
    "LOOK",
    "MATCH",
    "MAX_LOOK_STATES",
    "MAX_TERMINAL_STATES",
    "Look",
    "Nfa",
    "TerminalError",
    "thompson",
]


#: The ordered-list DFA of one terminal is refused past this many states (a bounded repeat of a
#: wide class with look-arounds can blow up); SQL's largest terminal has 4, JSON's string 5.
MAX_TERMINAL_STATES = 5000
#: Look-around bodies and look-behind trackers are byte DFAs of at most this many states.
MAX_LOOK_STATES = 2000


class TerminalError(ConstraintError):
    """A terminal's regular expression uses something awrs cannot compile for a grammar."""


EPS, CHAR, LOOK, MATCH, ITER = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Look:
    """A look-around: ``behind`` (a tracker over the token's text) or ahead (a Follow item),
    ``negative``; ``dfa`` the byte DFA to run (``Σ*P`` behind, ``P`` ahead), None when ``P``
    matches nothing; ``end_dfa``: see :class:`Follow`."""

    behind: bool
    negative: bool
    dfa: ByteDFA | None
    end_dfa: ByteDFA | None = None


class Nfa:
    """Nodes: ``(EPS, [targets in order])``, ``(CHAR, ranges, target)``, ``(LOOK, look
    index, target)``, ``(MATCH,)``, ``(ITER, repeat, target)`` (an iteration of a repeat
    begins). ``choices[node] = (repeat, exit)`` for the nodes where a repeat chooses between
    one more iteration and going on (see :meth:`Machine.closure`)."""

    def __init__(self) -> None:
        self.nodes: list[list] = []
        self.looks: list[Look] = []
        self.choices: dict[int, tuple[int, int]] = {}
        self.repeats = 0

    def node(self, *content) -> int:
        if len(self.nodes) >= 20 * MAX_TERMINAL_STATES:
            raise TerminalError(f"its automaton would exceed {20 * MAX_TERMINAL_STATES} states")
        self.nodes.append(list(content))
        return len(self.nodes) - 1


def thompson(tree, nfa: Nfa, word: Ranges, target: int) -> int:
    """The start node of ``tree``'s fragment, which goes on to ``target`` (built back to front,
    iteratively over sequences; the reader has already bounded the nesting depth)."""
    kind = tree[0]
    if kind == "set":
        return nfa.node(CHAR, tree[1], target) if tree[1] else nfa.node(EPS, [])
    if kind in ("empty",):
        return target
    if kind == "seq":
        for item in reversed(tree[1]):
            target = thompson(item, nfa, word, target)
        return target
    if kind == "alt":
        return nfa.node(EPS, [thompson(branch, nfa, word, target) for branch in tree[1]])
    if kind == "cap":
        return thompson(tree[2], nfa, word, target)
    if kind == "rep":
        return _repeat(tree, nfa, word, target)
    if kind == "look":
        return nfa.node(LOOK, _add_look(nfa, tree[1], tree[2], word), target)
    if kind == "anchor":
        return _anchor(tree[1], nfa, word, target)
    if kind == "ref":
        raise TerminalError("it uses a back-reference or a subroutine call, which no finite automaton can check")
    raise AssertionError(f"unknown node {kind}")


def _repeat(tree, nfa: Nfa, word: Ranges, target: int) -> int:
    """``operand{lo,hi}``: ``lo`` iterations, then optional ones (innermost last:
    ``(x(x)?)?``) or a loop, each choice greedy (one more first) or lazy (going on first)."""
    operand, lo, hi = tree[1], tree[2], tree[3]
    mode = tree[4] if len(tree) > 4 else None
    if mode == "possessive":
        raise TerminalError("it uses a possessive quantifier, whose first match awrs does not model")
    lazy = mode == "lazy"
    repeat = nfa.repeats
    nfa.repeats += 1
    if hi is None:
        start = nfa.node(EPS, [])
        body = _iteration(operand, nfa, word, start, repeat)
        nfa.nodes[start][1] = [target, body] if lazy else [body, target]
        nfa.choices[start] = (repeat, target)
    else:
        start = target
        for _ in range(hi - lo):
            body = _iteration(operand, nfa, word, start, repeat)
            start = nfa.node(EPS, [target, body] if lazy else [body, target])
            nfa.choices[start] = (repeat, target)
    for _ in range(lo):
        start = _iteration(operand, nfa, word, start, repeat)
    return start


def _iteration(operand, nfa: Nfa, word: Ranges, target: int, repeat: int) -> int:
    return nfa.node(ITER, repeat, thompson(operand, nfa, word, target))


_LOOK_KINDS = {"=": (False, False), "!": (False, True), "<=": (True, False), "<!": (True, True)}


def _add_look(nfa: Nfa, kind: str, body, word: Ranges) -> int:
    behind, negative = _LOOK_KINDS[kind]
    if behind:
        dfa = _byte_dfa(("seq", (("rep", ("set", ANY), 0, None), body)), word, "a look-behind")
        look = Look(True, negative, dfa)
    else:
        dfa, end_dfa = _look_body(body, word)
        look = Look(False, negative, dfa, end_dfa)
    nfa.looks.append(look)
    return len(nfa.looks) - 1


def _look_body(body, word: Ranges) -> tuple[ByteDFA | None, ByteDFA | None]:
    """The DFAs of a look-ahead's body: ``P``, or for ``Q(?!C)`` (C one character class, how
    keywords end inside a keyword-excluding look-ahead) ``Q[^C]`` and ``Q`` (``Q`` is a match of
    the body at the end of the text)."""
    items = list(body[1]) if body[0] == "seq" else [body]
    last = items[-1] if items else None
    if last is not None and last[0] == "look" and last[1] == "!" and last[2][0] == "set":
        head = ("seq", tuple(items[:-1])) if len(items) > 2 else items[0] if len(items) == 2 else ("empty",)
        other = tuple(complement_ranges(list(last[2][1])))
        return _byte_dfa(("seq", (head, ("set", other))), word, "a look-ahead"), _byte_dfa(head, word, "a look-ahead")
    return _byte_dfa(body, word, "a look-ahead"), None


def _anchor(kind: str, nfa: Nfa, word: Ranges, target: int) -> int:
    """Anchors as look-arounds of one character: see the module docstring."""
    any_char = ("set", ANY)
    word_set = ("set", word)
    looks: dict[str, list[tuple[str, Any]]] = {  # anchor -> its look-around (kind, tree)
        "^": [("<!", any_char)],
        "\\A": [("<!", any_char)],
        "$": [("!", ("alt", (("set", tuple(complement_ranges([(10, 10)]))), ("seq", (("set", ((10, 10),)), any_char)))))],
        "\\Z": [("!", any_char)],
        "\\z": [("!", any_char)],
    }
    if kind in looks:
        ((look_kind, body),) = looks[kind]
        return nfa.node(LOOK, _add_look(nfa, look_kind, body, word), target)
    if kind in ("\\b", "\\B"):
        # \b: a word character behind and none ahead, or none behind and one ahead; \B the others.
        pairs = [("<=", "!"), ("<!", "=")] if kind == "\\b" else [("<=", "="), ("<!", "!")]
        branches = []
        for behind, ahead in pairs:
            second = nfa.node(LOOK, _add_look(nfa, ahead, word_set, word), target)
            branches.append(nfa.node(LOOK, _add_look(nfa, behind, word_set, word), second))
        return nfa.node(EPS, branches)
    raise TerminalError(f"it uses the anchor {kind}, which awrs does not support in a terminal")


def _byte_dfa(tree, word: Ranges, what: str) -> ByteDFA | None:
    """The byte DFA of a look-around-free tree (None when it matches nothing)."""
    nfa = Nfa()
    match = nfa.node(MATCH)
    start = thompson(tree, nfa, word, match)
    if nfa.looks:
        raise TerminalError(f"it nests a look-around inside {what}")
    try:
        return build_byte_dfa(*_char_automaton(nfa, start, match), max_states=MAX_LOOK_STATES)
    except EmptyLanguageError:
        return None
    except ConstraintError as exc:
        raise TerminalError(f"{what} is too large: {exc}") from None


def _char_automaton(nfa: Nfa, start: int, match: int) -> CharAutomaton:
    """The plain (unordered) automaton ``(n, initial, finals, transitions)``, epsilons removed:
    order, repeats and look-arounds read as plain epsilons (callers refuse look-arounds)."""
    eps = [c[1] if c[0] == EPS else [c[2]] if c[0] in (LOOK, ITER) else [] for c in nfa.nodes]
    edges = [[(c[1], c[2])] if c[0] == CHAR else [] for c in nfa.nodes]
    return remove_epsilons(eps, edges, start, match)
