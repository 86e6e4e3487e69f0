"""The Hugging Face backend against full recomputation on the default model."""

from __future__ import annotations

import numpy as np
import pytest

from awrs.errors import GenerationError, ModelError, PromptTooLongError

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.model

#: float32 on CPU: cached and recomputed attention sum in different orders; differences seen
#: are ~1e-5 in log-probability, so 1e-3 catches a wrong cache row or position by far.
ATOL = 1e-3


def recomputed_logprobs(lm, ids):
    with torch.inference_mode():
        logits = lm.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
    return torch.log_softmax(logits, -1).numpy()


def test_cached_steps_and_row_operations_match_recomputation(default_lm):
    prompt = default_lm.encode_prompt("The capital of France is")
    batch = default_lm.start([prompt], copies=3)
    rng = np.random.default_rng(0)
    for _ in range(3):
        batch.extend(rng.integers(100, 20000, size=batch.size).tolist())
    batch.select([2, 0, 0, 1])  # copy, reorder and drop-free duplicate
    batch.extend([11, 12, 13, 14])
    batch.select([3, 1])  # drop rows
    batch.extend([15, 16])
    lp = batch.logprobs()
    assert lp.shape == (2, len(default_lm.vocab))
    for row, generated in enumerate(batch.generated):
        assert len(generated) == 5
        np.testing.assert_allclose(lp[row], recomputed_logprobs(default_lm, prompt + generated), atol=ATOL)


def test_prompts_of_different_lengths_share_one_padded_batch(default_lm):
    short = default_lm.encode_prompt("Hi")
    long = default_lm.encode_prompt("Once upon a time, in a land far away,")
    batch = default_lm.start([short, long], copies=2)
    assert batch.size == 4
    batch.extend([260, 260, 314, 314])
    lp = batch.logprobs()
    np.testing.assert_allclose(lp[1], recomputed_logprobs(default_lm, [*short, 260]), atol=ATOL)
    np.testing.assert_allclose(lp[2], recomputed_logprobs(default_lm, [*long, 314]), atol=ATOL)


def test_temperature_divides_the_logits(default_lm):
    batch = default_lm.start([default_lm.encode_prompt("Hello")])
    lp1 = batch.logprobs().astype(np.float64)
    lp2 = batch.logprobs(temperature=2.0).astype(np.float64)
    expected = lp1 / 2.0 - np.logaddexp.reduce(lp1 / 2.0, axis=-1, keepdims=True)
    np.testing.assert_allclose(lp2[0], expected[0], atol=1e-4)
    with pytest.raises(GenerationError):
        batch.logprobs(temperature=-1)


def test_chat_messages_use_the_chat_template(default_lm):
    messages = [{"role": "user", "content": "Say hi"}]
    text = default_lm.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = default_lm.encode_prompt(messages)
    assert default_lm.tokenizer.decode(ids) == text
    assert text.endswith("<|im_start|>assistant\n")


def test_prompt_longer_than_the_context_window_is_refused(default_lm):
    ids = [260] * default_lm.max_length
    with pytest.raises(PromptTooLongError, match="context window"):
        default_lm.start([ids])


def test_empty_selection_and_extension(default_lm):
    batch = default_lm.start([default_lm.encode_prompt("x")])
    batch.select([])
    assert batch.size == 0
    batch.extend([])  # no rows: nothing to run
    with pytest.raises(GenerationError):
        batch.extend([1])


def test_unavailable_device_and_unknown_dtype_are_clear_errors():
    from awrs.lm.hf import resolve_device, resolve_dtype

    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA"):
            resolve_device("cuda")
    with pytest.raises(ModelError, match="dtype"):
        resolve_dtype("float7", torch.device("cpu"))
    assert resolve_dtype(None, torch.device("cpu")) == torch.float32


def test_missing_model_is_a_model_error(tmp_path):
    import awrs

    with pytest.raises(ModelError, match="could not load"):
        awrs.load_model(str(tmp_path / "no-such-model"))


def test_logprobs_tensor_is_logprobs_left_on_the_device(default_lm):
    batch = default_lm.start([default_lm.encode_prompt("Hello")], copies=2)
    for t in (1.0, 0.7):
        assert np.array_equal(batch.logprobs_tensor(t).cpu().numpy(), batch.logprobs(t))
    assert batch.device.type == "cpu"


def test_generation_through_the_device_path_on_cpu_tensors(default_lm, monkeypatch):
    """With device.MODE "always" an SMC run on the HF backend draws its candidates from the
    batch's tensors (k = 2, so the host continuation runs too): valid outputs, finite weights."""
    import awrs
    from awrs.sampler import device

    monkeypatch.setattr(device, "MODE", "always")
    monkeypatch.setattr(device, "DEFAULT_K", 2)
    drawn = []
    draw = device.draw_candidates
    monkeypatch.setattr(device, "draw_candidates", lambda *a, **k: drawn.append(1) or draw(*a, **k))
    result = awrs.generate(default_lm, "The year is", awrs.Regex(r" [0-9]{4}\."), n_particles=4, max_new_tokens=8, seed=0)
    assert drawn and result.valid and all(np.isfinite(p.log_weight) for p in result.particles if p.valid)
