"""AWRS weights and SMC on composed constraints (awrs/constraints/compose.py): the enumerated
target of a composition is the one its parts define, and SMC's posterior approaches it as N
grows while locally constrained decoding stays biased."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import awrs
from awrs.constraints.compose import Free
from awrs.lm.mock import MockLM
from tests.exact import empirical, global_distribution, lcd_distribution, total_variation

# Tokens: "s" (prompts only), "a", "b", "c"; EOS is id 4.
TOKENS = [b"s", b"a", b"b", b"c"]
BUDGET = 4


def trap_lm() -> MockLM:
    """After "s", "a" is 9x likelier than "b"; "c" is rare after "a" and likely after "b". The
    compositions below need a "c" early, so LCD takes "a" and is forced into the rare "c"."""
    p = np.full((5, 5), 1e-9)
    p[0] = [1e-9, 0.88, 0.1, 0.02, 1e-9]  # after "s"
    p[1] = [1e-9, 0.45, 0.45, 0.01, 0.09]  # after "a": c is rare
    p[2] = [1e-9, 0.05, 0.04, 0.9, 0.01]  # after "b": c is likely
    p[3] = [1e-9, 0.4, 0.3, 0.1, 0.2]  # after "c"
    p[4] = [0.2] * 5
    return MockLM(TOKENS, np.log(p / p.sum(axis=1, keepdims=True)))


def _no_bb(text: str) -> bool:
    return "bb" not in text


COMPOSITIONS = {
    # free text to "c" in at most 2 bytes, then one letter
    "sequence": (
        lambda: Free(until="c", max_bytes=2) + awrs.Regex("[ab]+"),
        lambda t: any(
            t[:i].endswith("c") and "c" not in t[: i - 1] and i <= 2 and awrs.Regex("[ab]+").accepts(t[i:])
            for i in range(1, len(t) + 1)
        ),
    ),
    # a regular part and a Python predicate (not one DFA)
    "intersection": (
        lambda: awrs.Regex("[ab]?c[abc]*") & awrs.Predicate(prefix=_no_bb),
        lambda t: awrs.Regex("[ab]?c[abc]*").accepts(t) and _no_bb(t),
    ),
    "union": (
        lambda: awrs.Regex("ac[ab]") | awrs.Regex("bca*"),
        lambda t: awrs.Regex("ac[ab]").accepts(t) or awrs.Regex("bca*").accepts(t),
    ),
}


def _target_from_parts(lm: MockLM, truth) -> tuple[dict[str, float], float]:
    """g(text) ∝ p(tokens, EOS) over every token sequence of at most BUDGET tokens whose text
    the parts accept (checked on the whole text only: no prefix check is involved)."""
    masses: dict[str, float] = {}
    eos = len(TOKENS)
    for n in range(BUDGET + 1):
        for seq in itertools.product(range(len(TOKENS)), repeat=n):
            text = b"".join(TOKENS[t] for t in seq).decode()
            if not truth(text):
                continue
            logp, context = 0.0, [0]
            for tok in [*seq, eos]:
                logits = np.asarray(lm.next_logits(tuple(context)), dtype=np.float64)
                logp += logits[tok] - np.logaddexp.reduce(logits)
                context.append(tok)
            masses[text] = masses.get(text, 0.0) + math.exp(logp)
    total = sum(masses.values())
    return {k: v / total for k, v in masses.items()}, total


@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_the_enumerated_target_of_a_composition_is_the_one_its_parts_define(name):
    make, truth = COMPOSITIONS[name]
    lm = trap_lm()
    g, total = global_distribution(lm, [0], make(), BUDGET)
    want, want_total = _target_from_parts(lm, truth)
    g = {k.decode(): v for k, v in g.items()}
    assert set(g) == set(want)
    for k in want:
        assert g[k] == pytest.approx(want[k], rel=1e-9, abs=1e-15), k
    assert total == pytest.approx(want_total, rel=1e-9)


@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_smc_on_a_composition_approaches_its_target_as_n_grows_and_lcd_does_not(name):
    """300 runs per N (1, 4, 16, 64), one posterior draw each: the TV estimate's sampling noise over a handful
    of outcomes is that of an exact sampler's 300 draws (simulated: the floor), and N = 64 must
    come within 0.05 of it; LCD's bias is checked to be large first, so the test can tell SMC
    from it. The mean weight is unbiased for Z (4 s.e.)."""
    make, _ = COMPOSITIONS[name]
    lm = trap_lm()
    c = make()
    g, total = global_distribution(lm, [0], c, BUDGET)
    lcd = lcd_distribution(lm, [0], c, BUDGET)
    assert total_variation(lcd, g) > 0.4, (lcd, g)

    def draws(n: int) -> tuple[list[bytes], list[float]]:
        out, weights = [], []
        for seed in range(300):
            r = awrs.generate(lm, "s", c, method="smc", n_particles=n, max_new_tokens=BUDGET, seed=seed)
            out.append(r.text.encode())
            weights.append(r.weight)
        return out, weights

    tv = {}
    for n in (1, 4, 16, 64):
        texts, weights = draws(n)
        tv[n] = total_variation(empirical(texts), g)
        w = np.array(weights)
        assert abs(w.mean() - total) < 4 * w.std() / math.sqrt(len(w)) + 1e-12, (n, w.mean(), total)
    # What an exact sampler's 300 draws score (the TV estimate's floor over this many outcomes).
    rng = np.random.default_rng(7)
    keys = list(g)
    floor = np.mean([total_variation(empirical(rng.choice(keys, 300, p=[g[k] for k in keys])), g) for _ in range(50)])
    assert tv[1] > 0.3 and tv[4] < tv[1] and tv[16] < tv[4] and tv[64] < tv[16] + 0.03, tv
    assert tv[64] < floor + 0.05, (tv, floor)
