"""Exact distributions on a mock LM by enumerating every token sequence (test oracles).

Sequences end at a final state (``Constraint.is_final``), as generation does: the target is
the language generation produces, without trailing text a final string could still take."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np


def _next_logprobs(lm, context):
    logits = np.asarray(lm.next_logits(tuple(context)), dtype=np.float64)
    return logits - np.logaddexp.reduce(logits)


def _walk(lm, prompt, constraint, max_new_tokens, visit):
    """Depth-first over every sequence: visit(tokens, state, logp_row, depth)."""
    eos = lm.eos_id

    def rec(tokens, state):
        lp = _next_logprobs(lm, list(prompt) + tokens)
        visit(tokens, state, lp, len(tokens) == max_new_tokens)
        if len(tokens) == max_new_tokens or constraint.is_final(state):  # a final text only ends
            return
        for tok, data in enumerate(lm.vocab.tokens):
            if tok == eos:
                continue
            nxt = constraint.advance(state, data)
            if nxt is not None:
                rec([*tokens, tok], nxt)

    rec([], constraint.initial())


def global_distribution(lm, prompt, constraint, max_new_tokens):
    """g(text) ∝ p(tokens, EOS) * complete, over sequences of at most max_new_tokens tokens.
    Returns ({text: probability}, total mass of valid strings)."""
    masses = defaultdict(float)
    eos = lm.eos_id
    path_logp = {(): 0.0}

    def visit(tokens, state, lp, at_budget):
        base = path_logp[tuple(tokens)]
        if constraint.is_complete(state):
            masses[lm.vocab.decode(tokens)] += math.exp(base + lp[eos])
        for tok in range(len(lm.vocab)):
            if tok != eos:
                path_logp[(*tuple(tokens), tok)] = base + lp[tok]

    _walk(lm, prompt, constraint, max_new_tokens, visit)
    total = sum(masses.values())
    return {k: v / total for k, v in masses.items()}, total


def lcd_distribution(lm, prompt, constraint, max_new_tokens):
    """The locally constrained decoding distribution (what masking samples), with EOS forced at
    the budget when the text is complete. Returns {text: probability} over finished texts."""
    out = defaultdict(float)
    eos = lm.eos_id
    path = {(): 1.0}

    def visit(tokens, state, lp, at_budget):
        prob = path[tuple(tokens)]
        complete = constraint.is_complete(state)
        if at_budget:
            if complete:
                out[lm.vocab.decode(tokens)] += prob
            return
        final = constraint.is_final(state)
        allowed = np.array(
            [
                (complete if tok == eos else not final and constraint.advance(state, data) is not None)
                for tok, data in enumerate(lm.vocab.tokens)
            ]
        )
        p = np.exp(lp) * allowed
        z = p.sum()
        if z == 0:
            return
        if complete:
            out[lm.vocab.decode(tokens)] += prob * p[eos] / z
        for tok in np.flatnonzero(allowed):
            if tok != eos:
                path[(*tuple(tokens), int(tok))] = prob * p[tok] / z

    _walk(lm, prompt, constraint, max_new_tokens, visit)
    return dict(out)


def total_variation(p: dict, q: dict) -> float:
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in keys)


def empirical(texts) -> dict:
    counts = defaultdict(float)
    for t in texts:
        counts[t] += 1
    n = sum(counts.values())
    return {k: v / n for k, v in counts.items()}


def chi_square_pvalue(counts, probs) -> float:
    """Upper-tail p-value of Pearson's chi-square statistic (Wilson-Hilferty approximation, so
    the tests need no scipy). ``counts`` and ``probs`` are aligned arrays; zero-probability
    bins must have zero counts."""
    from math import erf, sqrt

    counts = np.asarray(counts, dtype=float)
    probs = np.asarray(probs, dtype=float)
    expected = probs * counts.sum()
    keep = expected > 0
    assert counts[~keep].sum() == 0, "draws landed where the exact probability is zero"
    stat = float((((counts - expected) ** 2)[keep] / expected[keep]).sum())
    k = int(keep.sum()) - 1
    z = ((stat / k) ** (1 / 3) - (1 - 2 / (9 * k))) / sqrt(2 / (9 * k))
    return 0.5 * (1 - erf(z / sqrt(2)))


def chi_square_against(samples, exact: dict, min_expected: float = 5.0) -> float:
    """Chi-square p-value of samples against an exact distribution over outcomes, pooling the
    outcomes expected fewer than ``min_expected`` times into one bin."""
    n = len(samples)
    big = [k for k, p in exact.items() if p * n >= min_expected]
    small = set(exact) - set(big)
    counts = defaultdict(float)
    for s in samples:
        assert s in exact, f"{s!r} has exact probability zero"
        counts[s if s in big else "<pooled>"] += 1
    keys = big + (["<pooled>"] if small else [])
    probs = [exact[k] for k in big] + ([sum(exact[k] for k in small)] if small else [])
    return chi_square_pvalue([counts[k] for k in keys], probs)


def float32_weight_rel(row: np.ndarray) -> float:
    """How far, relatively (or in log space), a weight made from the float32 ``row`` may sit
    from the one exact arithmetic gives, by rounding alone: each kept weight is within
    (|lp - top| + 1) * 2**-23 of its exact value, |lp - top| at most the row's span and the
    87-nat window (docs/sampler.md, "Weights in the row's precision"), and a weight is a ratio
    of sums of them, so twice that."""
    finite = np.asarray(row, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    span = min(float(np.ptp(finite)), 87.0) if len(finite) else 0.0
    return 2 * (span + 1) * 2.0**-23
