"""The device path: a step's first candidates drawn where the model's logits are
(docs/sampler.md, "The device path").

On a GPU the model's rows stay on the device: per row, the kept candidates (the space's
pruning; the EOS candidate, the log-sum-exp of the end ids) get Gumbel keys, ``torch.topk``
takes the ``k`` largest, and only those ``k`` candidates, their log-probabilities and the row's
log kept mass ``log P_kept`` (a float64 log-sum-exp) come to the host: ``(16 + 16 + 1)`` numbers
a row instead of 49,152. The first ``k`` positions of a Gumbel-top-k order are the first ``k``
draws without replacement from the kept distribution (the Plackett-Luce law; docs/algorithm.md
§2), so the walk visits them as it would visit its own order. When it needs more — all ``k``
refused, the candidate after an accepted last one for the recursive weight, or the remaining
mass too small to subtract from exactly — that row alone is copied to the host and the walk goes
on there over the candidates not visited (:func:`~awrs.sampler.walk.walk_on`), which is a
restart: the same walk in law, with the weight of the last level. State-dependent pruning is not
applied on the device (the checker refuses those candidates when they are visited); the host
continuation applies it, which is a narrowing: exact (docs/algorithm.md §2).

:func:`device_steps` is the whole step for many rows; the engine uses it for rows that are torch
tensors on a CUDA device (``MODE`` "auto"), on every torch tensor ("always": what the tests do on
CPU tensors), or never.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np

from awrs.sampler.base import Step
from awrs.sampler.kept import keep_on_row, rest_on_row
from awrs.sampler.order import RandomOrder
from awrs.sampler.space import CandidateSpace, TokenChecker
from awrs.sampler.walk import NARROW_AFTER, RESTART_SHARE, walk_on

__all__ = ["DEFAULT_K", "MODE", "DeviceCandidates", "as_host", "device_steps", "draw_candidates", "use_device", "wants_device"]

#: Candidates drawn on the device per row: enough for almost every walk (2-7 checks per token
#: on the default model), few enough to copy in microseconds.
DEFAULT_K = 16

#: When the engine takes the device path: "auto" (rows on a CUDA device), "always" (any torch
#: rows; the tests, on CPU), "never".
MODE: Literal["auto", "always", "never"] = "auto"


def use_device(rows: Any) -> bool:
    """Whether rows of log-probabilities take the device path (:data:`MODE`)."""
    if MODE == "never" or type(rows).__module__.split(".")[0] != "torch":
        return False
    return MODE == "always" or rows.device.type == "cuda"


def as_host(rows: Any) -> Any:
    """Rows as a host array: a torch tensor is copied (float32), anything else is as it is."""
    if type(rows).__module__.split(".")[0] == "torch":
        return rows.float().cpu().numpy()
    return rows


def wants_device(batch: Any) -> bool:
    """Whether a batch's rows should stay on its device for the step (:data:`MODE`)."""
    if MODE == "never" or not hasattr(batch, "logprobs_tensor"):
        return False
    return MODE == "always" or getattr(getattr(batch, "device", None), "type", "cpu") == "cuda"


class DeviceCandidates:
    """What comes to the host for each row: ``positions[i, :n[i]]`` (candidate ids in draw
    order; EOS is ``len(vocab)``), their log-probabilities ``logprobs[i]`` (float64) and the
    row's ``log_kept``."""

    __slots__ = ("log_kept", "logprobs", "n", "positions")

    def __init__(self, positions: np.ndarray, logprobs: np.ndarray, log_kept: np.ndarray, n: np.ndarray):
        self.positions, self.logprobs, self.log_kept, self.n = positions, logprobs, log_kept, n


_MASKS: dict[tuple[int, str], Any] = {}


def _static(space: CandidateSpace, device: Any) -> tuple[Any, Any]:
    """The space's kept tokens (not pruned by it) and end ids, as tensors on ``device``."""
    import torch

    key = (id(space), str(device))
    found = _MASKS.get(key)
    if found is None or found[0] is not space:
        keep = torch.as_tensor(~space.prune[: space.eos_index], device=device)
        eos = torch.as_tensor(space.eos_ids, device=device, dtype=torch.int64)
        found = _MASKS[key] = (space, keep, eos)
        if len(_MASKS) > 64:  # spaces come and go with generations
            _MASKS.pop(next(iter(_MASKS)))
    return found[1], found[2]


def draw_candidates(rows: Any, space: CandidateSpace, k: int, generator: Any) -> DeviceCandidates:
    """The first ``k`` draws without replacement from each row's kept distribution (Gumbel
    top-k on the rows' device, float64), and each row's log kept mass."""
    import torch

    keep, eos = _static(space, rows.device)
    lp = rows.to(torch.float64)
    cand = lp.masked_fill(~keep, -math.inf)
    end = torch.logsumexp(lp[:, eos], dim=1, keepdim=True) if len(eos) else lp.new_full((len(lp), 1), -math.inf)
    cand = torch.cat([cand, end], dim=1).nan_to_num_(nan=-math.inf)
    log_kept = torch.logsumexp(cand, dim=1)
    u = torch.rand(cand.shape, generator=generator, device=cand.device, dtype=torch.float64)
    u.clamp_(min=torch.finfo(torch.float64).tiny)  # u = 0 would give a kept candidate the key -inf
    keys = cand - torch.log(-torch.log(u))
    top = torch.topk(keys, min(k, cand.shape[1]), dim=1)
    chosen = cand.gather(1, top.indices)
    n = torch.isfinite(top.values).sum(dim=1)
    return DeviceCandidates(top.indices.cpu().numpy(), chosen.cpu().numpy(), log_kept.cpu().numpy(), n.cpu().numpy())


