"""The Hugging Face transformers backend: any ``AutoModelForCausalLM`` with a KV cache per row.

Prompts are prefilled once (left-padded together when they differ in length); each step
then feeds only the one new token of every row. Row operations (copy, reorder, drop) index
the KV cache in place, so SMC resampling costs a gather, never a forward pass.

This module imports torch and transformers; ``import awrs`` does not import it.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from awrs.errors import GenerationError, ModelError
from awrs.lm.base import Prompt, check_prompts, check_temperature
from awrs.lm.prompts import encode_prompt
from awrs.lm.token_bytes import vocabulary_from_tokenizer
from awrs.lm.vocab import Vocabulary

__all__ = ["HFBatch", "HFModel", "resolve_device", "resolve_dtype"]

logger = logging.getLogger(__name__)

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` or ``"auto"`` picks cuda, then mps, then cpu; anything else is checked."""
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ModelError(f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} asked for, but this torch build sees no CUDA GPU; use device='cpu'")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ModelError(f"device {device!r} asked for, but MPS is not available here; use device='cpu'")
    return dev


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``None`` or ``"auto"``: float32 on cpu and mps, bfloat16 on cuda (float16 without bf16)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise ModelError(f"unknown dtype {dtype!r}: use one of {sorted(set(_DTYPES))}, 'int8' (CPU) or 'auto'") from None


def quantize_int8(model: Any) -> Any:
    """``model`` with its linear layers (the output head included) dynamically quantised to
    int8: weights stored as int8, activations quantised per batch (``torch.ao.quantization``).
    CPU only; about 3x faster than float32 for a small model, at a fidelity that
    ``benchmarks/lm_step.py`` reports as the KL divergence from float32.

    Activations take all 8 bits where this CPU's kernel multiplies them exactly
    (:func:`full_range_is_exact`), and 7 bits elsewhere, as torch's own module always does: its
    x86 kernel without VNNI sums pairs of 8-bit products in 16 bits, which saturate. The 8th bit
    halves each layer's rounding error; on the default model it took the KL divergence from
    float32 on three prompts from 2.63, 1.27, 0.08 nats to 0.19, 0.35, 0.46 (AVX512-VNNI)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        from torch.ao.quantization import quantize_dynamic

        mapping = {torch.nn.Linear: _full_range_linear()} if full_range_is_exact() else None
        quantized = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8, mapping=mapping)  # type: ignore[no-untyped-call]
    quantized._awrs_dtype = "int8"  # the parameters left (embeddings, norms) are float32
    return quantized


@functools.cache
def _full_range_linear() -> Any:
    """torch's dynamically quantised Linear with 8-bit activations (torch's own passes
    ``reduce_range=True``, 7 bits, whatever the kernel); one class per process."""
    from torch.ao.nn.quantized.dynamic import Linear

    class FullRangeLinear(Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.ops.quantized.linear_dynamic(x, self._packed_params._packed_params, reduce_range=False)
            return y.to(x.dtype)  # type: ignore[no-any-return]

    return FullRangeLinear


_full_range: dict[str, bool] = {}  # by torch.backends.quantized.engine


def full_range_is_exact() -> bool:
    """Does torch's int8 linear kernel on this CPU multiply 8-bit activations by int8 weights
    without saturating? Asked once per process and quantized engine, of the layer
    :func:`quantize_int8` uses: the largest activation (255) times the largest weight (127), 64
    times over, in each sign. A kernel that sums pairs of products in 16 bits (x86 without
    VNNI) returns about half the sum (two products make 64,770, which saturates at 32,767); one
    that sums in 32 bits (VNNI, ARM) returns it."""
    engine = str(torch.backends.quantized.engine)
    if engine not in _full_range:
        with torch.no_grad():
            dense = torch.nn.Linear(64, 2, bias=False)
            dense.weight.copy_(torch.tensor([[1.0], [-1.0]]).expand(2, 64))
            dense.qconfig = torch.ao.quantization.default_dynamic_qconfig  # type: ignore[assignment]
            y = _full_range_linear().from_float(dense)(torch.ones(1, 64))  # the layer quantize_int8 would use
        _full_range[engine] = bool(torch.allclose(y, torch.tensor([[64.0, -64.0]]), rtol=0.02))
        logger.debug("int8 activations on %s: %s bits", engine, 8 if _full_range[engine] else 7)
    return _full_range[engine]


class HFModel:
    """A transformers causal LM and its tokenizer, seen as byte-string tokens.

    ``HFModel(model, tokenizer)`` wraps already-loaded objects (the model is put in eval
    mode and not moved). ``eos_token_ids`` adds end ids to those found in the tokenizer, the
    model's ``generation_config`` and the known chat end markers.
    """

    def __init__(self, model: Any, tokenizer: Any, *, eos_token_ids: Sequence[int] = ()):
        self.model = model.eval()
        self.tokenizer = tokenizer
        width = _logits_width(model)
        extra_eos = [*eos_token_ids, *_generation_config_eos(model)]
        self._vocab = vocabulary_from_tokenizer(tokenizer, vocab_size=width, eos_token_ids=extra_eos)
        self._max_length = getattr(model.config, "max_position_embeddings", None)
        self._cache_kwarg = _cache_argument_name(model)

    def __repr__(self) -> str:
        name = getattr(self.model.config, "_name_or_path", "") or type(self.model).__name__
        dtype = getattr(self.model, "_awrs_dtype", None) or str(self.dtype).replace("torch.", "")
        return f"HFModel({name!r}, device={str(self.device)!r}, dtype={dtype!r})"

    @property
    def vocab(self) -> Vocabulary:
        return self._vocab

    @property
    def max_length(self) -> int | None:
        return self._max_length

    @property
    def device(self) -> torch.device:
        device: torch.device = next(self.model.parameters()).device
        return device

    @property
    def dtype(self) -> torch.dtype:
        dtype: torch.dtype = next(self.model.parameters()).dtype
        return dtype

    def encode_prompt(self, prompt: Prompt) -> list[int]:
        """Token ids of a prompt (see :func:`awrs.lm.prompts.encode_prompt`)."""
        return encode_prompt(self.tokenizer, prompt)

    def start(self, prompts: Sequence[Sequence[int]], copies: int = 1) -> HFBatch:
        """Prefill the prompts in one forward pass, then copy each prompt's KV rows ``copies`` times."""
        if not prompts:
            raise GenerationError("start needs at least one prompt")
        check_prompts(prompts, copies, self._max_length)
        return HFBatch(self, [list(p) for p in prompts], copies)

    @torch.inference_mode()
    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None, position_ids: torch.Tensor, cache: Any
    ) -> tuple[torch.Tensor, Any]:
        """One forward pass: the float32 logits of the last position of each row, and the KV cache."""
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=True,
            logits_to_keep=1,
            **{self._cache_kwarg: cache},
        )
        # The cache object is updated in place; newer and older transformers name it differently.
        new_cache = getattr(out, self._cache_kwarg, None)
        logits: torch.Tensor = out.logits[:, -1, :].float()
        return logits, cache if new_cache is None else new_cache


