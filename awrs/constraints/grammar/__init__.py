"""``awrs.Grammar``: strings of a Lark context-free grammar, checked exactly byte by byte.

The state is a small set of *hypotheses*, one per way of cutting the bytes so far into tokens:
an Earley chart over the terminals read so far, the state of the lexer automaton inside the
current token (or none at a token boundary), and the follow restriction of the last token.
Inside a token each byte costs one table lookup and a bitmask test against the terminals the
chart expects; a token boundary is tried only when the next byte could not continue the token
alone, or as an alternative, and scanning a terminal is memoised on the (immutable) chart.
docs/grammars.md explains why this design (Earley over terminals with a lexer that keeps every
live tokenisation) rather than LALR.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Literal, NamedTuple

from awrs.constraints.base import Constraint
from awrs.constraints.grammar.compile import CompiledGrammar, Lexemes, compile_grammar
from awrs.constraints.grammar.earley import Chart
from awrs.constraints.grammar.terminals import NOTHING, Follow
from awrs.errors import ConstraintError

__all__ = ["Grammar"]

BOUNDARY = -1  # lexer state at a token boundary (nothing of the next token read yet)

#: How many of the charts its scans made last a :class:`Grammar` holds (beside the states that
#: hold theirs). The sampler checks many candidate tokens that end the current token the same way,
#: most of them refused: without this, each refusal freed the chart its scan made (charts are
#: memoised by weak reference) and the next candidate made it again. On the SQL benchmark
#: (16 steps, a fresh ring each run) 1,000-1,640 Earley columns were made at 64 particles
#: without it, 105-175 with it; 3,250-3,370 and 295-322 at 256. Freed with the Grammar.
RECENT_COLUMNS = 512


class Hypothesis(NamedTuple):
    chart: Chart
    lex: int  # lexer DFA state inside the current token, or BOUNDARY
    follow: Follow | None  # what the text from here must hold (the tokens' look-aheads...), or None


class Grammar(Constraint):
    """Strings of the Lark grammar ``text`` starting from rule ``start``.

    The language is the grammar's context-free language with terminals matched as regular
    expressions and ``%ignore``'d terminals allowed between tokens — what Lark's Earley parser
    with ``lexer="dynamic_complete"`` accepts. Raises :class:`~awrs.errors.ConstraintError`
    for a grammar that does not parse, names an undefined rule or derives nothing.
    Generation stops once the text can take no further terminal (:meth:`is_final`): ignored
    text after the last terminal is accepted but never generated.

    ``terminals`` maps terminal names to regular expressions that replace their definitions in
    ``text``: Lark's reading of a grammar is memoised by text, so one grammar serves many
    variants (``awrs.SQL`` swaps in each schema's table and column names this way).

    ``flags`` are ``re`` flags for every terminal, as Lark's ``g_regex_flags``: ``re.ASCII``
    (``\\w``, ``\\d``, ``\\s``, ``\\b`` and case-insensitive matching ASCII-only; terminals
    otherwise mean what Python's ``re`` means, Unicode included), ``re.IGNORECASE``,
    ``re.DOTALL``, ``re.MULTILINE``.
    """

    bytewise = True  # advance reads byte by byte (awrs.SQL's whole-text check at ";" refuses what follows too)
    byte_steps = True  # a fold over the bytes (advance loops over them), its states tuples of hash-consed hypotheses

    def __init__(self, text: str, start: str = "start", *, terminals: Mapping[str, str | Lexemes] | None = None, flags: int = 0):
        if not isinstance(text, str):
            raise ConstraintError(f"a grammar must be Lark text (str), got {type(text).__name__}")
        if not isinstance(start, str):
            raise ConstraintError(f"start must be the name of the grammar's top rule (str), got {type(start).__name__}")
        self.text = text
        self.start = start
        self._g: CompiledGrammar = compile_grammar(text, start, terminals, flags)
        self._init = (Hypothesis(Chart.initial(self._g.rules), BOUNDARY, None),)
        self._recent: deque[Chart] = deque(maxlen=RECENT_COLUMNS)

    def __repr__(self) -> str:
        return f"Grammar(start={self.start!r}, {len(self._g.rules.rules)} rules, {len(self._g.terminal_names)} terminals)"

    def initial(self) -> tuple[Hypothesis, ...]:
        return self._init

    def advance(self, state: tuple[Hypothesis, ...], data: bytes) -> tuple[Hypothesis, ...] | None:
        for b in data:
            nxt: dict[tuple, Hypothesis] = {}
            for h in state:
                for h2 in self._step(h, b):
                    nxt.setdefault((id(h2.chart), h2.lex, id(h2.follow)), h2)
            if not nxt:
                return None
            state = tuple(nxt.values())
        return state

    def is_complete(self, state: tuple[Hypothesis, ...]) -> bool:
        return any(self._can_end(h) for h in state)

    def is_final(self, state: tuple[Hypothesis, ...]) -> bool:
        """Complete, and no way of reading the text expects another terminal: only
        ``%ignore``'d text (whitespace) could follow, so generation ends here."""
        return self._nothing_follows(state) and self.is_complete(state)

    @property
    def approximations(self) -> tuple[tuple[str, str], ...]:
        """``(terminal, why)`` for each terminal whose tokens awrs reads only approximately as
        Lark does (docs/grammars.md); empty for almost every grammar."""
        return self._g.approximations

    def _nothing_follows(self, state: tuple[Hypothesis, ...]) -> bool:
        return all(self._final(h) for h in state)

    def _final(self, h: Hypothesis) -> bool:
        """No terminal can follow the text read by ``h``: its chart expects none (then any
        token being read is an ignored one), or it is inside a token that can end here, every
        way of ending it leaves a chart expecting none, and no byte continues it as anything
        but an ignored terminal."""
        if h.chart.expected == 0:
            return True
        if h.lex == BOUNDARY:
            return False
        g = self._g
        significant = self._allowed_cached(h.chart) & ~g.ignore_mask
        if not g.lexer.accept[h.lex] & significant or any(chart.expected for chart, _ in self._commits(h)):
            return False
        live = g.lexer.live
        return not any(nxt >= 0 and live[nxt] & significant for nxt in g.lexer.rows[h.lex])

    # --- one byte ----------------------------------------------------------------------

    def _allowed(self, chart: Chart) -> int:
        """Lexer automata that may produce the next token: expected terminals and ignored ones."""
        g = self._g
        expected = chart.expected
        mask = g.ignore_mask
        for k, t in enumerate(g.lexeme_terminal):
            if t >= 0 and expected >> t & 1:
                mask |= 1 << k
        return mask

    def _step(self, h: Hypothesis, b: int):
        g = self._g
        rows, live = g.lexer.rows, g.lexer.live
        pending = _after(h.follow, b)
        if pending is False:
            return
        if h.lex == BOUNDARY:
            yield from self._start_token(h.chart, pending, b)
            return
        nxt = rows[h.lex][b]
        if nxt >= 0 and live[nxt] & self._allowed_cached(h.chart):
            yield Hypothesis(h.chart, nxt, pending)
        for chart, k in self._commits(h):  # the token may also end before b
            after = _after(_both(h.follow, g.follow_of(h.lex, k)), b)
            if after is not False:
                yield from self._start_token(chart, after, b)

    def _start_token(self, chart: Chart, pending: Follow | None, b: int):
        nxt = self._g.lexer.rows[0][b]
        if nxt >= 0 and self._g.lexer.live[nxt] & self._allowed_cached(chart):
            yield Hypothesis(chart, nxt, pending)

    def _commits(self, h: Hypothesis):
        """Every way the token read so far can end as one allowed terminal: ``(chart after
        it, lexer automaton)``."""
        g = self._g
        done = g.lexer.accept[h.lex] & self._allowed_cached(h.chart)
        while done:  # set bits only, lowest first
            low = done & -done
            done ^= low
            k = low.bit_length() - 1
            term = g.lexeme_terminal[k]
            chart = h.chart if term < 0 else h.chart.scan(term, self._recent)
            if chart is not None:
                yield chart, k

    def _can_end(self, h: Hypothesis) -> bool:
        if h.lex == BOUNDARY:
            return h.chart.accepting and (h.follow is None or h.follow.at_end)
        for chart, k in self._commits(h):
            if chart.accepting:
                pending = _both(h.follow, self._g.follow_of(h.lex, k))
                if pending is None or pending.at_end:
                    return True
        return False

    def _allowed_cached(self, chart: Chart) -> int:
        # The chart's memo dict also holds this mask, under the compiled grammar (charts are
        # shared by the grammars of one text: SQL for different schemas)
        cache = chart._next
        mask = cache.get(self._g)
        if mask is None:
            mask = cache[self._g] = self._allowed(chart)
        return mask


def _both(a: Follow | None, b: Follow | None) -> Follow | None:
    if a is None:
        return b
    return a if b is None else a.merge(b)


def _after(pending: Follow | None, b: int) -> Follow | Literal[False] | None:
    """What is pending after byte ``b``: a Follow, None for nothing, False when ``b`` breaks it."""
    if pending is None:
        return None
    nxt = pending.step(b)
    if nxt is None:
        return False
    return None if nxt is NOTHING else nxt
