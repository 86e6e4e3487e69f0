"""How steps combine: particles advanced in one batched forward pass per step.

Each particle has a token sequence, a constraint state, a row of the LM batch (its KV cache)
and a log weight. Every step reads the batch's next-token log-probabilities, proposes one
token per live particle (AWRS, plain LCD or masking), adds the step's log weight, and feeds
the new tokens of the particles still running in one forward pass. Particles that finish
(EOS) or die (weight 0) leave the batch. With ``ess_threshold > 0`` each prompt's population
is resampled when its effective sample size falls below ``ess_threshold * N``
(docs/algorithm.md §4). One particle without resampling is the single-sequence case;
several prompts run as groups that share the forward passes. With stop strings the constraint
is wrapped in :class:`~awrs.constraints.stop.StopAt`, and a particle whose token makes a stop
string appear ends there.

The user's callbacks (``critic``, ``on_token``, and a :class:`~awrs.Predicate`'s functions)
may raise: their exception reaches the caller as it is, with a note saying where it came
from, and nothing of the run outlives it (the batch and the particles are the run's own).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from awrs.constraints.base import Constraint
from awrs.constraints.stop import StopAt
from awrs.errors import GenerationError, add_note
from awrs.lm.base import LanguageModel
from awrs.sampler.base import Step
from awrs.sampler.device import as_host, wants_device
from awrs.sampler.proposal import AwrsProposal, Proposal
from awrs.sampler.space import CandidateSpace, TokenChecker
from awrs.smc.resampling import RESAMPLERS, Resampling, effective_sample_size, resample
from awrs.smc.weights import log_mean_exp

__all__ = ["RunRecord", "SMCConfig", "StopReason", "Trajectory", "run_groups", "run_particles"]

#: Why a particle stopped: "eos" (chose to end), "stop" (a stop string appeared),
#: "max_new_tokens" (ended by the budget), "dead_end" (no allowed candidate, or max_rejects
#: reached, or the critic ruled the text out: weight 0).
StopReason = Literal["eos", "stop", "max_new_tokens", "dead_end"]
Critic = Callable[[str], float]
TokenCallback = Callable[[int, int], None]  # (particle index, token id)


@dataclass(frozen=True)
class SMCConfig:
    """What to run. ``proposal`` proposes each token (made by name with
    :func:`awrs.sampler.proposal.make_proposal`).

    ``twist=True`` also applies the critic to the unfinished text after every step as a
    provisional weight (taken back at the next step, made final at the end): the critic must
    then accept prefixes of good answers.
    """

    proposal: Proposal = field(default_factory=AwrsProposal)
    n_particles: int = 1
    ess_threshold: float = 0.0
    resampling: Resampling = "systematic"
    max_new_tokens: int = 256
    temperature: float = 1.0
    extra_eos_ids: tuple[int, ...] = ()
    stop_strings: tuple[bytes, ...] = ()
    twist: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.proposal, Proposal):
            raise GenerationError(f"proposal must be a Proposal (awrs.sampler.proposal.make_proposal), got {self.proposal!r}")
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
        return self.proposal.weighted


@dataclass
class Trajectory:
    """One particle: its tokens, constraint state and log weight (the twist included).

    ``cut``: how many bytes at the end of the tokens' text are not output (a stop string and
    what followed it in its token)."""

    state: Any
    tokens: list[int] = field(default_factory=list)
    log_weight: float = 0.0
    stop_reason: StopReason | None = None
    finished: bool = False  # ended with EOS (chosen, or forced at the budget while complete) or a stop string
    checks: int = 0
    twist: float = 0.0  # the provisional critic weight currently included in log_weight
    cut: int = 0

    @property
    def running(self) -> bool:
        return self.stop_reason is None

    def copy(self, log_weight: float) -> Trajectory:
        return Trajectory(
            self.state, list(self.tokens), log_weight, self.stop_reason, self.finished, self.checks, self.twist, self.cut
        )

    def output(self, vocab) -> bytes:
        """The bytes of the output: the tokens' text, less what a stop string cut off."""
        data = vocab.decode(self.tokens)
        return data[: len(data) - self.cut]


