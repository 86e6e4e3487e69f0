"""A language model's vocabulary as exact byte strings.

This module is pure Python and NumPy: constraints and samplers see tokens only through
:class:`Vocabulary`, never through a tokenizer object.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

__all__ = ["Vocabulary"]


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Every token id of a model mapped to the exact bytes it contributes to the text.

    Invariants (checked at construction):

    - ``tokens[i]`` is the byte string of token ``i``; ids run from 0 to ``len(tokens) - 1``,
      which equals the width of the model's logits.
    - ``eos_ids`` end generation; they are a subset of ``special_ids``.
    - ``special_ids`` are never produced as text under a constraint (control tokens, padding
      rows past the tokenizer's size, tokens with no bytes). Their byte strings are kept only
      for display.
    """

    tokens: tuple[bytes, ...]
    eos_ids: frozenset[int]
    special_ids: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not all(isinstance(t, bytes) for t in self.tokens):
            raise TypeError("Vocabulary.tokens must be a tuple of bytes")
        n = len(self.tokens)
        if not self.eos_ids:
            raise ValueError("a vocabulary needs at least one end-of-sequence id")
        for name, ids in (("eos_ids", self.eos_ids), ("special_ids", self.special_ids)):
            bad = [i for i in ids if not 0 <= i < n]
            if bad:
                raise ValueError(f"{name} out of range for a vocabulary of {n} tokens: {bad[:5]}")
        if not self.eos_ids <= self.special_ids:
            object.__setattr__(self, "special_ids", self.special_ids | self.eos_ids)

    @classmethod
    def from_tokens(
        cls,
        tokens: Iterable[bytes],
        eos_ids: Iterable[int],
        special_ids: Iterable[int] = (),
    ) -> Vocabulary:
        """Build a vocabulary; tokens with no bytes are marked special (they could loop forever)."""
        tokens = tuple(tokens)
        empty = {i for i, t in enumerate(tokens) if not t}
        return cls(tokens, frozenset(eos_ids), frozenset(special_ids) | empty)

    def __len__(self) -> int:
        return len(self.tokens)

    @cached_property
    def text_mask(self) -> np.ndarray:
        """Boolean array: True for the tokens that may appear in constrained text."""
        mask = np.ones(len(self.tokens), dtype=np.bool_)
        if self.special_ids:
            mask[np.fromiter(self.special_ids, dtype=np.int64)] = False
        return mask

    @cached_property
    def eos_array(self) -> np.ndarray:
        """The end-of-sequence ids as a sorted int64 array."""
        return np.array(sorted(self.eos_ids), dtype=np.int64)

    @cached_property
    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """All token bytes in one uint8 buffer plus int64 offsets (token i is buf[off[i]:off[i+1]]).

        This is the layout the Numba kernels walk.
        """
        lengths = np.fromiter((len(t) for t in self.tokens), dtype=np.int64, count=len(self.tokens))
        offsets = np.zeros(len(self.tokens) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        buf = np.frombuffer(b"".join(self.tokens), dtype=np.uint8).copy()
        return buf, offsets

    @cached_property
    def first_byte(self) -> np.ndarray:
        """Each token's first byte as an int16 array (-1 for a token with no bytes)."""
        buf, offsets = self.flat
        out = np.full(len(self.tokens), -1, dtype=np.int16)
        nonempty = offsets[1:] > offsets[:-1]
        out[nonempty] = buf[offsets[:-1][nonempty]]
        return out

    @cached_property
    def first_bytes_then_end(self) -> list[int]:
        """Each token's first byte, 256 for a token with no bytes, then one more 256 (the
        end-of-sequence candidate the sampler puts after the tokens): a list, which the Python
        walks index once per candidate (awrs.sampler.space.TokenChecker.refusals)."""
        out = self.first_byte.astype(np.int64)
        out[out < 0] = 256
        return [*out.tolist(), 256]

    def tokens_with_bytes_outside(self, allowed: np.ndarray) -> np.ndarray:
        """Boolean array: True for the tokens holding a byte not marked in ``allowed`` (a
        (256,) boolean array)."""
        buf, offsets = self.flat
        bad = (~np.asarray(allowed, dtype=np.bool_))[buf].astype(np.int64)
        cum = np.concatenate([[0], np.cumsum(bad)])  # bad bytes before each offset
        outside: np.ndarray = (cum[offsets[1:]] - cum[offsets[:-1]]) > 0
        return outside

    def tokens_with_bytes(self, byteset: bytes) -> np.ndarray:
        """Boolean array: True for the tokens holding at least one byte of ``byteset``."""
        marked = np.zeros(256, dtype=np.bool_)
        marked[list(byteset)] = True
        return self.tokens_with_bytes_outside(~marked)

    def bytes_before(self, bad: np.ndarray, marks: bytes) -> np.ndarray:
        """Boolean array: True for the tokens in which a byte marked in ``bad`` (a (256,)
        boolean array) comes before every byte of ``marks`` (or the token has none)."""
        marked = np.zeros(256, dtype=np.bool_)
        marked[list(marks)] = True
        return self._first_position(np.asarray(bad, dtype=np.bool_)) < self._first_position(marked)

    def _first_position(self, which: np.ndarray) -> np.ndarray:
        """Per token, the position of its first byte ``b`` with ``which[b]`` (int64 max if none)."""
        buf, offsets = self.flat
        none = np.iinfo(np.int64).max
        out = np.full(len(self.tokens), none, dtype=np.int64)
        nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
        if not len(nonempty):
            return out
        starts = offsets[nonempty]
        # Empty tokens hold no bytes, so the non-empty ones' starts cut buf into their bytes.
        first = np.minimum.reduceat(np.where(which[buf], np.arange(len(buf)), none), starts)
        found = first < none
        out[nonempty[found]] = first[found] - starts[found]
        return out

    def decode(self, ids: Sequence[int]) -> bytes:
        """The bytes of a token sequence, with special tokens left out."""
        special = self.special_ids
        return b"".join(self.tokens[i] for i in ids if i not in special)
