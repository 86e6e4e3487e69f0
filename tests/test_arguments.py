"""Every argument of awrs.generate (and of stream, json, choice, regex) is checked at the
boundary: a wrong type is an ArgumentTypeError (a TypeError and an AwrsError) that names the
argument, a value that cannot be used a GenerationError (or InvalidTextError) saying what to do;
never a raw exception from deep inside, a silent misreading, or a memory blow-up."""

from __future__ import annotations

import numpy as np
import pytest

import awrs
from awrs.errors import ArgumentTypeError, AwrsError, GenerationError, InvalidTextError
from awrs.lm.mock import MockLM

TOKENS = [b"h", b"e", b"l", b"o", b" ", b"w", b"r", b"d", b".", b"he", b"world."]


def lm() -> MockLM:
    return MockLM(TOKENS, np.random.default_rng(0).normal(0, 1, size=len(TOKENS) + 1))


# (keyword arguments, the exception, what its message must say)
BAD_ARGUMENTS = [
    ({"max_new_tokens": "10"}, ArgumentTypeError, "max_new_tokens must be an int, got str"),
    ({"max_new_tokens": None}, ArgumentTypeError, "max_new_tokens must be an int, got NoneType"),
    ({"max_new_tokens": True}, ArgumentTypeError, "max_new_tokens must be an int, got bool"),
    ({"max_new_tokens": 2.0}, ArgumentTypeError, "max_new_tokens must be an int, got float"),
    ({"max_new_tokens": -1}, GenerationError, "max_new_tokens must be at least 0"),
    ({"temperature": None}, ArgumentTypeError, "temperature must be a number, got NoneType"),
    ({"temperature": "1"}, ArgumentTypeError, "temperature must be a number, got str"),
    ({"temperature": True}, ArgumentTypeError, "temperature must be a number, got bool"),
    ({"temperature": float("nan")}, GenerationError, "temperature must be a positive number"),
    ({"temperature": -1}, GenerationError, "temperature must be a positive number"),
    ({"seed": -1}, GenerationError, "seed must be at least 0"),
    ({"seed": 1.5}, ArgumentTypeError, "seed must be an int, got float"),
    ({"seed": "abc"}, ArgumentTypeError, "seed must be an int, got str"),
    ({"seed": [1, 2]}, ArgumentTypeError, "seed must be an int, got list"),
    ({"n_particles": 0}, GenerationError, "n_particles must be at least 1"),
    ({"n_particles": "3"}, ArgumentTypeError, "n_particles must be an int, got str"),
    ({"n_particles": 2.0}, ArgumentTypeError, "n_particles must be an int, got float"),
    ({"n_particles": None}, ArgumentTypeError, "n_particles must be an int, got NoneType"),
    ({"ess_threshold": "a"}, ArgumentTypeError, "ess_threshold must be a number, got str"),
    ({"ess_threshold": None}, ArgumentTypeError, "ess_threshold must be a number, got NoneType"),
    ({"ess_threshold": 1.5}, GenerationError, "ess_threshold must be between 0 and 1"),
    ({"ess_threshold": float("nan")}, GenerationError, "ess_threshold must be between 0 and 1"),
    ({"estimator": "x"}, GenerationError, "estimator must be one of"),
    ({"estimator": None}, ArgumentTypeError, "estimator must be one of"),
    ({"max_rejects": 0}, GenerationError, "max_rejects must be at least 1"),
    ({"max_rejects": "a"}, ArgumentTypeError, "max_rejects must be an int, got str"),
    ({"max_rejects": 2.5}, ArgumentTypeError, "max_rejects must be an int, got float"),
    ({"resampling": "x"}, GenerationError, "resampling must be one of"),
    ({"resampling": ["systematic"]}, ArgumentTypeError, "resampling must be one of"),
    ({"method": None}, ArgumentTypeError, "method must be one of"),
    ({"method": ["smc"]}, ArgumentTypeError, "method must be one of"),
    ({"method": "beam"}, GenerationError, "method must be one of"),
    ({"stop": None}, ArgumentTypeError, "stop must be a str, bytes, a token id, or a list"),
    ({"stop": [None]}, ArgumentTypeError, r"stop\[0\] must be a str, bytes or a token id"),
    ({"stop": [""]}, GenerationError, "stop strings must be non-empty"),
    ({"stop": ["\ud800"]}, InvalidTextError, r"stop\[0\] holds the lone surrogate"),
    ({"stop": [99]}, GenerationError, "stop token id 99 is outside the vocabulary"),
    ({"stop": [-1]}, GenerationError, "stop token id -1 is outside the vocabulary"),
    ({"critic": 5}, ArgumentTypeError, "critic must be a function"),
    ({"on_token": "print"}, ArgumentTypeError, "on_token must be a function"),
    ({"greedy": "yes"}, ArgumentTypeError, "greedy must be True or False"),
    ({"twist": 1}, ArgumentTypeError, "twist must be True or False"),
    ({"twist": True}, GenerationError, "twist=True applies the critic"),
    ({"greedy": True}, GenerationError, "greedy=True follows the one most likely"),  # with the default method, smc
    ({"estimator": "none"}, GenerationError, "estimator='none' gives no weights"),
    ({"method": "lcd", "critic": lambda text: 0.0}, GenerationError, "this method carries no weights"),
    ({"method": "awrs", "greedy": True, "critic": lambda text: 0.0}, GenerationError, "this method carries no weights"),
]


