"""What benchmarks/gpu_checks.sh runs on a lent GPU machine, run here on the CPU: models of
realistic shapes with random weights on the default model's tokenizer (benchmarks/
_random_model.py), the particle benchmark's rows read from a folder with no model, and its
device table (the rows as tensors, the device path taken)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def folder(tmp_path_factory, default_checkpoint):
    from _random_model import tokenizer_folder

    return tokenizer_folder(tmp_path_factory.mktemp("model"), default_checkpoint)


@pytest.mark.model
def test_the_folder_holds_the_tokenizer_and_no_weights_and_makes_the_default_models_vocabulary(folder, default_lm):
    from _random_model import vocabulary

    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "tokenizer.json"} <= names and not any(n.endswith(".safetensors") for n in names)
    vocab = vocabulary(folder)
    assert vocab.tokens == default_lm.vocab.tokens and vocab.eos_ids == default_lm.vocab.eos_ids


@pytest.mark.model
def test_a_random_model_of_a_shape_is_seeded_and_generates_under_a_constraint(folder, default_lm):
    from _random_model import random_model

    import awrs

    first, second = random_model("tiny", folder, seed=3), random_model("tiny", folder, seed=3)
    assert first.model.config.num_hidden_layers == 2 and first.model.config.hidden_size == 64
    assert first.vocab.tokens == default_lm.vocab.tokens
    for a, b in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)  # the same seed, the same weights
    result = awrs.generate(
        first, "Say something.", awrs.Regex(r"[a-z]{3} [a-z]{3}"), method="smc", n_particles=4, max_new_tokens=12, seed=0
    )
    assert result.valid and re.fullmatch(r"[a-z]{3} [a-z]{3}", result.text), result.text
    with pytest.raises(SystemExit, match="--shape must be one of"):
        random_model("llama-7b", folder)


@pytest.mark.model
def test_the_recorded_rows_are_read_from_a_folder_without_a_model(tmp_path, folder):
    import shutil

    import particle_throughput as pt

    mine = tmp_path / "model"
    shutil.copytree(folder, mine)
    with pytest.raises(SystemExit, match="make gpu-pack"):
        pt.recorded_rows("json", folder=mine)
    rows = np.log(np.random.default_rng(0).dirichlet(np.ones(49152), size=pt.RECORD_TOKENS)).astype(np.float32)
    np.save(pt.rows_path("json", 49152, mine), rows)
    found, vocab = pt.recorded_rows("json", folder=mine)
    assert np.array_equal(found, rows) and len(vocab) == 49152


@pytest.mark.model
def test_the_device_table_hands_the_rows_out_as_tensors_and_takes_the_device_path(folder, monkeypatch):
    import particle_throughput as pt
    from _random_model import vocabulary

    from awrs.sampler import device, proposal

    vocab = vocabulary(folder)
    rows = np.log(np.random.default_rng(1).dirichlet(np.full(49152, 0.05), size=3)).astype(np.float32)
    on_device = pt.FixedRows(rows, vocab, "cpu")
    batch = on_device.start(["x"], copies=4)
    assert torch.equal(batch.logprobs_tensor(), torch.from_numpy(rows[0]).expand(4, -1))
    batch.extend([5, 6, 7, 8])
    assert torch.equal(batch.logprobs_tensor(), torch.from_numpy(rows[1]).expand(4, -1))
    assert not hasattr(pt.FixedRows(rows, vocab).start(["x"]), "logprobs_tensor")  # the host path's rows stay arrays
    used = []
    steps = device.device_steps
    monkeypatch.setattr(proposal, "device_steps", lambda *a, **k: used.append(1) or steps(*a, **k))
    monkeypatch.setattr(device, "MODE", "always")
    _, constraint = pt.constraints()["regex"]
    found = pt.measure(on_device, constraint, 4, 3, 0)
    assert used and found["particle_steps"] > 0 and found["sampler_ms_per_step"] > 0
    used.clear()
    pt.measure(pt.FixedRows(rows, vocab), constraint, 4, 3, 0)
    assert not used  # numpy rows: the host path
