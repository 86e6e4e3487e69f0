"""Proposals: turn one row of next-token log-probabilities and a constraint state into a Step.

Candidates are the vocabulary's token ids plus one end-of-sequence candidate at index
``len(vocab)`` whose mass is the sum over every end id; it is allowed when the text so far is
complete. Special tokens, end ids (their mass is in the EOS candidate) and tokens containing a
byte the constraint can never produce are pruned exactly (ALGORITHM.md section 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from awrs.constraints.base import Constraint
from awrs.errors import GenerationError
from awrs.lm.vocab import Vocabulary
from awrs.sampler._layout import F32, F64, CandidateLayout
from awrs.sampler.step import (
    CountedAccept,
    Estimator,
    Step,
    _check_walk,
    _kept_on_row,
    _walk,
    awrs_step,
    greedy_step,
    mask_step,
    rest_on_row,
)

__all__ = [
    "PROPOSALS",
    "CandidateSpace",
    "Method",
    "ProposalOptions",
    "TokenChecker",
    "candidate_dtype",
    "propose",
    "propose_row",
]

Method = Literal["awrs", "lcd", "mask"]


#: A space whose constraint can use at most this share of the vocabulary's tokens (by the
#: bytes it ever produces) lays its steps out compactly: those tokens and EOS only.
COMPACT_SHARE = 1 / 8


class CandidateSpace:
    """The candidate layout for one vocabulary and one constraint (built once per generation).

    ``compact`` (None: decided by :data:`COMPACT_SHARE`) lays AWRS and LCD steps out over
    the tokens no state prunes, and EOS, instead of the whole vocabulary: a digit regex can
    use ~100 of SmolLM2's 49,152 tokens, and every pass of a step (the masked argmax, the
    exponentials, the block sums) then reads 100 values instead of 49,153. The pruned
    candidates have no mass in either layout, so the steps are the same walks.
    """

    def __init__(
        self, vocab: Vocabulary, constraint: Constraint, extra_eos_ids: Iterable[int] = (), *, compact: bool | None = None
    ):
        self.vocab = vocab
        self.constraint = constraint
        kind = type(constraint)
        # The constraint's is_final and impossible_tokens, None where it keeps the default
        # (False; None): no call on the step's path then (docs/sampler.md, "The hot path").
        self._is_final = None if kind.is_final is Constraint.is_final else constraint.is_final
        self._impossible = None if kind.impossible_tokens is Constraint.impossible_tokens else constraint.impossible_tokens
        self.eos_index = len(vocab)
        self.eos_ids = np.array(sorted(set(vocab.eos_ids) | set(extra_eos_ids)), dtype=np.int64)
        prune = np.zeros(self.eos_index + 1, dtype=np.bool_)  # EOS (last) is never pruned
        prune[: self.eos_index] = ~vocab.text_mask
        prune[self.eos_ids] = True
        never = constraint.never_tokens(vocab)
        if never is not None:
            prune[: self.eos_index] |= never
        prune.flags.writeable = False
        final = np.ones(self.eos_index + 1, dtype=np.bool_)
        final[self.eos_index] = False
        final.flags.writeable = False
        #: What a final state prunes (:meth:`Constraint.is_final`): every candidate but EOS.
        self.final_prune = final
        #: Candidates no state can take (special tokens, end ids, tokens with a byte the
        #: constraint never produces); every proposal skips them.
        self.prune = prune
        #: What one masking step checks: every token that can appear in text, plus EOS.
        self.mask_checks = int(vocab.text_mask.sum()) + 1
        kept = np.flatnonzero(~prune[: self.eos_index])
        if compact is None:
            compact = len(kept) <= COMPACT_SHARE * self.eos_index
        self._full = CandidateLayout(self.eos_index, self.eos_ids)
        self._compact = CandidateLayout(self.eos_index, self.eos_ids, kept) if compact else None
        #: The compact layout: ``positions[k]`` is the candidate at compact index ``k`` (the
        #: unpruned tokens in id order, then EOS); None for the full layout.
        self.positions: np.ndarray | None = None
        if compact:
            self.positions = np.append(kept, self.eos_index).astype(np.int64)
            self.positions.flags.writeable = False
            self._compact_prune = np.zeros(len(self.positions), dtype=np.bool_)
            self._compact_prune.flags.writeable = False

    def candidates(self, logprobs: np.ndarray, dtype=np.float64) -> np.ndarray:
        """Log-probabilities over the candidates, EOS last, as float64 (or as float32 when the
        model's are: what greedy steps take, as they only compare them; half the memory
        traffic). Pruned candidates keep their values: :meth:`TokenChecker.pruned` says which
        to skip."""
        lp = self.row(logprobs)
        return self._full.candidates(lp, np.float64 if lp.dtype == np.float64 else dtype)

    def compact_candidates(self, logprobs: np.ndarray, dtype=np.float64) -> np.ndarray:
        """:meth:`candidates` at :attr:`positions` only (the compact layout)."""
        if self._compact is None:
            raise GenerationError("this candidate space has the full layout (compact=False)")
        lp = self.row(logprobs)
        return self._compact.candidates(lp, np.float64 if lp.dtype == np.float64 else dtype)

    def row(self, logprobs: np.ndarray) -> np.ndarray:
        """The model's log-probabilities as the kernels read them: float32 or float64 (others
        become float64), one per token of the vocabulary."""
        lp = logprobs
        if type(lp) is not np.ndarray or (lp.dtype is not F32 and lp.dtype is not F64):
            lp = np.asarray(lp)
            if lp.dtype not in (np.float32, np.float64):
                lp = lp.astype(np.float64)
        if lp.shape != (self.eos_index,):
            raise GenerationError(
                f"expected log-probabilities over the {self.eos_index} tokens of the vocabulary, got shape {lp.shape}"
            )
        return lp

    def checker(self, state: Any) -> TokenChecker:
        return TokenChecker(self, state)


class TokenChecker(CountedAccept):
    """``checker(i)``: may candidate ``i`` come next? Remembers its answers and the states
    it computes, and counts the distinct candidates checked (``calls``)."""

    __slots__ = ("_final", "_seen", "calls", "next_states", "space", "state")

    def __init__(self, space: CandidateSpace, state: Any):
        self.space = space
        self.state = state
        self.next_states: dict[int, Any] = {}
        self.calls = 0
        self._seen: dict[int, bool] = {}
        self._final: bool | None = None

    def final(self) -> bool:
        """The state is final (:meth:`Constraint.is_final`): EOS is the only candidate."""
        if self._final is None:
            is_final = self.space._is_final
            self._final = is_final is not None and bool(is_final(self.state))
        return self._final

    def __call__(self, i: int) -> bool:
        seen = self._seen
        hit = seen.get(i)
        if hit is not None:
            return hit
        self.calls += 1
        space = self.space
        if i == space.eos_index:
            hit = bool(space.constraint.is_complete(self.state))
        elif self._final or (self._final is None and self.final()):
            hit = False
        else:
            nxt = space.constraint.advance(self.state, space.vocab.tokens[i])
            hit = nxt is not None
            if hit:
                self.next_states[i] = nxt
        seen[i] = hit
        return hit

    def next_state(self, i: int) -> Any:
        if i not in self.next_states and not self(i):
            raise AssertionError(f"candidate {i} was chosen but is not allowed")
        return self.next_states[i]

    def pruned(self) -> np.ndarray:
        """Candidates to skip from this state: the space's :attr:`~CandidateSpace.prune` and
        the tokens the constraint rules out by its cheap check
        (:meth:`Constraint.impossible_tokens`); EOS is never among them. From a final state,
        every candidate but EOS."""
        space = self.space
        if self.final():
            return space.final_prune
        impossible = space._impossible
        refused = None if impossible is None else impossible(self.state, space.vocab)
        if refused is None:
            return space.prune
        out = space.prune.copy()
        out[: space.eos_index] |= refused
        return out

    def refused(self) -> np.ndarray | None:
        """Candidates whose first byte the constraint refuses from this state
        (:meth:`Constraint.next_bytes`), or None when it does not say. What a long walk prunes
        (``awrs_step``'s ``narrow``); EOS and tokens without bytes are never among them."""
        space = self.space
        allowed = space.constraint.next_bytes(self.state)
        if allowed is None:
            return None
        first = space.vocab.first_byte
        out = np.zeros(space.eos_index + 1, dtype=np.bool_)
        out[: space.eos_index] = ~np.asarray(allowed, dtype=np.bool_)[first] & (first >= 0)
        return out

    def mask(self) -> np.ndarray:
        """Every candidate checked at once (the masking baseline)."""
        space = self.space
        out = np.zeros(space.eos_index + 1, dtype=np.bool_)
        if not self.final():
            out[: space.eos_index] = space.constraint.mask(self.state, space.vocab)
            out &= ~space.prune
        out[space.eos_index] = space.constraint.is_complete(self.state)
        return out


class _CompactChecker(CountedAccept):
    """A :class:`TokenChecker` seen through the compact layout: candidate ``k`` is
    ``space.positions[k]``."""

    __slots__ = ("checker", "positions")

    def __init__(self, checker: TokenChecker):
        self.checker = checker
        self.positions = checker.space.positions

    @property
    def calls(self) -> int:
        return self.checker.calls

    def __call__(self, k: int) -> bool:
        return self.checker(int(self.positions[k]))

    def pruned(self) -> np.ndarray:
        full = self.checker.pruned()
        space = self.checker.space
        return space._compact_prune if full is space.prune else full[self.positions]

    def refused(self) -> np.ndarray | None:
        full = self.checker.refused()
        return None if full is None else full[self.positions]


@dataclass(frozen=True)
class ProposalOptions:
    """How a step walks: its estimator, its cap on rejections, greedy or sampled. Checked
    here, once, rather than on every step."""

    estimator: Estimator = "recursive"
    max_rejects: int | None = None
    greedy: bool = False

    def __post_init__(self) -> None:
        _check_walk(self.estimator, self.max_rejects)


def _propose_awrs(cand, checker, rng, opts: ProposalOptions) -> Step:
    prune = checker.pruned()
    if opts.greedy:
        return greedy_step(cand, checker, prune, narrow=checker.refused)
    return awrs_step(cand, checker, rng, opts.estimator, opts.max_rejects, prune, narrow=checker.refused)


def _propose_lcd(cand, checker, rng, opts: ProposalOptions) -> Step:
    prune = checker.pruned()
    if opts.greedy:
        return greedy_step(cand, checker, prune, narrow=checker.refused)
    return awrs_step(cand, checker, rng, "none", opts.max_rejects, prune, narrow=checker.refused)


def _propose_mask(cand, checker, rng, opts: ProposalOptions) -> Step:
    allowed = checker.mask()
    return mask_step(cand, allowed, None if opts.greedy else rng, n_checks=checker.space.mask_checks)


#: Proposal name -> function(candidates, checker, rng, options) -> Step.
PROPOSALS: dict[str, Callable[[np.ndarray, TokenChecker, np.random.Generator, ProposalOptions], Step]] = {
    "awrs": _propose_awrs,
    "lcd": _propose_lcd,
    "mask": _propose_mask,
}


def candidate_dtype(method: str, opts: ProposalOptions) -> type:
    """The float type :meth:`CandidateSpace.candidates` should give ``method``: float32 for
    greedy AWRS and LCD steps (they only compare log-probabilities), float64 wherever masses
    are summed (sampling, and masking, whose weight is the masked mass)."""
    return np.float32 if opts.greedy and method != "mask" else np.float64


def propose(method: str, cand: np.ndarray, checker: TokenChecker, rng: np.random.Generator, opts: ProposalOptions) -> Step:
    return _proposal(method)(cand, checker, rng, opts)


def propose_row(
    method: str,
    logprobs: np.ndarray,
    checker: TokenChecker,
    rng: np.random.Generator,
    opts: ProposalOptions,
    dtype: type = np.float64,
) -> Step:
    """:func:`propose` from the model's row of log-probabilities over the vocabulary, before
    the candidates are laid out (with ``dtype``, see :func:`candidate_dtype`); the step's
    token is a candidate id of the full layout. AWRS and LCD steps run on the compact layout
    when the space has one (:class:`CandidateSpace`). A greedy one first checks the most
    likely candidate on the row itself: the usual greedy step is that one check, and laying
    out the candidates would cost more than the rest of it."""
    fn = _proposal(method)
    space = checker.space
    if fn not in (_propose_awrs, _propose_lcd):
        return fn(space.candidates(logprobs, dtype), checker, rng, opts)
    if opts.greedy:
        return _greedy_row(logprobs, checker, dtype)
    view, layout, prune = _in_layout(checker)
    estimator = opts.estimator if fn is _propose_awrs else "none"
    # row_step without its argument checks (the options were checked when they were made)
    row = space.row(logprobs)
    step = _walk(
        _kept_on_row(layout, row, prune), view, rng, estimator, opts.max_rejects, view.refused, rest_on_row(layout, row, prune)
    )
    return _in_full(step, space)


def _in_layout(checker: TokenChecker) -> tuple[TokenChecker | _CompactChecker, CandidateLayout, np.ndarray]:
    """The checker, the layout and the pruned candidates of a step, in the space's layout."""
    space = checker.space
    view = checker if space._compact is None else _CompactChecker(checker)
    return view, space._full if space._compact is None else space._compact, view.pruned()


def _in_full(step: Step, space: CandidateSpace) -> Step:
    """A step taken on the compact layout, its token as a candidate id."""
    if step.token is None or space.positions is None:
        return step
    return Step(int(space.positions[step.token]), step.log_weight, step.n_checks)


def _proposal(method: str):
    try:
        return PROPOSALS[method]
    except KeyError:
        raise GenerationError(f"unknown proposal {method!r}: use one of {sorted(PROPOSALS)}") from None


def _greedy_row(logprobs: np.ndarray, checker: TokenChecker, dtype: type) -> Step:
    """:func:`greedy_step` over the candidates of ``logprobs`` (in the space's layout), its
    first check made on the row: the most likely candidate, compared as the candidates would
    be laid out (same float type, ties to the lower index; ``CandidateLayout.greedy``). Only when it is
    refused are the candidates built, and the walk goes on without it (pruning a refused
    candidate leaves the masked argmax unchanged)."""
    space = checker.space
    row = space.row(logprobs)
    as_cand = np.float64 if row.dtype == np.float64 else dtype
    view, layout, prune = _in_layout(checker)
    first = layout.greedy(row, prune, as_cand)
    if first < 0:
        return Step(None, -math.inf, 0)
    token = first if space.positions is None else int(space.positions[first])
    if checker(token):
        return Step(token, 0.0, 1)
    skip = prune.copy()
    skip[first] = True
    step = greedy_step(layout.candidates(row, as_cand), view, skip, narrow=view.refused)
    return _in_full(Step(step.token, step.log_weight, step.n_checks + 1), space)
