"""How much memory a generation needs, estimated before anything is allocated.

A generation holds, for each row of the batch (one per particle and prompt), the model's
state for every token of the row (a transformer's KV cache) and, at each step, the row's
logits and log-probabilities over the vocabulary. :func:`check_request` compares that with
the memory free on the model's device and refuses a request that cannot fit, with the
numbers, instead of letting it fail halfway (or take the machine down) while allocating.
"""

from __future__ import annotations

import os
from typing import Any

from awrs.errors import GenerationError

__all__ = ["available_bytes", "check_request", "kv_bytes_per_token", "request_bytes"]

#: Bytes a row holds per vocabulary entry at each step: the float32 logits and their float32
#: log-probabilities on the model's device, and the float32 copy the sampler reads (4 + 4 + 4).
LOGIT_BYTES = 12
#: Bytes per token of a model that says nothing about its state (MockLM's context tuples
#: hold one 8-byte reference per token).
DEFAULT_TOKEN_BYTES = 8


def kv_bytes_per_token(lm: Any) -> int:
    """Bytes of model state one row holds per token.

    ``lm.kv_bytes_per_token`` when the model defines it; for a transformers model
    (``lm.model.config``), keys and values of every layer: 2 x layers x KV heads x head size x
    the bytes of ``lm.dtype`` (SmolLM2-135M in float32: 2 x 30 x 3 x 64 x 4 = 46,080 bytes);
    else :data:`DEFAULT_TOKEN_BYTES`.
    """
    given = getattr(lm, "kv_bytes_per_token", None)
    if given is not None:
        return int(given)
    config = getattr(getattr(lm, "model", None), "config", None)
    layers = getattr(config, "num_hidden_layers", None)
    heads = getattr(config, "num_attention_heads", None)
    if not isinstance(layers, int) or not isinstance(heads, int) or heads <= 0:
        return DEFAULT_TOKEN_BYTES
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or getattr(config, "hidden_size", 0) // heads
    itemsize = getattr(getattr(lm, "dtype", None), "itemsize", 4)
    return 2 * layers * int(kv_heads) * int(head_dim) * int(itemsize)


def request_bytes(lm: Any, rows: int, tokens: int) -> int:
    """Bytes ``rows`` rows of up to ``tokens`` tokens each need (a lower bound: activations
    and the sampler's own arrays come on top)."""
    return rows * (tokens * kv_bytes_per_token(lm) + len(lm.vocab) * LOGIT_BYTES)


def available_bytes(lm: Any) -> int | None:
    """Free memory where the model runs: the GPU's for a CUDA model, else the host's (Linux
    ``MemAvailable``, or free pages); None when unknown."""
    device = getattr(lm, "device", None)
    if getattr(device, "type", None) == "cuda":
        import torch

        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_request(lm: Any, n_prompts: int, n_particles: int, tokens: int) -> None:
    """Raise :class:`~awrs.errors.GenerationError` when ``n_prompts`` x ``n_particles`` rows of
    ``tokens`` tokens (prompt and budget) need more memory than is free."""
    rows = n_prompts * n_particles
    need = request_bytes(lm, rows, tokens)
    free = available_bytes(lm)
    if free is not None and need > free:
        prompts = f" x {n_prompts} prompts" if n_prompts > 1 else ""
        raise GenerationError(
            f"n_particles={n_particles}{prompts} with rows of up to {tokens} tokens needs about {_size(need)} "
            f"({_size(kv_bytes_per_token(lm))} of model state per token, and log-probabilities over "
            f"{len(lm.vocab):,} tokens per row), but only {_size(free)} is free; lower n_particles or max_new_tokens"
        )


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
