"""The AWRS step as docs/algorithm.md §2 and §3 state it: the reference for :mod:`awrs.sampler`.

Plain loops over plain arrays, no kernels and no caching: each function reads like the section
it cites. The functions take what :func:`awrs.sampler.awrs_step`, :func:`~awrs.sampler.greedy_step`
and :func:`~awrs.sampler.mask_step` take and return the same :class:`~awrs.sampler.Step`. Given
generators seeded alike, a reference step and an engine step visit the same candidates, return
the same token and check count, the same log weight up to rounding, and leave the generators in
the same state (tests/sampler/test_reference.py). For that the reference draws its visiting order
the way the engine does rather than by Gumbel keys (docs/algorithm.md §2.2): one inverse-CDF draw
per visit, with the uniforms taken from the generator in batches of 1, 2, 4, ... 16.

Meant to be read and tested against, not run: a step costs O(n) Python operations per visit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from awrs.errors import GenerationError
from awrs.sampler import Step

__all__ = ["Order", "awrs_step", "greedy_step", "kept_weights", "mask_step"]

Accept = Callable[[int], bool]
Narrow = Callable[[], "np.ndarray | None"]

#: exp(-708) ~ 3e-308 is the smallest power of e that is a normal float64: a candidate further
#: below the most likely kept one has weight 0 (§3.4 restarts the walk to reach it).
LOWEST = -708.0
#: The same for float32 log-probabilities, whose weights are float32 (docs/sampler.md, "Weights
#: in the row's precision"): exp(-87) is the smallest normal float32 power of e.
LOWEST32 = -87.0
#: A level restarts once its unvisited mass is this share of its total or less (§3.4): up to
#: that point ``left`` has lost at most 20 of float64's 52 bits to the subtractions.
RESTART_SHARE = 2.0**-20
#: Rejections after which a walk given ``narrow`` asks it, once (§3.5).
NARROW_AFTER = 32
#: Candidates a greedy step checks before it asks ``narrow`` (§3.6).
GREEDY_CHECKS_BEFORE_NARROW = 16
#: The largest batch of uniforms an order takes from the generator at once (§2.2).
MAX_BATCH = 16
_ESTIMATORS = ("recursive", "two-loop", "none")


class Level(NamedTuple):
    """The kept distribution of one level of a walk (§2.3): ``m[x] = exp(lp[x] - top)`` for
    kept candidates (0 for the others), ``total`` = their sum M, ``log_kept`` = log P_kept =
    top + log M, ``top_at`` the first position holding the largest kept log-probability."""

    m: np.ndarray
    total: float
    log_kept: float
    top_at: int


def kept_weights(lp: np.ndarray, pruned: np.ndarray) -> Level | None:
    """docs/algorithm.md §2.3: the candidates not ``pruned`` whose log-probability is at most
    708 nats below the most likely of them (NaN and -inf are never kept); None if none is.
    float32 log-probabilities are kept down to 87 nats, their difference to the top taken in
    float32 as the engine takes it; the weights are float64 here, within the engine's float32
    rounding of its own."""
    as32 = np.asarray(lp).dtype == np.float32
    top, top_at = -math.inf, -1
    for x in range(len(lp)):
        if not pruned[x] and lp[x] > top:
            top, top_at = float(lp[x]), x
    if top_at < 0:
        return None
    m = np.zeros(len(lp))
    for x in range(len(lp)):
        within = np.float32(lp[x]) - np.float32(top) >= LOWEST32 if as32 else lp[x] - top >= LOWEST
        if not pruned[x] and within:
            m[x] = math.exp(float(lp[x]) - top)
    total = float(sum(m))
    return Level(m, total, top + math.log(total), top_at)


class Order:
    """docs/algorithm.md §2.2: the candidates with ``m > 0`` (less ``exclude``) in random order
    without replacement. ``order[i]`` is the i-th visited: drawn from those not yet visited with
    probability ``m[x] / (their total)``, by inverse CDF over them in increasing position.
    The uniforms come from ``rng`` in batches, the first of ``batch``, each next one twice as
    large up to :data:`MAX_BATCH` (never more than there are candidates left to draw)."""

    def __init__(self, m: np.ndarray, rng: np.random.Generator, batch: int = 1, exclude: Sequence[int] = ()):
        self.m, self.rng, self.batch = m, rng, batch
        self.unvisited = [x for x in range(len(m)) if m[x] > 0 and x not in exclude]
        self.visited: list[int] = []
        self.uniforms: list[float] = []
        self.size = len(self.unvisited)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> int:
        while len(self.visited) <= i:
            self.visited.append(self._draw())
        return self.visited[i]

    def _draw(self) -> int:
        if not self.uniforms:
            self.uniforms = list(self.rng.random(min(self.batch, len(self.unvisited))))
            self.batch = min(2 * self.batch, MAX_BATCH)
        target = self.uniforms.pop(0) * sum(self.m[x] for x in self.unvisited)
        for x in self.unvisited:  # the last one takes what rounding leaves past the end
            chosen = x
            if target < self.m[x]:
                break
            target -= self.m[x]
        self.unvisited.remove(chosen)
        return chosen


class Checks:
    """``c(x)``, asked at most once per candidate; ``count``: the distinct candidates asked."""

    def __init__(self, accept: Accept):
        self.accept = accept
        self.answers: dict[int, bool] = {}

    def __call__(self, x: int) -> bool:
        if x not in self.answers:
            self.answers[x] = bool(self.accept(x))
        return self.answers[x]

    @property
    def count(self) -> int:
        return len(self.answers)


class Seen:
    """What a walk has refused so far, over all its levels: the candidates it rejected, and
    what ``narrow()`` refused once it was asked."""

    def __init__(self) -> None:
        self.rejected: list[int] = []
        self.refused: np.ndarray | None = None

    def excluded(self, pruned: np.ndarray) -> np.ndarray:
        out = pruned.copy() if self.refused is None else pruned | self.refused
        out[self.rejected] = True
        return out


def awrs_step(
    logprobs: np.ndarray,
    accept: Accept,
    rng: np.random.Generator,
    estimator: str = "recursive",
    max_rejects: int | None = None,
    prune: np.ndarray | None = None,
    *,
    narrow: Narrow | None = None,
) -> Step:
    """docs/algorithm.md §3: one token drawn from ``p(x) c(x) / Z`` by walking the candidates
    in random order, with a properly weighted estimate of ``Z`` (§3.1 recursive, §3.2 two-loop,
    ``"none"``: weight 1); ``max_rejects`` caps the walk (§3.3), ``narrow`` shortens it (§3.5)."""
    if estimator not in _ESTIMATORS:
        raise GenerationError(f"estimator must be one of {_ESTIMATORS}, got {estimator!r}")
    if max_rejects is not None and max_rejects < 1:
        raise GenerationError(f"max_rejects must be a positive integer or None, got {max_rejects!r}")
    lp = _as_logprobs(logprobs)
    pruned = np.zeros(len(lp), dtype=np.bool_) if prune is None else np.asarray(prune, dtype=np.bool_)
    check = Checks(accept)
    if estimator == "two-loop":
        x, log_w = two_loop(lp, pruned, check, rng, max_rejects)
    else:
        x, log_w = one_loop(lp, pruned, check, rng, estimator == "recursive", max_rejects, narrow)
    return Step(x, log_w, check.count)


_RESTART = (None, math.nan)


def one_loop(lp, pruned, check: Checks, rng, weighted: bool, max_rejects, narrow) -> tuple[int | None, float]:
    """§3.1 (``weighted``) or plain LCD: walk level after level until a candidate is accepted;
    a level ends (§3.4) when what it has not visited holds too little of its mass, and the next
    level is the kept distribution of every candidate not yet refused."""
    seen = Seen()
    level = kept_weights(lp, pruned)
    while level is not None:
        outcome = walk_level(level, check, rng, weighted, max_rejects, narrow, seen)
        if outcome is not _RESTART:
            return outcome
        level = kept_weights(lp, seen.excluded(pruned))
    return None, -math.inf


def walk_level(level: Level, check: Checks, rng, weighted: bool, max_rejects, narrow, seen: Seen) -> tuple[int | None, float]:
    """One level of §3.1. ``left`` is the level's unvisited mass, so ``left / M`` is the product
    of ``1 - q'(r)`` over the rejections; the weight is ``P_kept * left / M`` when the next
    candidate is also allowed (or there is none, or this was the last allowed check), else
    ``P_kept * m(x) / M``."""
    m, total = level.m, level.total
    order = Order(m, rng, batch=2 if weighted else 1)
    left, i = total, 0
    while i < len(order) and left > total * RESTART_SHARE:
        x = order[i]
        last_check = max_rejects is not None and len(seen.rejected) + 1 >= max_rejects
        if check(x):
            if not weighted:
                return x, 0.0
            if i + 1 < len(order) and not last_check and not check(order[i + 1]):
                left = m[x]
            return x, math.log(left / total) + level.log_kept
        if last_check:
            return None, -math.inf
        seen.rejected.append(x)
        left -= m[x]
        i += 1
        if narrow is not None and seen.refused is None and len(seen.rejected) == NARROW_AFTER:
            refused = narrow()
            if refused is not None:
                order, m, left = narrowed(order, i, m, refused, rng, seen)
                i = 0
    return _RESTART


def narrowed(order: Order, visited: int, m: np.ndarray, refused, rng, seen: Seen) -> tuple[Order, np.ndarray, float]:
    """§3.5: the rest of a level after ``narrow()``: the unvisited candidates it does not refuse,
    in a fresh order; their mass becomes ``left``."""
    seen.refused = np.asarray(refused, dtype=np.bool_)
    rest = m.copy()
    rest[order.visited[:visited]] = 0.0
    rest[seen.refused] = 0.0
    return Order(rest, rng), rest, float(np.sum(rest))


def two_loop(lp, pruned, check: Checks, rng, max_rejects) -> tuple[int | None, float]:
    """§3.2: loop 0 finds the sample after ``n0`` rejections, restarting as §3.4 says; loop 1
    (:func:`second_loop`) walks a fresh order over what loop 0's last level did not reject."""
    seen = Seen()
    level = kept_weights(lp, pruned)
    while level is not None:
        order = Order(level.m, rng)
        on_level: list[int] = []
        left = level.total
        for i in range(len(order)):
            if left <= level.total * RESTART_SHARE:
                break
            x = order[i]
            if check(x):
                return x, second_loop(level, on_level, left, check, rng, max_rejects, len(seen.rejected))
            seen.rejected.append(x)
            on_level.append(x)
            left -= level.m[x]
            if max_rejects is not None and len(seen.rejected) >= max_rejects:
                return None, -math.inf
        level = kept_weights(lp, seen.excluded(pruned))
    return None, -math.inf


