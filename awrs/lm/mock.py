"""A tiny language model over a hand-written byte vocabulary, for fast exact tests.

Its next-token distribution is fixed, Markov (a function of the last token), or any
function of the whole context, so tests can enumerate its support and compute exact
probabilities. It implements the same :class:`~awrs.lm.base.LanguageModel` protocol as the
Hugging Face backend and counts its forward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from awrs.errors import ArgumentTypeError, GenerationError
from awrs.lm.base import Prompt, check_prompts, check_temperature, log_softmax
from awrs.lm.vocab import Vocabulary

__all__ = ["MockBatch", "MockLM"]

#: Fixed logits (V,), a Markov table (V, V) indexed by the last token, or a function of the
#: whole context (prompt plus generated ids) returning (V,) logits.
LogitsSpec = np.ndarray | Sequence[float] | Callable[[tuple[int, ...]], np.ndarray]


class MockLM:
    """A language model whose logits are given directly.

    ``tokens`` are the byte strings of the non-end tokens; one end-of-sequence token is
    appended with id ``len(tokens)`` (its bytes are ``b"<eos>"``, never produced as text).
    The logits cover all ``len(tokens) + 1`` ids. Raises
    :class:`~awrs.errors.ArgumentTypeError` for tokens that are not bytes or logits that are not
    numbers, and :class:`~awrs.errors.GenerationError` for logits of the wrong shape.
    """

    def __init__(self, tokens: Sequence[bytes], logits: LogitsSpec, *, max_length: int | None = None):
        if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
            raise ArgumentTypeError(f"tokens must be a list of bytes, got {type(tokens).__name__}")
        wrong = [k for k, t in enumerate(tokens) if not isinstance(t, bytes)]
        if wrong:
            raise ArgumentTypeError(f"tokens must be a list of bytes: tokens[{wrong[0]}] is {type(tokens[wrong[0]]).__name__}")
        self._vocab = Vocabulary.from_tokens([*tokens, b"<eos>"], eos_ids=[len(tokens)])
        self.eos_id = len(tokens)
        self._max_length = max_length
        self._logits_fn = _logits_function(logits, len(self._vocab))
        self.forward_calls = 0
        self.forward_rows = 0

    @property
    def vocab(self) -> Vocabulary:
        return self._vocab

    @property
    def max_length(self) -> int | None:
        return self._max_length

    def encode_prompt(self, prompt: Prompt) -> list[int]:
        """Greedy longest-match tokenisation of the prompt's UTF-8 bytes."""
        text = prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)
        data = text.encode("utf-8")
        by_bytes = {t: i for i, t in enumerate(self._vocab.tokens) if i not in self._vocab.special_ids}
        longest = max(map(len, by_bytes), default=0)
        ids, pos = [], 0
        while pos < len(data):
            for n in range(min(longest, len(data) - pos), 0, -1):
                tid = by_bytes.get(data[pos : pos + n])
                if tid is not None:
                    ids.append(tid)
                    pos += n
                    break
            else:
                raise GenerationError(f"the mock vocabulary cannot encode byte {data[pos : pos + 1]!r} of the prompt")
        return ids

    def start(self, prompts: Sequence[Sequence[int]], copies: int = 1) -> MockBatch:
        if copies < 1:
            raise GenerationError(f"copies must be at least 1, got {copies}")
        contexts = [tuple(p) for p in prompts for _ in range(copies)]
        return MockBatch(self, contexts)

    def next_logits(self, context: tuple[int, ...]) -> np.ndarray:
        return self._logits_fn(context)


class MockBatch:
    """Rows of contexts for :class:`MockLM`; logits are computed on every ``extend``."""

    def __init__(self, lm: MockLM, contexts: list[tuple[int, ...]]):
        self._lm = lm
        self._prompt_lens = [len(c) for c in contexts]
        self._contexts = contexts
        self._logits = self._forward(contexts)

    @property
    def size(self) -> int:
        return len(self._contexts)

    @property
    def generated(self) -> list[list[int]]:
        return [list(c[n:]) for c, n in zip(self._contexts, self._prompt_lens)]

    def logprobs(self, temperature: float = 1.0) -> np.ndarray:
        return log_softmax(self._logits, check_temperature(temperature))

    def extend(self, tokens: Sequence[int]) -> None:
        if len(tokens) != self.size:
            raise GenerationError(f"extend needs one token per row: {len(tokens)} tokens for {self.size} rows")
        self._contexts = [(*c, int(t)) for c, t in zip(self._contexts, tokens)]
        self._logits = self._forward(self._contexts)

    def add(self, prompts: Sequence[Sequence[int]], copies: int = 1) -> None:
        check_prompts(prompts, copies, None)
        contexts = [tuple(int(t) for t in p) for p in prompts for _ in range(copies)]
        self._contexts += contexts
        self._prompt_lens += [len(c) for c in contexts]
        self._logits = np.concatenate([self._logits, self._forward(contexts)]) if contexts else self._logits

    def select(self, rows: Sequence[int]) -> None:
        rows = list(rows)
        self._contexts = [self._contexts[r] for r in rows]
        self._prompt_lens = [self._prompt_lens[r] for r in rows]
        self._logits = self._logits[rows] if rows else self._logits[:0]

    def _forward(self, contexts: list[tuple[int, ...]]) -> np.ndarray:
        self._lm.forward_calls += 1
        self._lm.forward_rows += len(contexts)
        width = len(self._lm.vocab)
        if not contexts:
            return np.zeros((0, width))
        return np.stack([self._lm.next_logits(c) for c in contexts]).astype(np.float64)


def _logits_function(spec: LogitsSpec, width: int) -> Callable[[tuple[int, ...]], np.ndarray]:
    if callable(spec):
        return lambda ctx: _checked(_numbers(spec(ctx)), width)
    table = _numbers(spec)
    if table.ndim == 1:
        fixed = _checked(table, width)
        return lambda ctx: fixed
    if table.shape != (width, width):
        raise GenerationError(f"logits: a Markov table must have shape ({width}, {width}), got {table.shape}")
    uniform = np.zeros(width)
    return lambda ctx: table[ctx[-1]] if ctx else uniform


def _numbers(logits: object) -> np.ndarray:
    try:
        return np.asarray(logits, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArgumentTypeError(
            f"logits must be numbers (an array, a table, or a function returning one), got {logits!r:.80}"
        ) from None


def _checked(logits: np.ndarray, width: int) -> np.ndarray:
    if logits.shape != (width,):
        raise GenerationError(f"logits must have shape ({width},) (one per token and EOS), got {logits.shape}")
    return logits
