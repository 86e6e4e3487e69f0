"""How steps combine: particles advanced in one batched forward pass per step.

Each particle has a token sequence, a constraint state, a row of the LM batch (its KV cache)
and a log weight. Every step reads the batch's next-token log-probabilities, proposes one
token per live particle (AWRS, plain LCD or masking), adds the step's log weight, and feeds
the new tokens of the particles still running in one forward pass. Particles that finish
(EOS) or die (weight 0) leave the batch. With ``ess_threshold > 0`` the population is
resampled when the effective sample size falls below ``ess_threshold * N``
(ALGORITHM.md section 4). One particle without resampling is the single-sequence case.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from awrs.constraints.base import Constraint
from awrs.errors import GenerationError
from awrs.lm.base import LanguageModel
from awrs.sampler.proposal import PROPOSALS, CandidateSpace, ProposalOptions, propose
from awrs.smc.resampling import RESAMPLERS, effective_sample_size, resample

__all__ = ["SMCConfig", "Trajectory", "RunRecord", "run_particles", "StopReason"]

#: Why a particle stopped: "eos" (chose to end), "max_new_tokens" (ended by the budget),
#: "dead_end" (no allowed candidate, or max_rejects reached: weight 0).
StopReason = str
Critic = Callable[[str], float]
TokenCallback = Callable[[int, bytes], None]


@dataclass(frozen=True)
class SMCConfig:
    """What to run. ``proposal`` is a key of :data:`awrs.sampler.proposal.PROPOSALS`."""

    proposal: str = "awrs"
    n_particles: int = 1
    ess_threshold: float = 0.0
    resampling: str = "systematic"
    max_new_tokens: int = 256
    temperature: float = 1.0
    options: ProposalOptions = field(default_factory=ProposalOptions)
    extra_eos_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.proposal not in PROPOSALS:
            raise GenerationError(f"unknown proposal {self.proposal!r}: use one of {sorted(PROPOSALS)}")
        if self.resampling not in RESAMPLERS:
            raise GenerationError(f"unknown resampling {self.resampling!r}: use one of {sorted(RESAMPLERS)}")
        if not isinstance(self.n_particles, int) or self.n_particles < 1:
            raise GenerationError(f"n_particles must be a positive integer, got {self.n_particles!r}")
        if not 0.0 <= self.ess_threshold <= 1.0:
            raise GenerationError(f"ess_threshold must be in [0, 1], got {self.ess_threshold!r}")
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 0:
            raise GenerationError(f"max_new_tokens must be a non-negative integer, got {self.max_new_tokens!r}")

    @property
    def weighted(self) -> bool:
        """Whether steps carry importance weights (AWRS and masking do; plain LCD and greedy don't)."""
        return self.proposal != "lcd" and self.options.estimator != "none" and not self.options.greedy


@dataclass
class Trajectory:
    """One particle: its tokens, constraint state and log weight."""

    state: Any
    tokens: list[int] = field(default_factory=list)
    log_weight: float = 0.0
    stop_reason: StopReason | None = None
    finished: bool = False  # ended with EOS (chosen, or forced at the budget while complete)
    checks: int = 0

    @property
    def running(self) -> bool:
        return self.stop_reason is None

    def copy(self, log_weight: float) -> Trajectory:
        return Trajectory(self.state, list(self.tokens), log_weight, self.stop_reason, self.finished, self.checks)


@dataclass(frozen=True)
class RunRecord:
    """What a run produced: the final particles and how the run went."""

    particles: list[Trajectory]
    log_ml: float
    ess_history: list[float]
    n_resamples: int
    constraint_checks: int
    proposals: int  # token steps taken over all particles (EOS steps included)
    forward_passes: int
    seconds: float
    prefill_seconds: float  # the prompt's forward pass
    sampling_seconds: float  # proposals and constraint checks (everything but the LM)


def run_particles(
    lm: LanguageModel,
    prompt_ids: Sequence[int],
    constraint: Constraint,
    config: SMCConfig,
    rng: np.random.Generator,
    *,
    critic: Critic | None = None,
    on_token: TokenCallback | None = None,
) -> RunRecord:
    """Run ``config.n_particles`` particles from one prompt until each finishes or dies."""
    started = time.perf_counter()
    space = CandidateSpace(lm.vocab, constraint, config.extra_eos_ids)
    n = config.n_particles
    batch = lm.start([list(prompt_ids)], copies=n)
    prefill_seconds = time.perf_counter() - started
    sampling_seconds = 0.0
    particles = [Trajectory(constraint.initial()) for _ in range(n)]
    live = list(range(n))  # live[row] = index of the particle in that batch row
    forward_passes, checks, n_resamples, proposals = 1, 0, 0, 0
    ess_history: list[float] = []
    for t in range(config.max_new_tokens + 1):
        if not live:
            break
        logprobs = batch.logprobs(config.temperature)
        step_started = time.perf_counter()
        forced = t == config.max_new_tokens
        moves: list[tuple[int, int]] = []  # (row, token) of the particles that continue
        for row, index in enumerate(live):
            particle = particles[index]
            token, spent = _step(particle, logprobs[row], space, config, rng, forced)
            checks += spent
            proposals += 1
            if token is not None:
                moves.append((row, token))
                if on_token is not None:
                    on_token(index, space.vocab.tokens[token])
        if config.ess_threshold > 0 and n > 1 and not forced:
            particles, moves, live, resampled = _maybe_resample(particles, moves, live, config, rng, ess_history)
            n_resamples += resampled
        else:
            live = [live[row] for row, _ in moves]
        sampling_seconds += time.perf_counter() - step_started
        if moves:
            batch.select([row for row, _ in moves])
            batch.extend([token for _, token in moves])
            forward_passes += 1
    if critic is not None:
        _apply_critic(particles, critic, space)
    return RunRecord(
        particles=particles,
        log_ml=_log_mean_exp([p.log_weight for p in particles]),
        ess_history=ess_history,
        n_resamples=n_resamples,
        constraint_checks=checks,
        proposals=proposals,
        forward_passes=forward_passes,
        seconds=time.perf_counter() - started,
        prefill_seconds=prefill_seconds,
        sampling_seconds=sampling_seconds,
    )


def _step(particle: Trajectory, logprobs: np.ndarray, space: CandidateSpace, config: SMCConfig, rng, forced: bool) -> tuple[int | None, int]:
    """Advance one particle by one token; returns (the text token it continues with or None, checks)."""
    cand = space.candidates(logprobs)
    checker = space.checker(particle.state)
    if forced:  # the budget is spent: end here with weight p(EOS) * complete
        complete = checker(space.eos_index)
        token, log_w, spent = (space.eos_index if complete else None), (cand[space.eos_index] if config.weighted else 0.0), 1
    else:
        step = propose(config.proposal, cand, checker, rng, config.options)
        token, log_w, spent = step.token, step.log_weight, step.n_checks
    particle.checks += spent
    if token is None:
        particle.log_weight = -math.inf
        particle.stop_reason = "max_new_tokens" if forced else "dead_end"
        return None, spent
    particle.log_weight += log_w
    if token == space.eos_index:
        particle.stop_reason = "max_new_tokens" if forced else "eos"
        particle.finished = True
        return None, spent
    particle.tokens.append(token)
    particle.state = checker.next_state(token)
    return token, spent


def _maybe_resample(particles, moves, live, config: SMCConfig, rng, ess_history):
    """Resample when ESS < threshold * N; returns the new particles, moves, live rows and 0/1."""
    n = len(particles)
    log_w = np.array([p.log_weight for p in particles])
    ess = effective_sample_size(log_w)
    ess_history.append(ess)
    row_of = {live[row]: k for k, (row, _) in enumerate(moves)}  # particle -> position in moves
    if ess >= config.ess_threshold * n or not np.isfinite(log_w.max()):
        return particles, moves, [live[row] for row, _ in moves], 0
    ancestors = resample(log_w, rng, config.resampling)
    mean = _log_mean_exp(log_w.tolist())
    new_particles = [particles[a].copy(mean) for a in ancestors]
    new_moves, new_live = [], []
    for j, a in enumerate(ancestors):
        if a in row_of:
            new_moves.append(moves[row_of[a]])
            new_live.append(j)
    return new_particles, new_moves, new_live, 1


def _apply_critic(particles: list[Trajectory], critic: Critic, space: CandidateSpace) -> None:
    for p in particles:
        if p.finished and np.isfinite(p.log_weight):
            text = space.vocab.decode(p.tokens).decode("utf-8", errors="replace")
            p.log_weight += float(critic(text))


def _log_mean_exp(values: list[float]) -> float:
    arr = np.asarray(values, dtype=np.float64)
    top = arr.max() if len(arr) else -np.inf
    if not np.isfinite(top):
        return -math.inf
    return float(top + np.log(np.exp(arr - top).mean()))