@dataclass(frozen=True)
class RunRecord:
    """What a run produced for one prompt: the final particles and how the run went."""

    particles: list[Trajectory]
    log_ml: float
    ess_history: list[float]
    n_resamples: int
    constraint_checks: int
    proposals: int  # token steps taken over all particles (EOS steps included)
    forward_passes: int
    seconds: float
    prefill_seconds: float  # the prompts' forward pass
    sampling_seconds: float  # proposals and constraint checks (everything but the LM)


class _Group:
    """The particles of one prompt. ``families[i]`` names particle ``i``'s text: particles
    with the same family are twins (the same tokens, so the same row and constraint state;
    docs/sampler.md, "Twins"). All start as one; resampling copies the family with the
    particle, and a step gives each (family, token) a new one."""

    def __init__(self, constraint: Constraint, n: int):
        self.particles = [Trajectory(constraint.initial()) for _ in range(n)]
        self.families = [0] * n
        self.named_families = 1
        self.ess_history: list[float] = []
        self.n_resamples = 0
        self.checks = 0
        self.proposals = 0


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
    return run_groups(lm, [prompt_ids], constraint, config, rng, critic=critic, on_token=on_token)[0]


def run_groups(
    lm: LanguageModel,
    prompts: Sequence[Sequence[int]],
    constraint: Constraint,
    config: SMCConfig,
    rng: np.random.Generator,
    *,
    critic: Critic | None = None,
    on_token: TokenCallback | None = None,
) -> list[RunRecord]:
    """Run one population of ``config.n_particles`` per prompt; all share each forward pass."""
    if config.twist and critic is None:
        raise GenerationError("twist=True needs a critic")
    started = time.perf_counter()
    if config.stop_strings:
        constraint = StopAt(constraint, config.stop_strings)
    space = CandidateSpace(lm.vocab, constraint, config.extra_eos_ids)
    n = config.n_particles
    batch = lm.start([list(p) for p in prompts], copies=n)
    prefill_seconds = time.perf_counter() - started
    groups = [_Group(constraint, n) for _ in prompts]
    live = [(g, i) for g in range(len(prompts)) for i in range(n)]  # live[row] = (group, particle)
    forward_passes, sampling_seconds = 1, 0.0
    logits_current = True  # the batch's logits are those of the live rows' texts
    for t in range(config.max_new_tokens + 1):
        if not live:
            break
        logprobs = rows_of(batch, config.temperature) if logits_current else None
        step_started = time.perf_counter()
        forced = t == config.max_new_tokens
        moves = _step_all(groups, live, logprobs, space, config, rng, forced, critic=critic, on_token=on_token)
        if config.ess_threshold > 0 and n > 1 and not forced:
            moves, live = _resample_groups(groups, moves, live, config, rng)
        else:
            live = [live[row] for row, _ in moves]
        if moves and t + 1 == config.max_new_tokens and not _budget_needs_model(groups, live, space, config):
            moves, logits_current = [], False
        sampling_seconds += time.perf_counter() - step_started
        if moves:
            batch.select([row for row, _ in moves])
            batch.extend([token for _, token in moves])
            forward_passes += 1
    if critic is not None:
        for group in groups:
            _apply_critic(group.particles, critic, space)
    seconds = time.perf_counter() - started
    return [_record(group, forward_passes, seconds, prefill_seconds, sampling_seconds) for group in groups]


