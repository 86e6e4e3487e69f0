"""Vocabulary's byte scans (used to prune tokens before sampling) against brute force."""

from __future__ import annotations

import random

import numpy as np

from awrs.lm.vocab import Vocabulary


def test_byte_scans_agree_with_brute_force():
    rng = random.Random(0)
    tokens = [bytes(rng.choice(b"ab\nc.") for _ in range(rng.randint(0, 5))) for _ in range(300)] + [b"<eos>"]
    vocab = Vocabulary.from_tokens(tokens, eos_ids=[300])
    allowed = np.zeros(256, dtype=bool)
    allowed[list(b"ab")] = True
    bad = ~allowed
    assert vocab.tokens_with_bytes_outside(allowed).tolist() == [any(b not in b"ab" for b in t) for t in tokens]
    assert vocab.tokens_with_bytes(b"\n.").tolist() == [any(b in b"\n." for b in t) for t in tokens]

    def first(t, which):  # position of the first byte with which(b), past the end if none
        return next((i for i, b in enumerate(t) if which(b)), len(t) + 1)

    expected = [first(t, lambda b: bad[b]) < first(t, lambda b: b in b"\n.") for t in tokens]
    assert vocab.bytes_before(bad, b"\n.").tolist() == expected
