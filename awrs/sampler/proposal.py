"""Proposals: turn one row of next-token log-probabilities and a constraint state into a Step.

Candidates are the vocabulary's token ids plus one end-of-sequence candidate at index
``len(vocab)`` whose mass is the sum over every end id; it is allowed when the text so far is
complete. Special tokens, end ids (their mass is in the EOS candidate) and tokens containing a
byte the constraint can never produce are pruned exactly (ALGORITHM.md section 2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from awrs.constraints.base import Constraint
from awrs.errors import GenerationError
from awrs.lm.vocab import Vocabulary
from awrs.sampler import _kernels
from awrs.sampler.step import Estimator, Step, awrs_step, greedy_step, mask_step

__all__ = ["CandidateSpace", "TokenChecker", "ProposalOptions", "PROPOSALS", "Method", "candidate_dtype", "propose"]

Method = Literal["awrs", "lcd", "mask"]


class CandidateSpace:
    """The candidate layout for one vocabulary and one constraint (built once per generation)."""

    def __init__(self, vocab: Vocabulary, constraint: Constraint, extra_eos_ids: Iterable[int] = ()):
        self.vocab = vocab
        self.constraint = constraint
        self.eos_index = len(vocab)
        self.eos_ids = np.array(sorted(set(vocab.eos_ids) | set(extra_eos_ids)), dtype=np.int64)
        prune = np.zeros(self.eos_index + 1, dtype=np.bool_)  # EOS (last) is never pruned
        prune[: self.eos_index] = ~vocab.text_mask
        prune[self.eos_ids] = True
        allowed = constraint.allowed_bytes()
        if allowed is not None:
            prune[: self.eos_index] |= _tokens_with_bytes_outside(vocab, allowed)
        prune.flags.writeable = False
        #: Candidates no state can take (special tokens, end ids, tokens with a byte the
        #: constraint never produces); every proposal skips them.
        self.prune = prune
        #: What one masking step checks: every token that can appear in text, plus EOS.
        self.mask_checks = int(vocab.text_mask.sum()) + 1

    def candidates(self, logprobs: np.ndarray, dtype=np.float64) -> np.ndarray:
        """Log-probabilities over the candidates, EOS last, as float64 (or as float32 when the
        model's are: what greedy steps take, as they only compare them; half the memory
        traffic). Pruned candidates keep their values: :meth:`TokenChecker.pruned` says which
        to skip."""
        lp = np.ascontiguousarray(logprobs)
        if lp.dtype not in (np.float32, np.float64):
            lp = lp.astype(np.float64)
        if lp.shape != (self.eos_index,):
            raise GenerationError(f"expected log-probabilities over the {self.eos_index} tokens of the vocabulary, got shape {lp.shape}")
        return _kernels.with_eos(lp, self.eos_ids, np.float64 if lp.dtype == np.float64 else dtype)

    def checker(self, state: Any) -> TokenChecker:
        return TokenChecker(self, state)


def _tokens_with_bytes_outside(vocab: Vocabulary, allowed: np.ndarray) -> np.ndarray:
    buf, offsets = vocab.flat
    bad = (~np.asarray(allowed, dtype=np.bool_))[buf].astype(np.int64)
    cum = np.concatenate([[0], np.cumsum(bad)])  # bad bytes before each offset
    return (cum[offsets[1:]] - cum[offsets[:-1]]) > 0


class TokenChecker:
    """``checker(i)``: may candidate ``i`` come next? Remembers the states it computes."""

    __slots__ = ("space", "state", "next_states")

    def __init__(self, space: CandidateSpace, state: Any):
        self.space = space
        self.state = state
        self.next_states: dict[int, Any] = {}

    def __call__(self, i: int) -> bool:
        space = self.space
        if i == space.eos_index:
            return space.constraint.is_complete(self.state)
        nxt = space.constraint.advance(self.state, space.vocab.tokens[i])
        if nxt is None:
            return False
        self.next_states[i] = nxt
        return True

    def next_state(self, i: int) -> Any:
        if i not in self.next_states and not self(i):
            raise AssertionError(f"candidate {i} was chosen but is not allowed")
        return self.next_states[i]

    def pruned(self) -> np.ndarray:
        """Candidates to skip from this state: the space's :attr:`~CandidateSpace.prune` and
        the tokens the constraint rules out by its cheap check
        (:meth:`Constraint.impossible_tokens`); EOS is never among them."""
        space = self.space
        refused = space.constraint.impossible_tokens(self.state, space.vocab)
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
        out[: space.eos_index] = space.constraint.mask(self.state, space.vocab)
        out &= ~space.prune
        out[space.eos_index] = space.constraint.is_complete(self.state)
        return out


@dataclass(frozen=True)
class ProposalOptions:
    estimator: Estimator = "recursive"
    max_rejects: int | None = None
    greedy: bool = False


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
    try:
        fn = PROPOSALS[method]
    except KeyError:
        raise GenerationError(f"unknown proposal {method!r}: use one of {sorted(PROPOSALS)}") from None
    return fn(cand, checker, rng, opts)