def _step_all(
    groups: list[_Group],
    live: list[tuple[int, int]],
    logprobs: np.ndarray | None,
    space: CandidateSpace,
    config: SMCConfig,
    rng: np.random.Generator,
    forced: bool,
    *,
    critic: Critic | None,
    on_token: TokenCallback | None,
) -> list[tuple[int, int]]:
    """One step of every live particle (``logprobs[row]`` is the row of ``live[row]``);
    returns ``(row, token)`` for each particle that goes on. A particle leaves the batch when
    it ends (EOS, a stop string, the budget), dies, or the critic rules its text out."""
    moves: list[tuple[int, int]] = []
    twist = critic if config.twist else None  # run_groups refused twist=True without a critic
    checkers: list[TokenChecker] = []
    twins: list[int] = []  # twins[row]: the first row of its family
    first_of: dict[tuple[int, int], int] = {}
    for row, (g, i) in enumerate(live):
        j = first_of.setdefault((g, groups[g].families[i]), row)
        twins.append(j)
        checkers.append(space.checker(groups[g].particles[i].state, None if j == row else checkers[j]))
    if forced:
        steps: Iterable[Step] = (
            _forced_step(c, None if logprobs is None else logprobs[row], space, config) for row, c in enumerate(checkers)
        )
    else:  # every particle's proposal from one call (kept distributions in threads)
        assert logprobs is not None, "only the forced last step may go without the model's row"
        steps = config.proposal.propose_rows(logprobs, checkers, rng, twins)
    born: dict[tuple[int, int, int], int] = {}  # (group, family, token) -> the family it makes
    try:
        for row, ((g, i), checker, step) in enumerate(zip(live, checkers, steps)):
            group = groups[g]
            particle = group.particles[i]
            token, spent = _take(particle, checker, step, space, forced)
            group.checks += spent
            group.proposals += 1
            if token is None:
                continue
            family = born.get((g, group.families[i], token))
            if family is None:
                family = born[g, group.families[i], token] = group.named_families
                group.named_families += 1
            group.families[i] = family
            if on_token is not None:
                _notify(on_token, i, token, space)
            if not particle.running:
                continue  # a stop string appeared: the particle ends with this token
            if twist is not None and not _retwist(particle, twist, space):
                continue  # the critic rules the text out: the particle leaves the batch
            moves.append((row, token))
    except BaseException:  # the steps left midway: stop what they run beside the walks now
        with contextlib.suppress(Exception):  # the error on its way is the one to see
            _close(steps)
        raise
    _close(steps)
    return moves


def _close(steps: Iterable[Step]) -> None:
    """Close ``steps`` when it is a generator (``propose_rows``'s: its walks may have a thread
    beside them, stopped and waited for when it closes)."""
    close = getattr(steps, "close", None)
    if close is not None:
        close()


def rows_of(batch: Any, temperature: float) -> Any:
    """The batch's log-probabilities for a step: a torch tensor left on the model's device
    when the device path takes them (:func:`awrs.sampler.device.wants_device`), else the
    host array."""
    if wants_device(batch):
        return batch.logprobs_tensor(temperature)
    return batch.logprobs(temperature)


def _record(group: _Group, forward_passes: int, seconds: float, prefill_seconds: float, sampling_seconds: float) -> RunRecord:
    return RunRecord(
        particles=group.particles,
        log_ml=log_mean_exp([p.log_weight for p in group.particles]),
        ess_history=group.ess_history,
        n_resamples=group.n_resamples,
        constraint_checks=group.checks,
        proposals=group.proposals,
        forward_passes=forward_passes,
        seconds=seconds,
        prefill_seconds=prefill_seconds,
        sampling_seconds=sampling_seconds,
    )


def _budget_needs_model(groups: list[_Group], live, space: CandidateSpace, config: SMCConfig) -> bool:
    """Whether the forced last step needs the model: only for p(EOS) in the weight of a
    particle whose text is complete (the others end without it: weight 0, or no weight)."""
    return config.weighted and any(space.constraint.is_complete(groups[g].particles[i].state) for g, i in live)


