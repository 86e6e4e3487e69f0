"""The device path (awrs/sampler/device.py) on CPU tensors: the first candidates drawn by
Gumbel top-k are draws without replacement (Plackett-Luce), and the whole step — device
candidates, host continuation — samples the allowed tokens in proportion to the model and
weighs them with an unbiased estimate of the allowed mass, as the host path does.

``AWRS_TEST_DEVICE=cuda`` puts the rows on that device instead (benchmarks/gpu_checks.sh runs
these tests so on a lent GPU machine)."""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest

from awrs.constraints.base import Constraint
from awrs.lm.vocab import Vocabulary
from awrs.sampler import device
from awrs.sampler.proposal import AwrsProposal, LcdProposal
from awrs.sampler.space import CandidateSpace
from tests.exact import chi_square_pvalue, float32_weight_rel

torch = pytest.importorskip("torch")

#: Where the tests' rows are made (the device path draws its candidates there).
DEVICE = os.environ.get("AWRS_TEST_DEVICE", "cpu")


class Allowed(Constraint):
    """The tokens in ``allowed`` (by id) may come next, once; EOS when ``complete``.
    ``impossible``: what impossible_tokens says (a sound subset of the refused)."""

    def __init__(self, vocab: Vocabulary, allowed: set[int], complete: bool, impossible: set[int] = frozenset()):
        self.ok = {vocab.tokens[i] for i in allowed}
        self.complete, self.vocab, self.impossible = complete, vocab, impossible

    def initial(self):
        return 0

    def advance(self, state, data):
        return 1 if state == 0 and data in self.ok else None

    def is_complete(self, state):
        return self.complete and state == 0

    def impossible_tokens(self, state, vocab):
        if not self.impossible:
            return None
        out = np.zeros(len(vocab), dtype=np.bool_)
        out[list(self.impossible)] = True
        return out


def _case(seed: int, n: int = 12):
    rng = np.random.default_rng(seed)
    tokens = [f"t{i}".encode() for i in range(n)]
    vocab = Vocabulary.from_tokens(tokens, eos_ids=[n - 1], special_ids=[0])
    row = rng.normal(0, 2.5, n)
    row = row - np.logaddexp.reduce(row)
    return vocab, row.astype(np.float32).astype(np.float64)  # the rows the model hands out are float32


def _exact(vocab, row, allowed: set[int], complete: bool):
    """{candidate: p(candidate) among the allowed} and the allowed mass (EOS is len(vocab))."""
    p = {i: math.exp(row[i]) for i in allowed if i not in vocab.special_ids and i not in vocab.eos_ids}
    if complete:
        p[len(vocab)] = sum(math.exp(row[i]) for i in vocab.eos_ids)
    total = sum(p.values())
    return {i: v / total for i, v in p.items()}, total


def test_gumbel_top_k_is_plackett_luce():
    """The first two candidates drawn on the device, over 20,000 rows: chi-square against the
    probability of each ordered pair under draws without replacement."""
    vocab, row = _case(1, n=6)
    space = CandidateSpace(vocab, Allowed(vocab, set(), True), compact=False)
    rows = torch.tensor(np.tile(row, (20000, 1)), dtype=torch.float32)
    found = device.draw_candidates(rows, space, 2, torch.Generator().manual_seed(0))
    lp = space.candidates(rows[0].numpy())
    kept = [i for i in range(len(lp)) if not space.prune[i]]
    q = {i: math.exp(lp[i]) for i in kept}
    z = sum(q.values())
    assert np.allclose(found.log_kept, math.log(z), rtol=0, atol=1e-6)
    pairs = list(itertools.permutations(kept, 2))
    probs = [q[a] / z * q[b] / (z - q[a]) for a, b in pairs]
    index = {pair: k for k, pair in enumerate(pairs)}
    counts = np.zeros(len(pairs))
    for a, b in found.positions:
        counts[index[(int(a), int(b))]] += 1
    assert chi_square_pvalue(counts, probs) > 1e-3


CASES = [
    # (row seed, allowed, complete, impossible, k): common and rare allowed tokens, every fallback
    (10, {1, 2, 3, 4, 5}, True, set(), 16),
    (11, {7}, False, set(), 2),  # usually all k refused: the host goes on
    (12, {4, 9}, True, set(), 1),  # k = 1: the candidate after an accepted one is on the host
    (12, {4}, False, set(), 1),  # ... and is refused: the weight is the accepted one's mass
    (13, {2, 6}, False, {3, 5, 8, 10}, 3),  # the state's pruning applies on the host
    (14, set(), True, set(), 4),  # only EOS
]


