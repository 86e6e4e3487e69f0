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

from collections.abc import Mapping
from typing import Any, NamedTuple

from awrs.constraints.base import Constraint
from awrs.constraints.grammar.compile import CompiledGrammar, compile_grammar
from awrs.constraints.grammar.earley import Chart
from awrs.errors import ConstraintError

__all__ = ["Grammar"]

BOUNDARY = -1  # lexer state at a token boundary (nothing of the next token read yet)


class Hypothesis(NamedTuple):
    chart: Chart
    lex: int  # lexer DFA state inside the current token, or BOUNDARY
    forbid: Any  # bytes that may not come next (follow restriction), or None


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
    """

    def __init__(self, text: str, start: str = "start", *, terminals: Mapping[str, str] | None = None):
        if not isinstance(text, str):
            raise ConstraintError(f"a grammar must be Lark text (str), got {type(text).__name__}")
        self.text = text
        self.start = start
        self._g: CompiledGrammar = compile_grammar(text, start, terminals)
        self._init = (Hypothesis(Chart.initial(self._g.rules), BOUNDARY, None),)

    def __repr__(self) -> str:
        return f"Grammar(start={self.start!r}, {len(self._g.rules.rules)} rules, {len(self._g.terminal_names)} terminals)"

    def initial(self) -> tuple[Hypothesis, ...]:
        return self._init

    def advance(self, state: tuple[Hypothesis, ...], data: bytes) -> tuple[Hypothesis, ...] | None:
        for b in data:
            nxt: dict[tuple, Hypothesis] = {}
            for h in state:
                for h2 in self._step(h, b):
                    nxt.setdefault((id(h2.chart), h2.lex, id(h2.forbid)), h2)
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
        if not g.lexer.accept[h.lex] & significant or any(c.chart.expected for c in self._commits(h)):
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
        if h.lex != BOUNDARY:
            nxt = rows[h.lex][b]
            if nxt >= 0 and live[nxt] & self._allowed_cached(h.chart):
                yield Hypothesis(h.chart, nxt, None)
            for boundary in self._commits(h):  # the token may also end here
                yield from self._start_token(boundary, b)
        else:
            yield from self._start_token(h, b)

    def _start_token(self, h: Hypothesis, b: int):
        if h.forbid is not None and h.forbid[b]:
            return
        nxt = self._g.lexer.rows[0][b]
        if nxt >= 0 and self._g.lexer.live[nxt] & self._allowed_cached(h.chart):
            yield Hypothesis(h.chart, nxt, None)

    def _commits(self, h: Hypothesis):
        """Every way the token read so far can end as one allowed terminal."""
        g = self._g
        done = g.lexer.accept[h.lex] & self._allowed_cached(h.chart)
        while done:  # set bits only, lowest first
            low = done & -done
            done ^= low
            k = low.bit_length() - 1
            term = g.lexeme_terminal[k]
            chart = h.chart if term < 0 else h.chart.scan(term)
            if chart is not None:
                yield Hypothesis(chart, BOUNDARY, g.follow[k])

    def _can_end(self, h: Hypothesis) -> bool:
        if h.lex == BOUNDARY:
            return h.chart.accepting
        return any(c.chart.accepting for c in self._commits(h))

    def _allowed_cached(self, chart: Chart) -> int:
        cache = chart._next  # the chart's memo dict also holds this mask under a key no terminal uses
        mask = cache.get(-1)
        if mask is None:
            mask = cache[-1] = self._allowed(chart)
        return mask