def _forced_step(checker: TokenChecker, logprobs: np.ndarray | None, space: CandidateSpace, config: SMCConfig) -> Step:
    """The step of a particle whose budget is spent: EOS with weight p(EOS) if its text is
    complete, else nothing. ``logprobs`` may be None when no weight needs it."""
    complete = checker(space.eos_index)
    log_w = 0.0
    if config.weighted and complete:
        assert logprobs is not None, "the last step keeps the model's row where a weight reads it"
        log_w = space.candidates(as_host(logprobs))[space.eos_index]
    return Step(space.eos_index if complete else None, log_w, 1)


def _take(particle: Trajectory, checker: TokenChecker, step: Step, space: CandidateSpace, forced: bool) -> tuple[int | None, int]:
    """The particle takes a step's token (or ends, or dies); returns (the text token it took
    or None, checks). A token that makes a stop string appear ends the particle (``running``
    is then False)."""
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
    stopped = space.constraint.stopped(particle.state) if isinstance(space.constraint, StopAt) else None
    if stopped is not None:  # ends here, with probability one: no EOS factor
        particle.stop_reason, particle.finished, particle.cut = "stop", True, stopped.cut
    return token, spent


def _text(particle: Trajectory, space: CandidateSpace) -> str:
    return particle.output(space.vocab).decode("utf-8", errors="replace")


def _notify(on_token: TokenCallback, i: int, token: int, space: CandidateSpace) -> None:
    try:
        on_token(i, token)
    except Exception as exc:
        add_note(exc, f"raised by on_token({i}, {token}) (token {space.vocab.tokens[token]!r}) during awrs.generate")
        raise


def _critic_weight(critic: Critic, text: str) -> float:
    """The critic's log weight for ``text``: a float, finite or -inf (GenerationError if not)."""
    try:
        value = critic(text)
    except Exception as exc:
        add_note(exc, f"raised by the critic on the text {text[:200]!r} during awrs.generate")
        raise
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value) or value == math.inf:
        raise GenerationError(
            f"the critic returned {value!r} for the text {text[:80]!r}; it must return a float log weight, "
            "finite or -inf (0.0 keeps the text as it is, -inf rules it out)"
        )
    return float(value)


def _retwist(particle: Trajectory, critic: Critic, space: CandidateSpace) -> bool:
    """Replace the provisional critic weight by the critic of the text so far; False (and the
    particle stops) when the critic gives weight 0."""
    twist = _critic_weight(critic, _text(particle, space))
    particle.log_weight += twist - particle.twist
    particle.twist = twist
    if not np.isfinite(particle.log_weight):
        particle.log_weight = -math.inf
        particle.stop_reason = "dead_end"
        return False
    return True


def _resample_groups(groups: list[_Group], moves, live, config: SMCConfig, rng):
    """Resample each group whose ESS < threshold * N; returns the new moves and live rows."""
    move_of = {live[row]: (row, token) for row, token in moves}  # (group, particle) -> its move
    new_moves, new_live = [], []
    for g, group in enumerate(groups):
        n = len(group.particles)
        log_w = np.array([p.log_weight for p in group.particles])
        ess = effective_sample_size(log_w)
        group.ess_history.append(ess)
        ancestors: range | np.ndarray = range(n)
        if ess < config.ess_threshold * n and np.isfinite(log_w.max()):
            ancestors = resample(log_w, rng, config.resampling)
            mean = log_mean_exp(log_w.tolist())
            group.particles = [group.particles[a].copy(mean) for a in ancestors]
            group.families = [group.families[a] for a in ancestors]
            group.n_resamples += 1
        for j, a in enumerate(ancestors):
            move = move_of.get((g, a))
            if move is not None:
                new_moves.append(move)
                new_live.append((g, j))
    return new_moves, new_live


def _apply_critic(particles: list[Trajectory], critic: Critic, space: CandidateSpace) -> None:
    for p in particles:
        if p.finished and np.isfinite(p.log_weight):
            p.log_weight += _critic_weight(critic, _text(p, space)) - p.twist
            p.twist = 0.0