class HFBatch:
    """KV-cached rows of one :class:`HFModel`. See :class:`~awrs.lm.base.SequenceBatch`."""

    def __init__(self, lm: HFModel, prompts: list[list[int]], copies: int):
        self._lm = lm
        device = lm.device
        longest = max(len(p) for p in prompts)
        pad = _pad_id(lm.tokenizer)
        ids = torch.tensor([[pad] * (longest - len(p)) + p for p in prompts], device=device)
        mask = torch.tensor([[0] * (longest - len(p)) + [1] * len(p) for p in prompts], device=device)
        self._padded = bool((mask == 0).any())
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        from transformers import DynamicCache

        logits, cache = lm.forward(ids, mask if self._padded else None, positions, DynamicCache())
        self._cache = cache
        self._mask = mask
        self._next_pos = positions[:, -1] + 1
        self._logits = logits
        self._generated: list[list[int]] = [[] for _ in prompts]
        self._logprob_memo: tuple[float, np.ndarray] | None = None
        if copies > 1:
            self.select([k for k in range(len(prompts)) for _ in range(copies)])

    @property
    def size(self) -> int:
        return len(self._generated)

    @property
    def generated(self) -> list[list[int]]:
        return [list(g) for g in self._generated]

    @property
    def length(self) -> int:
        """Positions held in the KV cache (padding included)."""
        return int(self._mask.shape[1])

    @property
    def device(self) -> torch.device:
        """Where the batch's logits are."""
        return self._mask.device

    def logprobs_tensor(self, temperature: float = 1.0) -> torch.Tensor:
        """:meth:`logprobs` left on the model's device, as a float32 tensor (the device path,
        awrs.sampler.device)."""
        t = check_temperature(temperature)
        logits = self._logits if t == 1.0 else self._logits / t  # float32 (forward makes them so)
        return torch.log_softmax(logits, dim=-1)

    def logprobs(self, temperature: float = 1.0) -> np.ndarray:
        t = check_temperature(temperature)
        if self._logprob_memo is not None and self._logprob_memo[0] == t:
            return self._logprob_memo[1]
        out = self.logprobs_tensor(t).cpu().numpy()
        self._logprob_memo = (t, out)
        return out

    def extend(self, tokens: Sequence[int]) -> None:
        if len(tokens) != self.size:
            raise GenerationError(f"extend needs one token per row: {len(tokens)} tokens for {self.size} rows")
        if self.size == 0:
            return
        limit = self._lm.max_length
        if limit is not None and self.length >= limit:
            raise GenerationError(f"the sequence reached the model's context window of {limit} tokens")
        device = self._mask.device
        ids = torch.as_tensor(np.asarray(tokens, dtype=np.int64), device=device).unsqueeze(1)
        self._mask = torch.cat([self._mask, self._mask.new_ones((self.size, 1))], dim=1)
        positions = self._next_pos.unsqueeze(1)
        self._logits, self._cache = self._lm.forward(ids, self._mask if self._padded else None, positions, self._cache)
        self._next_pos = self._next_pos + 1
        for g, t in zip(self._generated, tokens):
            g.append(int(t))
        self._logprob_memo = None

    def add(self, prompts: Sequence[Sequence[int]], copies: int = 1) -> None:
        """Prefill the new prompts in one forward pass of their own, then join their KV rows to
        the batch's: the shorter of the two caches is left-padded (masked positions, as a
        prefill of prompts of different lengths pads) and the rows are concatenated."""
        check_prompts(prompts, copies, self._lm.max_length)
        if not prompts:
            return
        new = HFBatch(self._lm, [list(p) for p in prompts], copies)
        if self.size == 0:
            self.__dict__.update(new.__dict__)
            return
        layers = getattr(self._cache, "layers", None)
        if layers is None or any(type(layer).__name__ != "DynamicLayer" for layer in [*layers, *new._cache.layers]):
            raise GenerationError(
                "rows cannot join this model's running batch: its KV cache is not a plain DynamicCache "
                "(sliding-window or quantised caches are not supported for joining)"
            )
        ours, theirs = self._mask.shape[1], new._mask.shape[1]
        width = max(ours, theirs)
        for mine, other in zip(layers, new._cache.layers):
            mine.keys = torch.cat([_left_pad(mine.keys, width - ours), _left_pad(other.keys, width - theirs)])
            mine.values = torch.cat([_left_pad(mine.values, width - ours), _left_pad(other.values, width - theirs)])
        pad = self._mask.new_zeros
        self._mask = torch.cat(
            [
                torch.cat([pad((self.size, width - ours)), self._mask], 1),
                torch.cat([pad((new.size, width - theirs)), new._mask], 1),
            ]
        )
        self._padded = bool((self._mask == 0).any())
        self._next_pos = torch.cat([self._next_pos, new._next_pos])
        self._logits = torch.cat([self._logits, new._logits])
        self._generated += new._generated
        self._logprob_memo = None

    def select(self, rows: Sequence[int]) -> None:
        rows = [int(r) for r in rows]
        if rows == list(range(self.size)):
            return
        index = torch.tensor(rows, dtype=torch.long, device=self._mask.device)
        if rows:
            self._cache.reorder_cache(index)
        else:
            self._cache = type(self._cache)()
        self._mask = self._mask.index_select(0, index)
        self._next_pos = self._next_pos.index_select(0, index)
        self._logits = self._logits.index_select(0, index)
        self._generated = [list(self._generated[r]) for r in rows]
        self._logprob_memo = None


def _left_pad(kv: torch.Tensor, n: int) -> torch.Tensor:
    """``kv`` (rows, heads, positions, dim) with ``n`` zero positions in front."""
    if n == 0:
        return kv
    return torch.cat([kv.new_zeros((kv.shape[0], kv.shape[1], n, kv.shape[3])), kv], dim=2)


def _cache_argument_name(model: Any) -> str:
    """transformers 5.2x calls the KV cache argument ``cache``; earlier releases ``past_key_values``."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _logits_width(model: Any) -> int:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None) if head is not None else None
    if callable(weight):  # a quantised linear layer gives its weight through a method
        weight = weight()
    if weight is not None:
        return int(weight.shape[0])
    return int(model.config.vocab_size)


def _generation_config_eos(model: Any) -> list[int]:
    config = getattr(model, "generation_config", None)
    eos = getattr(config, "eos_token_id", None) if config is not None else None
    if eos is None:
        return []
    return [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])]


def _pad_id(tokenizer: Any) -> int:
    for name in ("pad_token_id", "eos_token_id", "bos_token_id"):
        value = getattr(tokenizer, name, None)
        if value is not None:
            return int(value)
    return 0
