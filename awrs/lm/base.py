"""The view of a language model that the sampler and SMC need.

A :class:`LanguageModel` knows its :class:`~awrs.lm.vocab.Vocabulary`, turns a prompt into
token ids, and starts a :class:`SequenceBatch`: a set of rows, each a prompt plus the tokens
generated so far, whose next-token log-probabilities are ready to read. ``extend`` feeds one
new token per row (one batched forward pass, reusing each row's KV cache); ``select``
reorders, copies and drops rows without recomputation (SMC resampling).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from awrs.errors import ArgumentTypeError, GenerationError, PromptTooLongError
from awrs.lm.vocab import Vocabulary

__all__ = [
    "ChatMessage",
    "JoinableBatch",
    "LanguageModel",
    "Prompt",
    "SequenceBatch",
    "check_prompts",
    "check_temperature",
    "log_softmax",
]

ChatMessage = Mapping[str, str]
#: A plain string, or chat messages ``[{"role": ..., "content": ...}]`` (uses the chat template).
Prompt = str | Sequence[ChatMessage]


@runtime_checkable
class SequenceBatch(Protocol):
    """Rows of token sequences with their next-token distributions.

    Row order is meaningful: ``logprobs()[r]`` belongs to row ``r``. After ``select(rows)``
    the batch holds ``len(rows)`` rows, row ``j`` being a copy of the old row ``rows[j]``.
    """

    @property
    def size(self) -> int:
        """The number of rows."""

    @property
    def generated(self) -> list[list[int]]:
        """The tokens generated so far in each row (prompt excluded)."""

    def logprobs(self, temperature: float = 1.0) -> np.ndarray:
        """Next-token log-probabilities, float32 of shape (size, len(vocab)).

        ``temperature`` divides the logits before normalisation; it must be > 0.
        """

    def extend(self, tokens: Sequence[int]) -> None:
        """Append one token to every row and advance the model by one step (one forward)."""

    def select(self, rows: Sequence[int]) -> None:
        """Keep, copy and reorder rows by index (duplicates copy, omissions drop). No forward."""


@runtime_checkable
class JoinableBatch(SequenceBatch, Protocol):
    """A batch that rows may join while it runs (what an engine with continuous batching
    needs). Every backend awrs ships is one; a user's backend may be a plain SequenceBatch."""

    def add(self, prompts: Sequence[Sequence[int]], copies: int = 1) -> None:
        """Append ``copies`` rows per prompt after the existing rows (grouped by prompt), each
        prompt prefilled once; their next-token log-probabilities are then ready like the
        others'. The existing rows are not recomputed."""


@runtime_checkable
class LanguageModel(Protocol):
    """Anything that gives next-token log-probabilities over byte-string tokens."""

    @property
    def vocab(self) -> Vocabulary:
        """Every token id's exact bytes, end ids and special ids."""

    @property
    def max_length(self) -> int | None:
        """The longest prompt-plus-generation the model accepts, or None if unbounded."""

    def encode_prompt(self, prompt: Prompt) -> list[int]:
        """Token ids for a prompt; chat messages go through the model's chat template."""

    def start(self, prompts: Sequence[Sequence[int]], copies: int = 1) -> SequenceBatch:
        """Prefill each prompt once and return a batch with ``copies`` rows per prompt.

        Rows are grouped by prompt: rows ``[k*copies, (k+1)*copies)`` hold prompt ``k``.
        """


def check_prompts(prompts: Sequence[Sequence[int]], copies: int, max_length: int | None) -> None:
    """Raise GenerationError for ``copies`` < 1 or an empty prompt, PromptTooLongError for a
    prompt that fills the context window (what ``start`` and ``add`` refuse)."""
    if copies < 1:
        raise GenerationError(f"copies must be at least 1, got {copies}")
    if any(len(p) == 0 for p in prompts):
        raise GenerationError("every prompt needs at least one token")
    longest = max((len(p) for p in prompts), default=0)
    if max_length is not None and longest >= max_length:
        raise PromptTooLongError(
            f"the prompt has {longest} tokens but the model's context window is {max_length}; shorten the prompt"
        )


def log_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Rows of ``logits`` (computed in their own dtype) divided by ``temperature`` and
    normalised, as float32: what a numpy backend's ``logprobs`` returns."""
    z = logits if temperature == 1.0 else logits / logits.dtype.type(temperature)
    z = z - z.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        out: np.ndarray = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return out.astype(np.float32, copy=False)


def check_temperature(temperature: float) -> float:
    """A sampling temperature (a positive finite number) as a float.

    Raises :class:`~awrs.errors.ArgumentTypeError` for anything but a real number (a str or a
    bool is not one) and :class:`~awrs.errors.GenerationError` for zero, a negative number,
    NaN or infinity."""
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real):
        raise ArgumentTypeError(f"temperature must be a number, got {type(temperature).__name__} {temperature!r}")
    t = float(temperature)
    if not np.isfinite(t) or t <= 0:
        raise GenerationError(
            f"temperature must be a positive number, got {temperature!r} "
            "(for the most likely constrained output use greedy decoding instead of temperature 0)"
        )
    return t
