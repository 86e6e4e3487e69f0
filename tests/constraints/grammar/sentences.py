"""Random sentences of a compiled grammar (test helper): random derivations whose terminals
are random strings of their own regular languages, with ignored whitespace between tokens."""

from __future__ import annotations

import random


def random_token(g, term: int, rng: random.Random, max_len: int = 12) -> bytes | None:
    """A random printable string matched by grammar terminal ``term`` (a few tries)."""
    for _ in range(20):
        tok = _random_token_once(g, term, rng, max_len)
        if tok is not None:
            return tok
    return None


def _random_token_once(g, term: int, rng: random.Random, max_len: int) -> bytes | None:
    lexer = g.lexer
    options = [k for k, t in enumerate(g.lexeme_terminal) if t == term]
    k = rng.choice(options)
    bit = 1 << k
    state, out = 0, bytearray()

    def ends(state: int) -> bool:
        """A token can end here, followed by a space or by the end of the text."""
        if not lexer.accept[state] & bit:
            return False
        after = g.follow_of(state, k)
        return after is None or (after.at_end and after.step(ord(" ")) is not None)

    for _ in range(max_len * 4):
        if out and ends(state) and rng.random() < 0.4:
            return bytes(out)
        nexts = [b for b in range(32, 127) if lexer.rows[state][b] >= 0 and lexer.live[lexer.rows[state][b]] & bit]
        if not nexts:
            return bytes(out) if ends(state) else None
        b = rng.choice(nexts)
        out.append(b)
        state = lexer.rows[state][b]
    return bytes(out) if ends(state) else None


def _heights(rules) -> dict[int, float]:
    """The least derivation height of every rule (how soon it can bottom out in terminals)."""
    nt_height = {nt: float("inf") for nt in range(rules.n_nonterminals)}
    rule_height = [float("inf")] * len(rules.rules)
    changed = True
    while changed:
        changed = False
        for r, (lhs, rhs) in enumerate(rules.rules):
            h = 1 + max((nt_height[-1 - s] for s in rhs if s < 0), default=0)
            if h < rule_height[r]:
                rule_height[r] = h
                changed = True
            if h < nt_height[lhs]:
                nt_height[lhs] = h
                changed = True
    return rule_height


def random_sentence(g, rng: random.Random, max_depth: int = 6, space: bytes = b" ") -> bytes | None:
    rules = g.rules
    heights = _heights(rules)
    tokens: list[bytes] = []

    def expand(nt: int, depth: int) -> bool:
        options = list(rules.by_lhs[nt])
        if depth > max_depth:  # past the depth limit, only rules that bottom out soonest
            best = min(heights[r] for r in options)
            options = [r for r in options if heights[r] == best]
        r = rng.choice(options)
        for sym in rules.rules[r][1]:
            if sym >= 0:
                tok = random_token(g, sym, rng)
                if tok is None:
                    return False
                tokens.append(tok)
            elif not expand(-1 - sym, depth + 1):
                return False
        return True

    if not expand(rules.start, 0):
        return None
    return space.join(tokens)
