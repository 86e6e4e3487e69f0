"""awrs.transformers.generate checks its arguments before the model runs (no model needed:
each of these is refused before the tokenizer is read)."""

from __future__ import annotations

import pytest

import awrs
from awrs.errors import ArgumentTypeError, GenerationError

torch = pytest.importorskip("torch")


class FakeModel:
    """Enough of a transformers model to pass the type check; never run."""

    config = None
    generation_config = None

    def forward(self, *args, **kwargs):
        raise AssertionError("the model must not run when the arguments are bad")


class FakeTokenizer:
    def convert_ids_to_tokens(self, ids):
        raise AssertionError("the tokenizer must not be read when the arguments are bad")

    def encode(self, text):
        raise AssertionError("the tokenizer must not be read when the arguments are bad")


C = awrs.Regex("[0-9]+")
IDS = torch.tensor([[1, 2, 3]])

BAD = [
    ({"model": None}, ArgumentTypeError, "model must be a transformers causal LM"),
    ({"model": "gpt2"}, ArgumentTypeError, "model must be a transformers causal LM"),
    ({"tokenizer": "gpt2"}, ArgumentTypeError, "tokenizer must be a transformers tokenizer"),
    ({"constraint": "[0-9]+"}, ArgumentTypeError, "constraint must be an awrs constraint"),
    ({"input_ids": None}, GenerationError, "pass input_ids"),
    ({"input_ids": "1 2 3"}, ArgumentTypeError, "input_ids must be a tensor"),
    ({"input_ids": [[1, 2], [3]]}, ArgumentTypeError, "input_ids must be a tensor"),
    ({"input_ids": torch.tensor([[1.5, 2.0]])}, ArgumentTypeError, "input_ids must hold ints"),
    ({"input_ids": torch.zeros((0, 3), dtype=torch.long)}, GenerationError, "with a row or more"),
    ({"input_ids": torch.zeros((1, 2, 3), dtype=torch.long)}, GenerationError, "must have shape"),
    ({"attention_mask": torch.tensor([[1, 1]])}, GenerationError, "attention_mask has shape"),
    ({"max_new_tokens": "8"}, ArgumentTypeError, "max_new_tokens must be an int"),
    ({"max_new_tokens": -1}, GenerationError, "max_new_tokens must be at least 0"),
    (
        {"max_length": None, "max_new_tokens": 4, "num_return_sequences": 0},
        GenerationError,
        "num_return_sequences must be at least 1",
    ),
    ({"num_return_sequences": "2"}, ArgumentTypeError, "num_return_sequences must be an int"),
    ({"temperature": "hot", "do_sample": True}, ArgumentTypeError, "temperature must be a number"),
    ({"do_sample": "yes"}, ArgumentTypeError, "do_sample must be True or False"),
    ({"eos_token_id": "2"}, ArgumentTypeError, "eos_token_id must be an int"),
    ({"pad_token_id": 1.0}, ArgumentTypeError, "pad_token_id must be an int"),
    ({"stop_strings": [1]}, ArgumentTypeError, "stop_strings must be a str or a list of str"),
    ({"method": "beam"}, GenerationError, "method must be one of"),
    ({"method": "smc"}, GenerationError, "pass do_sample=True"),
    ({"n_particles": "4"}, ArgumentTypeError, "n_particles must be an int"),
    ({"num_beams": 4}, GenerationError, "beam search"),
    ({"return_dict_in_generate": "yes"}, ArgumentTypeError, "return_dict_in_generate must be True or False"),
    ({"frobnicate": 1}, GenerationError, r"does not support \['frobnicate'\]"),
]


@pytest.mark.parametrize("change, error, says", BAD, ids=[repr(c) for c, _, _ in BAD])
def test_bad_arguments_are_refused_before_the_model_runs(change, error, says):
    kwargs = {"model": FakeModel(), "tokenizer": FakeTokenizer(), "constraint": C, "input_ids": IDS, "max_new_tokens": 4}
    kwargs.update(change)
    with pytest.raises(error, match=says):
        awrs.transformers.generate(**kwargs)
