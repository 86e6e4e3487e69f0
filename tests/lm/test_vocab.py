from __future__ import annotations

import numpy as np
import pytest

from awrs.lm.vocab import Vocabulary


def test_eos_ids_are_special_and_empty_tokens_are_special():
    v = Vocabulary.from_tokens([b"a", b"", b"bc", b"<eos>"], eos_ids=[3])
    assert v.special_ids == {1, 3}
    assert v.text_mask.tolist() == [True, False, True, False]
    assert v.eos_array.tolist() == [3]


def test_flat_layout_matches_tokens():
    tokens = [b"a", b"xyz", b"", "é".encode(), b"<eos>"]
    v = Vocabulary.from_tokens(tokens, eos_ids=[4])
    buf, off = v.flat
    assert buf.dtype == np.uint8 and off.dtype == np.int64
    assert [bytes(buf[off[i] : off[i + 1]]) for i in range(len(tokens))] == tokens


def test_decode_skips_special_tokens():
    v = Vocabulary.from_tokens([b"a", b"b", b"<eos>"], eos_ids=[2])
    assert v.decode([0, 1, 2, 0]) == b"aba"


@pytest.mark.parametrize(
    "kwargs",
    [dict(eos_ids=[]), dict(eos_ids=[5]), dict(eos_ids=[0], special_ids=[-1])],
)
def test_invalid_vocabularies_are_refused(kwargs):
    with pytest.raises(ValueError):
        Vocabulary.from_tokens([b"a", b"b"], **kwargs)
