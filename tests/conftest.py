"""Shared fixtures. Tests run offline; the ones that need the embedded default model are
marked ``model`` and share one loaded copy per session."""

from __future__ import annotations

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
    import torch

    import awrs

    torch.manual_seed(0)
    return awrs.load_model(device="cpu")
