"""The backend contract (docs/backends.md), run on every backend: transformers and llama.cpp.

A backend's batch must give, after any mix of prefill, steps, and row selections (reorder,
duplicate, drop), the same next-token distributions as recomputing each row alone: its prompt
prefilled, then its tokens fed one step at a time. Its vocabulary must be the model's exact
token bytes. Prefilling a whole text at once is a different computation (other kernels, other
rounding); how far it may differ is tested separately.
"""

from __future__ import annotations

import numpy as np
import pytest

import awrs
from awrs.errors import GenerationError, ModelError
from tests.conftest import llama_model, require_llama_cpp

pytestmark = pytest.mark.model

BACKENDS = ["transformers", "llama_cpp"]
#: Max |difference| of the log-probabilities of tokens above 1e-4, batched rows vs each row
#: recomputed alone: float32 transformers agrees to ~1e-5 (padding and batch shapes round
#: differently), llama.cpp to the bit (each sequence has its own KV stream).
TOLERANCE = {"transformers": 2e-4, "llama_cpp": 2e-4}


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    if request.param == "llama_cpp":
        require_llama_cpp()
        return request.param, request.getfixturevalue("llama_lm")
    return request.param, request.getfixturevalue("default_lm")


def recompute(lm, prompt, tokens):
    """The next-token log-probabilities after ``prompt + tokens``, for a row computed alone."""
    batch = lm.start([prompt])
    for t in tokens:
        batch.extend([t])
    return batch.logprobs()[0]


def fresh(lm, ids):
    return lm.start([ids]).logprobs()[0]


def assert_close(name, got, want):
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.isfinite(got).all()
    big = want > np.log(1e-4)
    assert np.abs(got[big] - want[big]).max() < TOLERANCE[name]
    assert np.argmax(got) == np.argmax(want) or abs(got.max() - want.max()) < TOLERANCE[name]