def device_steps(
    rows: Any,
    checkers: Sequence[TokenChecker],
    rng: np.random.Generator,
    weighted: bool,
    max_rejects: int | None,
    k: int | None = None,
) -> Iterator[Step]:
    """One AWRS step (recursive estimator, or none: LCD) per row of ``rows`` (a torch tensor
    of log-probabilities on the model's device) with ``checkers[i]``: the candidates drawn on
    the device (:func:`draw_candidates`, from a torch generator seeded from ``rng``), the walk on
    the host, the row itself copied only when the walk needs it. Tokens are candidate ids."""
    import torch

    if not checkers:
        return
    space = checkers[0].space
    k = DEFAULT_K if k is None else k
    generator = torch.Generator(device=rows.device)
    generator.manual_seed(int(rng.integers(2**63)))
    found = draw_candidates(rows, space, k, generator)
    for i, checker in enumerate(checkers):
        yield _walk(found, i, k, checker, rng, weighted, max_rejects, functools.partial(_host_row, rows, i))


def _host_row(rows: Any, i: int) -> np.ndarray:
    row: np.ndarray = rows[i].float().cpu().numpy()
    return row


def _walk(
    found: DeviceCandidates,
    i: int,
    k: int,
    checker: TokenChecker,
    rng: np.random.Generator,
    weighted: bool,
    max_rejects: int | None,
    host_row: Callable[[], np.ndarray],
) -> Step:
    """The recursive (or unweighted) walk over row ``i``'s device candidates, going on on the
    host when they do not settle it (module doc)."""
    before = checker.calls
    positions, logprobs, log_kept, n = found.positions[i], found.logprobs[i], float(found.log_kept[i]), int(found.n[i])
    if checker.final():  # only EOS may follow: the host path's final prune, as one candidate
        return _on_host([], None, checker, rng, weighted, max_rejects, host_row, before)
    if n == 0 or log_kept == -math.inf:
        return Step(None, -math.inf, 0)
    rejected: list[int] = []
    left = 1.0  # the unvisited share of the kept mass
    for j in range(n):
        if left <= RESTART_SHARE or len(rejected) >= NARROW_AFTER:
            break
        pos = int(positions[j])
        share = math.exp(float(logprobs[j]) - log_kept)
        capped = max_rejects is not None and len(rejected) + 1 >= max_rejects
        if checker(pos):
            if weighted and not capped and j + 1 == n == k:  # the next candidate is not on the host yet
                return _on_host(rejected, (pos, float(logprobs[j])), checker, rng, weighted, max_rejects, host_row, before)
            if not weighted:
                log_w = 0.0
            elif capped or j + 1 == n:  # capped; or the last kept candidate, nothing follows it
                log_w = math.log(left) + log_kept
            else:  # the next candidate's check decides the recursive weight
                log_w = math.log(left if checker(int(positions[j + 1])) else share) + log_kept
            return Step(pos, log_w, checker.calls - before)
        if capped:
            return Step(None, -math.inf, checker.calls - before)
        rejected.append(pos)
        left -= share
    else:
        if n < k:  # every kept candidate visited and refused
            return Step(None, -math.inf, checker.calls - before)
    return _on_host(rejected, None, checker, rng, weighted, max_rejects, host_row, before)


def _on_host(
    rejected: list[int],
    accepted: tuple[int, float] | None,
    checker: TokenChecker,
    rng: np.random.Generator,
    weighted: bool,
    max_rejects: int | None,
    host_row: Callable[[], np.ndarray],
    before: int,
) -> Step:
    """The walk going on on the host, over the candidates not visited (a restart; the
    state's pruning applies from here). ``accepted``: the last device candidate was accepted
    and only the next one's check is left (for the recursive weight)."""
    space = checker.space
    row, layout, prune = space.row(host_row()), space.full_layout, checker.pruned()
    rest = rest_on_row(layout, row, prune)
    excluded = np.zeros(space.eos_index + 1, dtype=np.bool_)
    excluded[rejected] = True
    if accepted is None:
        level = keep_on_row(layout, row, prune | excluded) if rejected else keep_on_row(layout, row, prune)
        pos, log_w = walk_on(level, checker, rng, weighted, max_rejects, checker.refused, rest, rejected)
        return Step(pos, log_w, checker.calls - before)
    pos, lp = accepted
    excluded[pos] = True
    level = keep_on_row(layout, row, prune | excluded)  # what could come after it
    if level is None:
        return Step(pos, lp, checker.calls - before)  # nothing follows: the weight is its mass
    nxt = RandomOrder(level.weights, rng, blocks=level.blocks).position(0)
    log_left = float(np.logaddexp(level.log_kept, lp))  # the unvisited mass, it included
    return Step(pos, log_left if checker(nxt) else lp, checker.calls - before)
