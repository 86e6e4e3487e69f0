from __future__ import annotations

import numpy as np
import pytest

from awrs.errors import GenerationError
from awrs.lm.base import LanguageModel, SequenceBatch
from awrs.lm.mock import MockLM

TOKENS = [b"a", b"b", b"ab"]


def test_mock_implements_the_protocol():
    lm = MockLM(TOKENS, np.zeros(4))
    assert isinstance(lm, LanguageModel)
    assert isinstance(lm.start([[0]]), SequenceBatch)


def test_fixed_logits_give_normalised_logprobs_and_temperature_flattens():
    lm = MockLM(TOKENS, np.log([0.1, 0.2, 0.3, 0.4]))
    batch = lm.start([[0]], copies=2)
    lp = batch.logprobs()
    assert lp.shape == (2, 4)
    np.testing.assert_allclose(np.exp(lp[0]), [0.1, 0.2, 0.3, 0.4], rtol=1e-6)
    hot = np.exp(batch.logprobs(temperature=100.0)[0])
    assert hot.max() - hot.min() < 0.01
    with pytest.raises(GenerationError):
        batch.logprobs(temperature=0)


def test_markov_logits_follow_the_last_token_and_rows_reorder():
    table = np.full((4, 4), -5.0)
    np.fill_diagonal(table, 5.0)  # each token most likely repeats itself
    lm = MockLM(TOKENS, table)
    batch = lm.start([[0], [1]])
    assert batch.logprobs().argmax(1).tolist() == [0, 1]
    batch.extend([2, 1])
    assert batch.logprobs().argmax(1).tolist() == [2, 1]
    batch.select([1, 1, 0])
    assert batch.generated == [[1], [1], [2]]
    assert batch.logprobs().argmax(1).tolist() == [1, 1, 2]
    batch.select([])
    assert batch.size == 0


def test_prompt_encoding_is_longest_match():
    lm = MockLM(TOKENS, np.zeros(4))
    assert lm.encode_prompt("abba") == [2, 1, 0]
    with pytest.raises(GenerationError):
        lm.encode_prompt("abc")


def test_forward_calls_are_counted_per_step():
    lm = MockLM(TOKENS, np.zeros(4))
    batch = lm.start([[0]], copies=3)
    batch.extend([0, 1, 2])
    assert lm.forward_calls == 2
    assert lm.forward_rows == 6


@pytest.mark.parametrize(
    "tokens, logits, error, says",
    [
        ([b"a", "b"], np.zeros(3), "ArgumentTypeError", r"tokens\[1\] is str"),
        ("ab", np.zeros(3), "ArgumentTypeError", "tokens must be a list of bytes, got str"),
        (None, np.zeros(2), "ArgumentTypeError", "tokens must be a list of bytes, got NoneType"),
        ([b"a"], "x", "ArgumentTypeError", "logits must be numbers"),
        ([b"a"], None, "GenerationError", r"must have shape \(2, 2\)"),
        ([b"a"], np.zeros(5), "GenerationError", r"logits must have shape \(2,\)"),
        ([b"a"], np.zeros((3, 3)), "GenerationError", r"Markov table must have shape \(2, 2\)"),
    ],
)
def test_bad_tokens_or_logits_are_typed_errors(tokens, logits, error, says):
    import awrs

    with pytest.raises(getattr(awrs, error), match=says):
        MockLM(tokens, logits)


def test_rows_join_a_mock_batch():
    lm = MockLM([b"a", b"b"], lambda ctx: np.array([len(ctx), 0.0, 1.0]))
    batch = lm.start([[0]], copies=2)
    batch.extend([1, 0])
    batch.add([[0, 1, 1]], copies=2)
    assert batch.size == 4 and batch.generated == [[1], [0], [], []]
    lp = batch.logprobs()
    assert np.allclose(lp[2], lp[3]) and not np.allclose(lp[0], lp[2])
    assert np.allclose(lp[0], lm.start([[0, 1]]).logprobs()[0])
    with pytest.raises(GenerationError):
        batch.add([[]])
