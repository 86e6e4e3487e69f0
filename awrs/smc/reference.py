"""Sequential Monte Carlo as docs/algorithm.md §4 states it: the reference for :mod:`awrs.smc`.

Plain loops, one particle at a time, a fresh forward pass for every particle and step (no KV
cache, no batch): :func:`effective_sample_size` and :func:`resample` behind the interface of
:mod:`awrs.smc.resampling`, and :func:`run_particles` behind that of
:func:`awrs.smc.run_particles` (without critics, twists or stop strings), whose proposals are
the sampler's reference steps (:mod:`awrs.sampler.reference`). Given generators seeded alike,
the reference and the engine draw the same ancestors and the same tokens, and their weights agree
up to rounding (tests/smc/test_reference.py): the reference takes its random numbers from the
generator in the engine's order and amounts (docs/algorithm.md §4.3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

import numpy as np

from awrs.constraints.base import Constraint
from awrs.errors import GenerationError
from awrs.lm.base import LanguageModel
from awrs.sampler import Step
from awrs.sampler import reference as sampler
from awrs.sampler.proposal import AwrsProposal, GreedyProposal, LcdProposal, MaskProposal, Proposal
from awrs.smc.engine import SMCConfig

__all__ = ["Particle", "Run", "effective_sample_size", "normalised", "resample", "run_particles"]

SCHEMES = ("multinomial", "systematic", "stratified", "residual")


def normalised(log_weights: Sequence[float]) -> np.ndarray:
    """``w_i / sum_j w_j`` from log weights (scaled by the largest first, so nothing overflows)."""
    lw = np.asarray(log_weights, dtype=np.float64)
    w = np.exp(lw - lw.max())
    return w / w.sum()


def effective_sample_size(log_weights: Sequence[float]) -> float:
    """docs/algorithm.md §4.2: ``1 / sum_i w_i^2`` over normalised weights; 0 when every
    weight is 0."""
    if len(log_weights) == 0 or not max(log_weights) > -math.inf:
        return 0.0
    w = normalised(log_weights)
    return float(1.0 / np.sum(w * w))


def resample(
    log_weights: Sequence[float], rng: np.random.Generator, scheme: str = "systematic", n: int | None = None
) -> np.ndarray:
    """docs/algorithm.md §4.3: ``n`` ancestor indices (sorted) drawn by ``scheme``; each
    particle's expected number of copies is ``n`` times its normalised weight."""
    if scheme not in SCHEMES:
        raise GenerationError(f"unknown resampling scheme {scheme!r}: use one of {sorted(SCHEMES)}")
    if not max(log_weights) > -math.inf:
        raise GenerationError("cannot resample: every particle has weight zero")
    w = normalised(log_weights)
    n = len(w) if n is None else n
    if scheme == "multinomial":  # n independent draws
        ancestors = inverse_cdf(w, rng.random(n))
    elif scheme == "systematic":  # one uniform, shifted by 1/n
        u = rng.random()
        ancestors = inverse_cdf(w, [(u + j) / n for j in range(n)])
    elif scheme == "stratified":  # one uniform in each n-th of [0, 1)
        us = rng.random(n)
        ancestors = inverse_cdf(w, [(us[j] + j) / n for j in range(n)])
    else:  # residual: floor(n w_i) copies of each, the rest multinomially from what is left
        copies = [math.floor(n * w[i]) for i in range(len(w))]
        ancestors = [i for i in range(len(w)) for _ in range(copies[i])]
        rest = n - sum(copies)
        if rest > 0:
            left = n * w - np.array(copies)
            ancestors += inverse_cdf(left / left.sum(), rng.random(rest))
    return np.array(sorted(ancestors), dtype=np.int64)


def inverse_cdf(w: np.ndarray, points: Iterable[float]) -> list[int]:
    """For each point ``u`` in [0, 1): the first ``i`` with ``u < w_0 + ... + w_i``, the
    cumulative sums divided by their total (so the last bin ends at 1)."""
    cdf, running = [], 0.0
    for x in w:
        running += x
        cdf.append(running)
    cdf = [c / running for c in cdf]
    return [next(i for i, c in enumerate(cdf) if u < c) for u in points]