@pytest.mark.parametrize("kwargs, error, says", BAD_ARGUMENTS, ids=[repr(k) for k, _, _ in BAD_ARGUMENTS])
def test_bad_arguments_are_typed_errors_naming_the_argument(kwargs, error, says):
    with pytest.raises(error, match=says) as info:
        awrs.generate(lm(), "hello", None, max_new_tokens=kwargs.pop("max_new_tokens", 3), **kwargs)
    assert isinstance(info.value, AwrsError)
    if error is ArgumentTypeError:
        assert isinstance(info.value, TypeError)


@pytest.mark.parametrize(
    "model, says", [(None, "got NoneType"), ("gpt2", r"load it first: lm = awrs.load_model\('gpt2'\)"), (42, "got int")]
)
def test_a_model_that_is_not_one_is_named(model, says):
    with pytest.raises(ArgumentTypeError, match=f"lm must be a language model.*{says}"):
        awrs.generate(model, "hello", None)


BAD_PROMPTS = [
    (None, ArgumentTypeError, "prompt must be a string, chat messages .* got NoneType"),
    (42, ArgumentTypeError, "prompt must be .* got int"),
    ({"role": "user", "content": "hello"}, ArgumentTypeError, "put a single chat message in a list"),
    ([], GenerationError, "prompt is an empty list"),
    ([[]], GenerationError, r"prompt\[0\] is an empty list"),
    ([{"content": "hello"}], GenerationError, r"prompt\[0\] has no 'role'"),
    ([{"role": "user"}], GenerationError, r"prompt\[0\] has no 'content'"),
    ([{"role": "user", "content": 5}], ArgumentTypeError, r"prompt\[0\]\['content'\] must be a str, got int"),
    ([{"role": "user", "content": "hello"}, "hello"], ArgumentTypeError, "got a list of dict, str"),
    ([1, "hello"], ArgumentTypeError, "got a list of int, str"),
    ([1.5, 2.5], ArgumentTypeError, "got a list of float"),
    ([[[1]]], ArgumentTypeError, "a batch inside a batch"),
    ([-1, 2], GenerationError, r"prompt\[0\] is token id -1, outside the vocabulary of 12 tokens"),
    ([0, 12], GenerationError, r"prompt\[1\] is token id 12, outside the vocabulary of 12 tokens"),
    ([[0], [99]], GenerationError, r"prompt\[1\]\[0\] is token id 99"),
    ("he\ud800llo", InvalidTextError, r"prompt holds the lone surrogate '\\ud800' at index 2"),
    ([{"role": "user", "content": "\udfff"}], InvalidTextError, r"prompt\[0\]\['content'\] holds the lone surrogate"),
    (["hello", "\ud800"], InvalidTextError, r"prompt\[1\] holds the lone surrogate"),
    (b"he\xffllo", InvalidTextError, "prompt is bytes that are not UTF-8 .*0xff at offset 2"),
]