@pytest.mark.parametrize("rows", [1, 16])
def test_steps_and_row_operations_equal_recomputation(backend, rows):
    name, lm = backend
    prompt = lm.encode_prompt("The capital of France is")
    batch = lm.start([prompt], copies=rows)
    assert batch.size == rows
    rng = np.random.default_rng(rows)
    for step in range(3):
        lp = batch.logprobs()
        tokens = [int(rng.choice(8, p=None)) + int(np.argmax(lp[r])) * (step % 2) for r in range(rows)]
        tokens = [t % len(lm.vocab) for t in tokens]
        batch.extend(tokens)
        if rows > 1:
            # Resampling: duplicated ancestors, dropped rows, a new order.
            chosen = sorted(rng.choice(rows, size=rows, replace=True).tolist(), reverse=step == 1)
            batch.select(chosen)
    generated = batch.generated
    lp = batch.logprobs()
    for r in sorted({0, rows - 1, rows // 2}):
        assert_close(name, lp[r], recompute(lm, prompt, generated[r]))


def test_prompts_of_different_lengths_and_shrinking_selections(backend):
    name, lm = backend
    prompts = [lm.encode_prompt("Hello"), lm.encode_prompt("A much longer prompt about the weather in Paris")]
    batch = lm.start(prompts, copies=2)
    assert batch.size == 4
    batch.extend([11, 12, 13, 14])
    batch.select([3, 0])  # drop two rows, swap the prompts' order
    batch.extend([21, 22])
    assert batch.generated == [[14, 21], [11, 22]]
    lp = batch.logprobs()
    assert_close(name, lp[0], recompute(lm, prompts[1], [14, 21]))
    assert_close(name, lp[1], recompute(lm, prompts[0], [11, 22]))
    batch.select([])
    assert batch.size == 0
    batch.extend([])


def test_rows_join_a_running_batch(backend):
    """add() appends prefilled rows between steps (continuous batching): afterwards every row,
    old and new, equals its own recomputation through further steps and resampling."""
    name, lm = backend
    short, long = lm.encode_prompt("Hi"), lm.encode_prompt("A much longer prompt about the weather in Paris, France")
    batch = lm.start([short], copies=2)
    batch.extend([11, 12])
    batch.extend([21, 22])
    batch.add([long, short], copies=2)  # longer than the running rows: the old rows are padded
    assert batch.size == 6
    assert batch.generated == [[11, 21], [12, 22], [], [], [], []]
    batch.extend([31, 32, 33, 34, 35, 36])
    batch.select([5, 0, 2, 2])
    batch.add([lm.encode_prompt("Ok")])  # shorter than the running rows
    batch.extend([41, 42, 43, 44, 45])
    expected = [(short, [36, 41]), (short, [11, 21, 31, 42]), (long, [33, 43]), (long, [33, 44]), (lm.encode_prompt("Ok"), [45])]
    assert batch.generated == [g for _, g in expected]
    lp = batch.logprobs()
    for r, (prompt, tokens) in enumerate(expected):
        assert_close(name, lp[r], recompute(lm, prompt, tokens))
    if name == "llama_cpp":  # a long-running batch forgets the prompts of rows it dropped
        batch.select([2])
        assert batch._prompts == [long]
    empty = lm.start([short])
    empty.select([])
    empty.add([long])
    assert_close(name, empty.logprobs()[0], recompute(lm, long, []))


def test_a_whole_prefill_agrees_with_steps_to_rounding(backend):
    """Prefilling a text at once and reaching it by steps use different kernels. transformers
    float32 agrees to ~1e-5 everywhere; llama.cpp agrees to the bit over short texts, then its
    batched (prefill) and one-token (decode) matrix kernels round the quantised activations
    differently: measured total variation 0.005-0.05 between the two after 100-200 tokens of
    SmolLM2's Q4_1 (no difference at all below ~50). The bounds below hold that much."""
    name, lm = backend
    prompt = lm.encode_prompt("Write a short story about a dragon who learns to bake bread.")
    batch = lm.start([prompt])
    for n in range(120):
        lp = batch.logprobs()[0]
        if n in (20, 119):
            want = fresh(lm, prompt + batch.generated[0])
            tv = 0.5 * np.abs(np.exp(lp.astype(np.float64)) - np.exp(want.astype(np.float64))).sum()
            bound = 1e-4 if name == "transformers" or n == 20 else 0.1
            assert tv < bound, (n, tv)
        batch.extend([int(np.argmax(lp))])


def test_temperature_divides_the_logits(backend):
    _, lm = backend
    batch = lm.start([lm.encode_prompt("Once upon a time")])
    lp1, lp2 = batch.logprobs(1.0)[0].astype(np.float64), batch.logprobs(2.0)[0].astype(np.float64)
    expected = lp1 / 2 - np.logaddexp.reduce(lp1 / 2)
    assert np.abs(lp2 - expected).max() < 1e-4


def test_prompt_longer_than_the_context_window_is_refused(backend):
    _, lm = backend
    with pytest.raises(awrs.PromptTooLongError):
        lm.start([[1] * lm.max_length])
    with pytest.raises(GenerationError):
        lm.start([[]])


def test_both_backends_see_the_same_token_bytes_and_prompts(default_lm):
    require_llama_cpp()
    from awrs.lm.llama_cpp import LlamaCppModel

    llama = llama_model()
    assert llama.vocab.tokens == default_lm.vocab.tokens
    assert set(llama.vocab.special_ids) >= set(default_lm.vocab.special_ids)
    assert set(default_lm.vocab.eos_ids) <= set(llama.vocab.eos_ids)
    for prompt in ("Hello, world!", [{"role": "user", "content": "Name a colour."}]):
        assert llama.encode_prompt(prompt) == default_lm.encode_prompt(prompt)
    assert isinstance(llama, LlamaCppModel)


def test_llama_cpps_own_pieces_are_the_vocabularys_bytes():
    require_llama_cpp()
    lm = llama_model()
    text = lm.vocab.text_mask
    ids = np.flatnonzero(text)
    mismatched = [i for i in ids[:: max(1, len(ids) // 4000)] if lm.token_piece(int(i)) != lm.vocab.tokens[i]]
    assert not mismatched, [(i, lm.token_piece(int(i)), lm.vocab.tokens[i]) for i in mismatched[:5]]


def test_a_batch_outgrows_its_first_context(monkeypatch):
    """Past its KV stream's cells, or asked for more rows than its context has sequences, a
    llama.cpp batch moves into a larger context and goes on exactly."""
    require_llama_cpp()
    from awrs.lm import llama_cpp

    monkeypatch.setattr(llama_cpp, "_HEADROOM", 1)
    lm = llama_model()
    lm._idle.clear()
    prompt = lm.encode_prompt("Count: one two three")
    batch = lm.start([prompt], copies=2)
    first = (batch._ctx.seqs, batch._ctx.cells)
    assert first == (2, 256)
    batch.select([0, 1, 1, 0, 1])
    assert batch._ctx.seqs == 5
    for t in range(260 - len(prompt)):
        batch.extend([100 + t + r for r in range(5)])
    assert batch._ctx.cells == 512
    assert_close("llama_cpp", batch.logprobs()[3], recompute(lm, prompt, batch.generated[3]))


def test_llama_cpp_errors_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match="GGUF"):
        awrs.load_model(str(tmp_path), backend="llama_cpp")
    with pytest.raises(ModelError, match="backend"):
        awrs.load_model(backend="vllm")
    with pytest.raises(ModelError, match="dtype"):
        awrs.load_model(backend="llama_cpp", dtype="float16")


@pytest.mark.parametrize(
    ("info", "amx"),
    [
        (b"CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 | ", True),
        (b"CPU : AVX2 = 1 | AVX512 = 1 | REPACK = 1 | ", False),
        (b"CPU : AVX2 = 1 | AMX_INT8 = 0 | ", False),
    ],
)
def test_weights_are_not_repacked_for_amx(info, amx):
    """llama.cpp's AMX kernels crash on the default model (a segfault at the first decode on a
    Sapphire Rapids machine): where the build runs them, the model loads without extra buffer
    types. The contract tests above then run on such a machine; this reads the switch."""
    from awrs.lm.llama_cpp import uses_amx

    class Build:
        def llama_print_system_info(self):
            return info

    assert uses_amx(Build()) is amx


@pytest.mark.parametrize(
    ("source", "dtype", "installed", "chosen"),
    [
        (None, None, True, "llama_cpp"),
        (None, None, False, "transformers"),
        ("model.gguf", None, True, "llama_cpp"),
        ("model.GGUF", "auto", True, "llama_cpp"),
        ("model.gguf", None, False, "transformers"),
        ("HuggingFaceTB/SmolLM2-135M", None, True, "transformers"),
        (None, "bfloat16", True, "transformers"),
    ],
)
def test_auto_picks_llama_cpp_for_a_gguf_when_installed(monkeypatch, source, dtype, installed, chosen):
    from awrs.lm import llama_cpp, loading

    monkeypatch.setattr(llama_cpp, "is_available", lambda: installed)
    monkeypatch.setattr(loading, "_load_llama_cpp", lambda *a: "llama_cpp")
    monkeypatch.setattr(loading, "_load_transformers", lambda *a: "transformers")
    assert awrs.load_model(source, dtype=dtype) == chosen


def test_int8_is_dynamic_quantisation_of_the_transformers_model(default_lm):
    lm = awrs.load_model(backend="transformers", dtype="int8")
    assert "int8" in repr(lm)
    assert lm.vocab.tokens == default_lm.vocab.tokens
    prompt = lm.encode_prompt("The capital of France is")
    lp = lm.start([prompt]).logprobs()[0]
    assert np.isfinite(lp).all() and abs(np.logaddexp.reduce(lp.astype(np.float64))) < 1e-3
    # Lossy on this small model (benchmarks/lm_step.py reports KL ~0.3-0.8 nats from float32),
    # but still a language model: its top token is among float32's top five here.
    assert int(np.argmax(lp)) in np.argsort(-default_lm.start([prompt]).logprobs()[0])[:5]


def test_int8_layers_take_8_bit_activations_where_the_kernel_multiplies_them_exactly(default_lm):
    """Each quantised layer computes exactly (to float rounding) the product of the activations
    quantised per tensor (8 bits where full_range_is_exact, else torch's 7) and the int8
    weights: a kernel that saturated would be off by about half on large activations."""
    import torch

    from awrs.lm.hf import full_range_is_exact

    lm = awrs.load_model(backend="transformers", dtype="int8")
    layers = [m for m in lm.model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert len(layers) == 211  # 30 blocks of 7 linear layers and the output head
    full = full_range_is_exact()
    assert {type(m).__name__ for m in layers} == {"FullRangeLinear" if full else "Linear"}
    gen = torch.Generator().manual_seed(0)
    for layer in layers[::50]:
        w = layer.weight().dequantize()
        x = torch.rand(3, w.shape[1], generator=gen) * 6 - 1  # mostly positive, as after SiLU
        exact = torch.quantize_per_tensor_dynamic(x, torch.quint8, reduce_range=not full).dequantize() @ w.T
        if layer.bias() is not None:
            exact += layer.bias()
        with torch.no_grad():
            torch.testing.assert_close(layer(x), exact, rtol=1e-4, atol=1e-3)


def test_a_llama_batch_collected_in_a_reference_cycle_leaves_no_closed_context_to_reuse(llama_lm):
    """The collector finalizes a batch and its context together; the batch's __del__ returning
    the context to the idle pool must not leave a closed one there (it crashed the next start)."""
    import gc

    prompt = llama_lm.encode_prompt("Hello")
    batch = llama_lm.start([prompt], copies=2)
    cycle: list = [batch]
    cycle.append(cycle)
    del batch, cycle
    gc.collect()
    again = llama_lm.start([prompt], copies=2)
    assert not again._ctx._closed and not any(ctx._closed for ctx in llama_lm._idle)
    again.extend([0, 1])
    assert np.isfinite(again.logprobs()).any(axis=1).all()