def second_loop(level: Level, rejected: list[int], left: float, check: Checks, rng, max_rejects, n0: int) -> float:
    """§3.2 loop 1 and the log weight ``log(P_kept (1 - psi0) / (n0 + n1 + 1))``, or with
    ``max_rejects = k`` reached, ``log(P_kept (1 - psi0) / k)`` (§3.3)."""
    log_left = math.log(left / level.total) + level.log_kept
    order = Order(level.m, rng, exclude=rejected)
    n1 = 0
    for i in range(len(order)):
        if check(order[i]):
            break
        n1 += 1
        if max_rejects is not None and n0 + n1 >= max_rejects:
            return log_left - math.log(max_rejects)
    return log_left - math.log(n0 + n1 + 1)


def greedy_step(logprobs: np.ndarray, accept: Accept, prune: np.ndarray | None = None, *, narrow: Narrow | None = None) -> Step:
    """docs/algorithm.md §3.6: the first allowed candidate from the most likely down (ties: the
    lower position first), which is the argmax of the masked distribution. After
    :data:`GREEDY_CHECKS_BEFORE_NARROW` refusals ``narrow`` is asked once and what it refuses
    is skipped."""
    lp = np.asarray(logprobs, dtype=np.float64)
    pruned = np.zeros(len(lp), dtype=np.bool_) if prune is None else np.asarray(prune, dtype=np.bool_)
    candidates = [x for x in range(len(lp)) if not pruned[x] and lp[x] > -math.inf]
    check, refused = Checks(accept), None
    for k, x in enumerate(sorted(candidates, key=lambda x: (-lp[x], x))):
        if k == GREEDY_CHECKS_BEFORE_NARROW and narrow is not None:
            refused = narrow()
        if refused is not None and refused[x]:
            continue
        if check(x):
            return Step(x, 0.0, check.count)
    return Step(None, -math.inf, check.count)


def mask_step(logprobs: np.ndarray, allowed: np.ndarray, rng: np.random.Generator | None, n_checks: int | None = None) -> Step:
    """docs/algorithm.md §3.7: one draw from the masked distribution (the argmax when ``rng``
    is None) and the exact allowed mass ``Z`` as the weight; ``n_checks`` defaults to every
    candidate."""
    lp = _as_logprobs(logprobs)
    checks = len(lp) if n_checks is None else n_checks
    level = kept_weights(lp, ~np.asarray(allowed, dtype=np.bool_))
    if level is None:
        return Step(None, -math.inf, checks)
    x = level.top_at if rng is None else Order(level.m, rng)[0]
    return Step(x, level.log_kept, checks)


def _as_logprobs(logprobs: np.ndarray) -> np.ndarray:
    """float32 log-probabilities as they are (their window is 87 nats: :func:`kept_weights`),
    others as float64."""
    lp = np.asarray(logprobs)
    return lp if lp.dtype == np.float32 else lp.astype(np.float64)
