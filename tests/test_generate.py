"""awrs.generate returns one Result for one prompt; awrs.generate_batch returns one per prompt,
exactly what generate gave for the same call; a list of prompts given to generate still works,
with a DeprecationWarning that names generate_batch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import awrs
from awrs.errors import ArgumentTypeError, GenerationError, InvalidTextError
from awrs.lm.mock import MockLM

TOKENS = [b"a", b"b", b"c", b" ", b"ab", b"hi"]
CONSTRAINT = awrs.Regex(r"(a|b)+ c")
PROMPTS = ["hi", [{"role": "user", "content": "hi a"}], [5, 0, 1]]  # text, chat messages, token ids
SEEDS = range(4)
# Every method, and SMC with enough particles to resample: the weights and the posterior draw
# use the random stream too.
SETTINGS = [
    {"method": "smc", "n_particles": 6},
    {"method": "awrs"},
    {"method": "lcd"},
    {"method": "mask"},
]


def lm() -> MockLM:
    """Logits depend on the last token, so particles and prompts differ in what they sample."""
    table = np.random.default_rng(7).normal(0, 1.5, size=(len(TOKENS) + 1, len(TOKENS) + 1))
    return MockLM(TOKENS, table)


def same(a: awrs.Result, b: awrs.Result) -> bool:
    """Same output, particles (texts, token ids, weights), posterior and estimate; timings aside."""
    return (a.text, a.valid, a.stop_reason, a.particles, a.posterior, a.log_ml, a.value, a.method) == (
        b.text,
        b.valid,
        b.stop_reason,
        b.particles,
        b.posterior,
        b.log_ml,
        b.value,
        b.method,
    )


@pytest.mark.parametrize("settings", SETTINGS, ids=[s["method"] for s in SETTINGS])
def test_a_batch_of_one_is_generate(settings):
    model = lm()
    for prompt in PROMPTS:
        for seed in SEEDS:
            one = awrs.generate(model, prompt, CONSTRAINT, max_new_tokens=6, seed=seed, **settings)
            (batched,) = awrs.generate_batch(model, [prompt], CONSTRAINT, max_new_tokens=6, seed=seed, **settings)
            assert isinstance(one, awrs.Result)
            assert same(one, batched), (prompt, seed)


@pytest.mark.parametrize("settings", SETTINGS, ids=[s["method"] for s in SETTINGS])
def test_a_batch_is_what_generate_gave_for_a_list_of_prompts(settings):
    model = lm()
    for seed in SEEDS:
        with pytest.warns(DeprecationWarning):
            old = awrs.generate(model, PROMPTS, CONSTRAINT, max_new_tokens=6, seed=seed, **settings)
        new = awrs.generate_batch(model, PROMPTS, CONSTRAINT, max_new_tokens=6, seed=seed, **settings)
        assert isinstance(old, list) and len(new) == len(PROMPTS)
        assert all(same(a, b) for a, b in zip(old, new)), seed


def test_greedy_batches_give_each_prompt_its_own_result():
    """Greedy decoding draws nothing at random, so each prompt of a batch gets exactly what it
    gets alone (with sampling, the prompts of a batch share one random stream)."""
    model = lm()
    batch = awrs.generate_batch(model, PROMPTS, CONSTRAINT, method="awrs", greedy=True, max_new_tokens=6, seed=0)
    for prompt, result in zip(PROMPTS, batch):
        assert same(result, awrs.generate(model, prompt, CONSTRAINT, method="awrs", greedy=True, max_new_tokens=6))


def test_a_list_of_prompts_to_generate_warns_and_names_generate_batch():
    with pytest.warns(DeprecationWarning, match=r"awrs\.generate_batch\(lm, prompts") as caught:
        results = awrs.generate(lm(), ["hi", "hi a"], CONSTRAINT, method="lcd", max_new_tokens=4, seed=0)
    assert [type(r) for r in results] == [awrs.Result, awrs.Result]
    assert caught[0].filename == __file__  # the warning points at the caller's line


@pytest.mark.parametrize("prompt", PROMPTS, ids=["text", "chat messages", "token ids"])
def test_one_prompt_does_not_warn(prompt):
    """Chat messages and token ids are lists, and each is one prompt."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        result = awrs.generate(lm(), prompt, CONSTRAINT, method="lcd", max_new_tokens=4, seed=0)
    assert isinstance(result, awrs.Result)


def test_several_conversations_are_a_batch():
    chats = [[{"role": "user", "content": "hi"}], [{"role": "user", "content": "hi a"}]]
    results = awrs.generate_batch(lm(), chats, CONSTRAINT, method="lcd", max_new_tokens=4, seed=0)
    assert [type(r) for r in results] == [awrs.Result, awrs.Result]


# (what is passed as prompts, the exception, what its message must say)
NOT_A_BATCH = [
    ("hi", ArgumentTypeError, "prompts must be a list of prompts, got str: use awrs.generate for one prompt"),
    (b"hi", ArgumentTypeError, "prompts must be a list of prompts, got bytes"),
    ([{"role": "user", "content": "hi"}], ArgumentTypeError, "got chat messages, which are one prompt"),
    ([5, 0], ArgumentTypeError, "got token ids, which are one prompt"),
    (np.array([5, 0]), ArgumentTypeError, "got token ids, which are one prompt"),
    ([], GenerationError, "prompts is an empty list"),
    (None, ArgumentTypeError, "prompts must be a list of prompts, got NoneType"),
    (["hi", "a\ud800"], InvalidTextError, r"prompts\[1\] holds the lone surrogate"),
    (["hi", []], GenerationError, r"prompts\[1\] is an empty list"),
    (["hi", 5], ArgumentTypeError, "got a list of int, str"),
]


@pytest.mark.parametrize("prompts, error, says", NOT_A_BATCH, ids=[repr(p) for p, _, _ in NOT_A_BATCH])
def test_generate_batch_needs_a_list_of_prompts(prompts, error, says):
    with pytest.raises(error, match=says):
        awrs.generate_batch(lm(), prompts, CONSTRAINT, max_new_tokens=3)
