"""Shared fixtures. Tests run offline; the ones that need the embedded default model are
marked ``model`` and share one loaded copy per session."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI (.ci/run sets CI=1) replays the same examples on every run, so that a run is reproducible
# and red means a regression; runs elsewhere draw fresh examples and keep searching.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

#: Real external data lives beside the checkout (see the brief); tests read it from here.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def default_checkpoint():
    from awrs.lm.default_model import default_checkpoint as checkpoint

    return checkpoint()


@pytest.fixture(scope="session")
def smol_tokenizer(default_checkpoint):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_checkpoint)


@pytest.fixture(scope="session")
def default_lm():
    """The default model on the transformers backend (whatever else is installed)."""
    import torch

    import awrs

    torch.manual_seed(0)
    return awrs.load_model(backend="transformers", device="cpu")


def require_llama_cpp() -> None:
    """Skip without llama-cpp-python, except on CI, where `make test` installs it and its
    absence is a failure (a skipped backend would pass silently)."""
    from awrs.lm.llama_cpp import is_available

    if not is_available():
        if os.environ.get("CI"):
            pytest.fail("llama-cpp-python is not installed, but CI must test the llama.cpp backend (make test installs it)")
        pytest.skip("llama-cpp-python is not installed: pip install 'awrs[llama-cpp]'")


@functools.cache
def llama_model():
    """The default model on the llama.cpp backend, loaded once per session."""
    import awrs

    return awrs.load_model(backend="llama_cpp")


@pytest.fixture(scope="session")
def llama_lm():
    require_llama_cpp()
    return llama_model()