def log_mean_exp(log_weights: Sequence[float]) -> float:
    """``log(mean_i exp(lw_i))``: the log of the mean weight, -inf when every weight is 0."""
    lw = np.asarray(log_weights, dtype=np.float64)
    if len(lw) == 0 or not lw.max() > -math.inf:
        return -math.inf
    return float(lw.max() + np.log(np.exp(lw - lw.max()).mean()))


@dataclass
class Particle:
    """One sequence: its tokens, constraint state, log weight, why it stopped (None while it
    runs: ``"eos"``, ``"max_new_tokens"`` or ``"dead_end"``) and the checks it spent."""

    state: Any
    tokens: list[int] = field(default_factory=list)
    log_weight: float = 0.0
    stop_reason: str | None = None
    finished: bool = False
    checks: int = 0


class Run(NamedTuple):
    """The final particles, ``log_ml`` (the log of their mean weight), the ESS after every step
    that could resample, how many times the population was resampled, and the checks of every
    step taken (by particles resampling dropped too)."""

    particles: list[Particle]
    log_ml: float
    ess_history: list[float]
    n_resamples: int
    constraint_checks: int


def run_particles(
    lm: LanguageModel, prompt_ids: Sequence[int], constraint: Constraint, config: SMCConfig, rng: np.random.Generator
) -> Run:
    """docs/algorithm.md §4: ``config.n_particles`` particles extended one token per step, in
    index order, by the proposal of ``config``; after each step the population is resampled
    when its ESS falls below ``ess_threshold * N``; at the budget every running particle ends
    with EOS (weight ``p(EOS) * complete``)."""
    if config.stop_strings or config.twist:
        raise GenerationError("the reference SMC loop has no stop strings and no twist")
    space = Candidates(lm, constraint, config.extra_eos_ids)
    n = config.n_particles
    particles = [Particle(constraint.initial()) for _ in range(n)]
    history: list[float] = []
    resamples = checks = 0
    for t in range(config.max_new_tokens + 1):
        running = [p for p in particles if p.stop_reason is None]
        if not running:
            break
        forced = t == config.max_new_tokens
        for p in running:
            checks += extend(p, list(prompt_ids), space, config, rng, forced)
        if config.ess_threshold > 0 and n > 1 and not forced:
            log_w = [p.log_weight for p in particles]
            history.append(effective_sample_size(log_w))
            if history[-1] < config.ess_threshold * n and max(log_w) > -math.inf:
                mean = log_mean_exp(log_w)  # every copy gets the mean weight: log_ml stays unbiased
                particles = [
                    replace(particles[a], tokens=list(particles[a].tokens), log_weight=mean)
                    for a in resample(log_w, rng, config.resampling)
                ]
                resamples += 1
    return Run(particles, log_mean_exp([p.log_weight for p in particles]), history, resamples, checks)


