"""Models of a realistic size with random weights, for timings on machines with no model hub
and no trained checkpoint of that size (a GPU machine lent for a few minutes): a forward pass
costs the same whatever the weights are, and the sampler's work depends only on the rows it
gets. The tokenizer is the default model's (SmolLM2's 49,152 tokens), read from a folder
holding its tokenizer and config files and no weights (:func:`tokenizer_folder` makes one).

Shapes (``SHAPES``):

- ``smollm2-135m``: the default model's own config (30 layers, width 576).
- ``llama-1b``: Llama 3.2 1B's shape (16 layers, width 2048, 32 query and 8 key-value heads,
  MLP 8192, tied embeddings) with SmolLM2's vocabulary instead of Llama's 128,256 tokens.
- ``tiny``: 2 layers of width 64, for the tests.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

#: The files of a model folder that make its tokenizer, vocabulary and config (no weights).
TOKENIZER_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")

#: Config fields of each shape, over the default model's config.json.
SHAPES: dict[str, dict[str, Any]] = {
    "smollm2-135m": {},
    "llama-1b": {
        "hidden_size": 2048,
        "intermediate_size": 8192,
        "num_hidden_layers": 16,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 64,
        "max_position_embeddings": 8192,
        "rope_theta": 500000.0,
        "tie_word_embeddings": True,
    },
    "tiny": {
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
    },
}


def tokenizer_folder(target: Path, source: Path | None = None) -> Path:
    """Copy the tokenizer and config files of ``source`` (default: the default model's
    converted checkpoint, made if missing) into ``target``; returns ``target``."""
    if source is None:
        from awrs.lm.default_model import default_checkpoint

        source = default_checkpoint()
    target.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (source / name).exists():
            shutil.copy2(source / name, target / name)
    return target


def random_model(shape: str, folder: Path, *, device: str | None = None, dtype: str = "float32", seed: int = 0) -> Any:
    """An ``awrs`` transformers model of ``shape`` with random weights (seeded) and the
    tokenizer of ``folder`` (:func:`tokenizer_folder`), on ``device`` in ``dtype``."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from awrs.lm.hf import HFModel

    if shape not in SHAPES:
        raise SystemExit(f"--shape must be one of {', '.join(SHAPES)}, not {shape!r}")
    config = AutoConfig.from_pretrained(folder)
    for key, value in SHAPES[shape].items():
        setattr(config, key, value)
    config._name_or_path = f"random {shape}"
    torch.manual_seed(seed)
    with torch.device(device or "cpu"):
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    if (folder / "generation_config.json").exists():  # its end ids, as a trained checkpoint's loading reads them
        model.generation_config = GenerationConfig.from_pretrained(folder)
    return HFModel(model, AutoTokenizer.from_pretrained(folder))


@functools.cache
def vocabulary(folder: Path) -> Any:
    """The vocabulary a model of ``folder``'s config and tokenizer has, as HFModel makes it:
    of a model with no weights (torch's meta device); once per folder."""
    return random_model("smollm2-135m", folder, device="meta").vocab