@pytest.mark.parametrize("proposal", [AwrsProposal(), LcdProposal()])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_device_step_samples_the_allowed_tokens_and_weighs_them_without_bias(proposal, case, monkeypatch):
    """6,000 steps of one row (one call: each row its own Gumbels): the tokens' chi-square
    against p restricted to the allowed (p > 1e-3), and, for AWRS, the mean weight within 4
    standard errors of the allowed mass; every step ends with an allowed token."""
    seed, allowed, complete, impossible, k = CASES[case]
    vocab, row = _case(seed)
    monkeypatch.setattr(device, "MODE", "always")
    monkeypatch.setattr(device, "DEFAULT_K", k)
    target, mass = _exact(vocab, row, allowed, complete)
    space = CandidateSpace(vocab, Allowed(vocab, allowed, complete, impossible), compact=False)
    n = 6000
    rows = torch.tensor(np.tile(row, (n, 1)), dtype=torch.float32, device=DEVICE)
    checkers = [space.checker(0) for _ in range(n)]
    steps = list(proposal.propose_rows(rows, checkers, np.random.default_rng(case)))
    tokens = [s.token for s in steps]
    assert set(tokens) <= set(target)
    outcomes = sorted(target)
    counts = np.array([tokens.count(t) for t in outcomes], dtype=float)
    if len(outcomes) > 1:
        assert chi_square_pvalue(counts, [target[t] for t in outcomes]) > 1e-3, (counts, target)
    if proposal.weighted:
        w = np.exp([s.log_weight for s in steps])
        assert abs(w.mean() - mass) < 4 * w.std() / math.sqrt(n) + float32_weight_rel(row) * mass, (w.mean(), mass)
    else:
        assert all(s.log_weight == 0.0 for s in steps)


def test_the_device_path_takes_torch_rows_only_as_its_mode_says(monkeypatch):
    rows = torch.zeros((2, 3))
    monkeypatch.setattr(device, "MODE", "auto")
    assert not device.use_device(rows) and not device.use_device(np.zeros((2, 3)))  # CPU tensors stay on the host path
    monkeypatch.setattr(device, "MODE", "always")
    assert device.use_device(rows) and not device.use_device(np.zeros((2, 3)))
    monkeypatch.setattr(device, "MODE", "never")
    assert not device.use_device(rows)
    assert isinstance(device.as_host(rows), np.ndarray)


def test_smc_through_the_device_path_approaches_the_global_target(monkeypatch):
    """The toy model of tests/smc/test_smc.py whose batches hand out torch rows: SMC on the
    device path (MODE "always", k = 2 so the host continuation runs too) matches the exact
    target within the sampling noise, and LCD there is the LCD distribution."""
    import awrs
    from awrs.lm.mock import MockBatch
    from tests.exact import empirical, global_distribution, lcd_distribution, total_variation
    from tests.smc.test_smc import BUDGET, CONSTRAINT, trap_lm

    monkeypatch.setattr(device, "MODE", "always")
    monkeypatch.setattr(device, "DEFAULT_K", 2)
    monkeypatch.setattr(
        MockBatch, "logprobs_tensor", lambda self, t=1.0: torch.from_numpy(self.logprobs(t)).to(DEVICE), raising=False
    )
    used = []
    steps = device.device_steps
    monkeypatch.setattr(device, "device_steps", lambda *a, **k: used.append(1) or steps(*a, **k))
    from awrs.sampler import proposal as module

    monkeypatch.setattr(module, "device_steps", device.device_steps)
    lm = trap_lm()
    g, _ = global_distribution(lm, [0], CONSTRAINT, BUDGET)
    lcd = lcd_distribution(lm, [0], CONSTRAINT, BUDGET)
    draws = [
        awrs.generate(lm, "s", CONSTRAINT, method="smc", n_particles=32, max_new_tokens=BUDGET, seed=s).text.encode()
        for s in range(300)
    ]
    assert used, "the device path ran"
    assert total_variation(empirical(draws), g) < 0.08
    lcd_draws = [
        awrs.generate(lm, "s", CONSTRAINT, method="lcd", max_new_tokens=BUDGET, seed=s).text.encode() for s in range(400)
    ]
    assert total_variation(empirical(lcd_draws), lcd) < 0.08


@pytest.mark.model
def test_the_device_step_on_the_default_models_row_matches_the_exact_allowed_distribution(default_lm, monkeypatch):
    """A row of the default model after a JSON prompt and "{", under a JSON Schema (about 0.7
    of the mass allowed, over some 200 tokens): 3,000 device steps (k = 16) against p restricted to the allowed tokens (found by
    checking every token): chi-square with small outcomes pooled, and the mean weight within
    4 standard errors of the allowed mass."""
    import awrs
    from tests.exact import chi_square_against

    monkeypatch.setattr(device, "MODE", "always")
    schema = awrs.JsonSchema(
        {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}
    )
    prefix = b"{"
    prompt = default_lm.encode_prompt([{"role": "user", "content": "Give a person's name as JSON."}])
    ids = list(prompt) + list(default_lm.tokenizer.encode(prefix.decode(), add_special_tokens=False))
    row = default_lm.start([ids]).logprobs()[0]
    space = CandidateSpace(default_lm.vocab, schema)
    state = schema.walk(prefix)
    allowed = space.checker(state).mask()
    lp = space.candidates(row)
    p = np.where(allowed, np.exp(lp), 0.0)
    mass = p.sum()
    assert 0.05 < mass < 0.95  # the weight varies from step to step: the test can tell a biased mean
    exact = {int(i): float(p[i] / mass) for i in np.flatnonzero(p)}
    n = 3000
    rows = torch.tensor(np.tile(row, (n, 1)), device=DEVICE)
    steps = list(AwrsProposal().propose_rows(rows, [space.checker(state) for _ in range(n)], np.random.default_rng(0)))
    assert all(s.token is not None and allowed[s.token] for s in steps)
    assert chi_square_against([s.token for s in steps], exact) > 1e-3
    w = np.exp([s.log_weight for s in steps])
    assert abs(w.mean() - mass) < 4 * w.std() / math.sqrt(n) + 1e-9, (w.mean(), mass)