class Candidates:
    """The candidates of every step (docs/algorithm.md §1): the vocabulary's tokens, then one
    EOS candidate whose mass is that of every end id; the tokens no state can take (special
    tokens, end ids, tokens with a byte the constraint never produces) are pruned."""

    def __init__(self, lm: LanguageModel, constraint: Constraint, extra_eos_ids: Sequence[int]):
        self.lm, self.constraint, self.vocab = lm, constraint, lm.vocab
        self.eos = len(self.vocab)
        self.eos_ids = sorted(set(self.vocab.eos_ids) | set(extra_eos_ids))
        self.never = np.append(~self.vocab.text_mask, False)
        self.never[self.eos_ids] = True
        never = constraint.never_tokens(self.vocab)
        if never is not None:
            self.never[: self.eos] |= never

    def row(self, ids: list[int], temperature: float) -> np.ndarray:
        """The model's next-token log-probabilities after ``ids``, as it gives them."""
        return self.lm.start([ids]).logprobs(temperature)[0]

    def logprobs(self, row: np.ndarray, as_row: bool = False) -> np.ndarray:
        """The candidates' log-probabilities, EOS last (the log-sum-exp of the end ids), as
        float64; ``as_row``: in the row's own float type (a greedy step only compares them; an
        AWRS or LCD step weighs a float32 row in float32: docs/sampler.md, "Weights in the
        row's precision")."""
        top = max(float(row[e]) for e in self.eos_ids)
        eos = top + math.log(sum(math.exp(float(row[e]) - top) for e in self.eos_ids)) if top > -math.inf else -math.inf
        return np.append(row.astype(np.float64), eos).astype(row.dtype if as_row else np.float64)

    def accept(self, state: Any, x: int) -> bool:
        """``c(x)``: the text stays a viable prefix (a token), or is complete (EOS)."""
        if x == self.eos:
            return self.constraint.is_complete(state)
        return self.constraint.advance(state, self.vocab.tokens[x]) is not None

    def pruned(self, state: Any) -> np.ndarray:
        """What a step skips from ``state``: every token when the text is final, else what no
        state takes and the tokens the constraint's cheap check refuses."""
        if self.constraint.is_final(state):
            return np.arange(self.eos + 1) != self.eos
        impossible = self.constraint.impossible_tokens(state, self.vocab)
        return self.never if impossible is None else self.never | np.append(impossible, False)

    def refused(self, state: Any) -> np.ndarray | None:
        """The tokens whose first byte cannot come next (docs/algorithm.md §3.5), or None."""
        allowed = self.constraint.next_bytes(state)
        if allowed is None:
            return None
        first = self.vocab.first_byte
        return np.append((first >= 0) & ~np.asarray(allowed)[first], False)


def extend(p: Particle, prompt: list[int], space: Candidates, config: SMCConfig, rng, forced: bool) -> int:
    """One step of one particle (docs/algorithm.md §4.1): a token, its weight, the new state;
    returns the checks it made."""
    row = space.row(prompt + p.tokens, config.temperature)
    if forced:  # the budget is spent: end here, with weight p(EOS) * complete
        complete = space.accept(p.state, space.eos)
        step = Step(space.eos if complete else None, space.logprobs(row)[space.eos] if config.weighted and complete else 0.0, 1)
    else:
        step = propose(row, p.state, space, config.proposal, rng)
    p.checks += step.n_checks
    if step.token is None:
        p.log_weight, p.stop_reason = -math.inf, "max_new_tokens" if forced else "dead_end"
    elif step.token == space.eos:
        p.log_weight += step.log_weight
        p.stop_reason, p.finished = "max_new_tokens" if forced else "eos", True
    else:
        p.log_weight += step.log_weight
        p.tokens.append(step.token)
        p.state = space.constraint.advance(p.state, space.vocab.tokens[step.token])
    return step.n_checks


def propose(row: np.ndarray, state: Any, space: Candidates, proposal: Proposal, rng) -> Step:
    """docs/algorithm.md §3: the step of ``proposal`` (AWRS, LCD, greedy or masking)."""
    pruned = space.pruned(state)
    accept = lambda x: space.accept(state, x)
    narrow = lambda: space.refused(state)
    if isinstance(proposal, MaskProposal):
        allowed = np.array([not pruned[x] and accept(x) for x in range(space.eos + 1)])
        checks = int(space.vocab.text_mask.sum()) + 1
        return sampler.mask_step(space.logprobs(row), allowed, None if proposal.greedy else rng, n_checks=checks)
    if isinstance(proposal, GreedyProposal):
        return sampler.greedy_step(space.logprobs(row, as_row=True), accept, pruned, narrow=narrow)
    if isinstance(proposal, AwrsProposal):
        return sampler.awrs_step(
            space.logprobs(row, as_row=True), accept, rng, proposal.estimator, proposal.max_rejects, pruned, narrow=narrow
        )
    if isinstance(proposal, LcdProposal):
        lp = space.logprobs(row, as_row=True)
        return sampler.awrs_step(lp, accept, rng, "none", proposal.max_rejects, pruned, narrow=narrow)
    raise GenerationError(f"the reference has no step for {proposal!r}")