@pytest.mark.parametrize("prompt, error, says", BAD_PROMPTS, ids=[repr(p) for p, _, _ in BAD_PROMPTS])
def test_bad_prompts_are_typed_errors(prompt, error, says):
    with pytest.raises(error, match=says):
        awrs.generate(lm(), prompt, None, max_new_tokens=3)


def test_a_bytes_prompt_is_read_as_utf8_text_not_as_token_ids():
    """b"hello" used to be taken as the token ids 104, 101, ...: now it is the text."""
    seen = []

    def logits(context):
        seen.append(context)
        return np.zeros(len(TOKENS) + 1)

    model = MockLM(TOKENS, logits)
    text_ids = tuple(model.encode_prompt("hello world."))
    seen.clear()
    awrs.generate(model, b"hello world.", None, max_new_tokens=2, seed=3, method="awrs")
    assert seen and all(context[: len(text_ids)] == text_ids for context in seen)
    seen.clear()
    awrs.generate_batch(model, [b"hello world.", "hello world."], None, max_new_tokens=2, seed=3, method="awrs")
    assert seen and all(context[: len(text_ids)] == text_ids for context in seen)


def test_token_ids_may_come_as_arrays():
    model = lm()
    ids = model.encode_prompt("hello")
    a = awrs.generate(model, ids, None, max_new_tokens=4, seed=1, method="awrs")
    b = awrs.generate(model, np.array(ids, dtype=np.int32), None, max_new_tokens=4, seed=1, method="awrs")
    assert a.particles == b.particles


def test_memory_for_the_particles_is_checked_before_anything_is_allocated():
    """10,000 particles of a model with SmolLM2-135M's KV cache (46,080 bytes per token) and
    258 tokens per row need about 118.9 GB: refused at once, with the numbers."""
    model = lm()
    model.kv_bytes_per_token = 46_080
    model.forward_calls = 0
    with pytest.raises(GenerationError, match=r"n_particles=10000 with rows of up to 258 tokens needs about 118\.9 GB"):
        awrs.generate(model, "h", None, n_particles=10_000)
    assert model.forward_calls == 0  # refused before the prefill


def test_the_memory_check_compares_with_what_is_free(monkeypatch):
    from awrs.lm import memory

    model = lm()
    need = memory.request_bytes(model, 8, 1 + 3 + 1)
    monkeypatch.setattr(memory, "available_bytes", lambda lm: need - 1)
    with pytest.raises(GenerationError, match=r"only .* is free; lower n_particles or max_new_tokens"):
        awrs.generate(model, "h", None, n_particles=8, max_new_tokens=3)
    monkeypatch.setattr(memory, "available_bytes", lambda lm: need)
    awrs.generate(model, "h", None, n_particles=8, max_new_tokens=3)


def test_stream_checks_its_arguments_when_called_not_when_iterated():
    with pytest.raises(ArgumentTypeError, match="lm must be a language model"):
        awrs.stream(None, "hello", None)
    with pytest.raises(ArgumentTypeError, match="max_new_tokens must be an int"):
        awrs.stream(lm(), "hello", None, max_new_tokens="5")
    with pytest.raises(GenerationError, match="method must be one of"):
        awrs.stream(lm(), "hello", None, method="beam")


@pytest.mark.parametrize(
    "helper, spec", [(awrs.choice, ["hello", "\ud800"]), (awrs.choice, None), (awrs.regex, 5), (awrs.json, 5)]
)
def test_structured_helpers_refuse_bad_specs(helper, spec):
    with pytest.raises(awrs.ConstraintError):
        helper(lm(), "hello", spec)


@pytest.mark.model
def test_ten_thousand_particles_of_the_default_model_are_refused_with_the_numbers(default_lm):
    """SmolLM2-135M holds 46,080 bytes of KV cache per token in float32: 10,000 particles of
    up to 256 new tokens need over 100 GB, refused before the prefill."""
    from awrs.lm.memory import kv_bytes_per_token

    assert kv_bytes_per_token(default_lm) == 2 * 30 * 3 * 64 * 4
    with pytest.raises(GenerationError, match=r"n_particles=10000 .* needs about 1\d\d\.\d GB"):
        awrs.generate(default_lm, "Hi", awrs.Regex("[0-9]+"), n_particles=10_000)
