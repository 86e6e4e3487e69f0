"""A drop-in for ``model.generate`` with a constraint: same keyword arguments, same outputs.

    out = awrs.transformers.generate(model, tokenizer=tok, constraint=c, input_ids=ids,
                                     max_new_tokens=64, do_sample=True, num_return_sequences=4)

returns what ``model.generate`` returns — a tensor of token ids (prompt included, left padding
kept, the end-of-sequence token kept, shorter rows padded with ``pad_token_id``), or with
``return_dict_in_generate=True`` an output object with ``sequences`` — plus ``log_weights``
and ``valid`` on the output object (``log_weights`` NaN where the method carries no weight:
greedy, "lcd"). ``do_sample=False`` takes the most likely allowed token each step (greedy
under the mask, exact). Arguments that would change the distribution being
sampled (beam search, top-k, top-p, repetition penalties...) raise
:class:`~awrs.errors.GenerationError` saying why.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from awrs import arguments
from awrs.constraints.base import Constraint
from awrs.errors import ArgumentTypeError, GenerationError
from awrs.generate import generate_batch
from awrs.lm.hf import HFModel
from awrs.result import METHODS, Result

__all__ = ["generate"]

#: Keyword arguments of model.generate that would change the target distribution, and why.
_REFUSED = {
    "num_beams": "beam search maximises, it does not sample the constrained distribution",
    "num_beam_groups": "beam search maximises, it does not sample the constrained distribution",
    "penalty_alpha": "contrastive search does not sample the constrained distribution",
    "top_k": "top-k truncates the model's distribution, which changes what is being sampled",
    "top_p": "top-p truncates the model's distribution, which changes what is being sampled",
    "min_p": "min-p truncates the model's distribution, which changes what is being sampled",
    "typical_p": "typical sampling truncates the model's distribution",
    "epsilon_cutoff": "epsilon sampling truncates the model's distribution",
    "eta_cutoff": "eta sampling truncates the model's distribution",
    "repetition_penalty": "a repetition penalty changes the model's distribution",
    "no_repeat_ngram_size": "an n-gram ban changes the model's distribution",
    "bad_words_ids": "put forbidden words in the constraint instead",
    "force_words_ids": "put required words in the constraint instead",
    "logits_processor": "the constraint replaces logits processors; awrs samples exactly",
    "prefix_allowed_tokens_fn": "the constraint replaces prefix_allowed_tokens_fn",
    "assistant_model": "assisted decoding is not supported with a constraint",
}
#: Values of the refused arguments that mean "off" (what GenerationConfig defaults to).
_OFF = {
    "num_beams": (None, 1),
    "num_beam_groups": (None, 1),
    "penalty_alpha": (None,),
    "top_k": (None, 0, 50),
    "top_p": (None, 1.0),
    "min_p": (None, 0.0),
    "typical_p": (None, 1.0),
    "epsilon_cutoff": (None, 0.0),
    "eta_cutoff": (None, 0.0),
    "repetition_penalty": (None, 1.0),
    "no_repeat_ngram_size": (None, 0),
}
#: Accepted for compatibility; they do not change what is generated.
_HARMLESS = {"use_cache", "output_scores", "output_logits", "output_attentions", "output_hidden_states", "synced_gpus"}

#: model -> id(tokenizer) -> its HFModel
_wrappers: weakref.WeakKeyDictionary[Any, dict[int, HFModel]] = weakref.WeakKeyDictionary()
_wrappers_lock = threading.Lock()


def generate(model: Any, tokenizer: Any = None, constraint: Constraint | None = None, **kwargs: Any) -> Any:
    """``model.generate(**kwargs)`` with every sequence constrained by ``constraint``.

    Extra keyword arguments: ``method`` ("awrs", the default: one weighted sequence per row;
    "lcd"; "mask"; or "smc" with ``n_particles`` and ``do_sample=True``, each row a posterior
    draw of its own population) and ``seed``. ``stop_strings`` end a row where one of them
    first appears (the row keeps the tokens that wrote it, as in transformers). A
    ``top_k=50`` coming from a model's generation_config default is ignored with sampling
    left exact; passed explicitly, it is refused. Every argument is checked before the model
    runs: :class:`~awrs.errors.ArgumentTypeError` for a wrong type,
    :class:`~awrs.errors.GenerationError` for a value that cannot be used.
    """
    _check_objects(model, tokenizer, constraint)
    input_ids = kwargs.pop("input_ids", None)
    if input_ids is None:
        raise GenerationError("pass input_ids (and attention_mask for a padded batch), as to model.generate")
    attention_mask = kwargs.pop("attention_mask", None)
    method = arguments.one_of(kwargs.pop("method", "awrs"), "method", METHODS)
    seed = kwargs.pop("seed", None)
    n_particles = arguments.integer(kwargs.pop("n_particles", 5), "n_particles", minimum=1)
    streamer = kwargs.pop("streamer", None)
    return_dict = kwargs.pop("return_dict_in_generate", None)
    config = kwargs.pop("generation_config", None) or getattr(model, "generation_config", None)
    _refuse(kwargs, config)
    settings = _settings(config, kwargs)
    leftover = set(kwargs) - _HARMLESS
    if leftover:
        raise GenerationError(f"awrs.transformers.generate does not support {sorted(leftover)}")
    if method == "smc" and not settings.do_sample:
        raise GenerationError("method='smc' samples a posterior: pass do_sample=True (do_sample=False is greedy decoding)")
    if return_dict is None:
        return_dict = bool(getattr(config, "return_dict_in_generate", False))
    return_dict = arguments.flag(return_dict, "return_dict_in_generate")

    prompts = _prompts(input_ids, attention_mask)
    k = settings.num_return_sequences
    rows = [p for p in prompts for _ in range(k)]
    if streamer is not None and len(rows) != 1:
        raise GenerationError("a streamer needs a single sequence (batch 1, num_return_sequences=1), as in transformers")
    lm = _wrapper(model, tokenizer)
    stop: list[str | bytes | int] = [*(e for e in settings.eos_token_id if e not in lm.vocab.eos_ids), *settings.stop_strings]
    longest = max(len(p) for p in prompts)
    max_new = settings.max_new_tokens if settings.max_new_tokens is not None else max(settings.max_length - longest, 0)
    if streamer is not None:
        streamer.put(torch.tensor([rows[0]]))
    results = generate_batch(
        lm,
        rows,
        constraint,
        method=method,
        n_particles=n_particles if method == "smc" else 1,
        max_new_tokens=max_new,
        temperature=settings.temperature if settings.do_sample else 1.0,  # greedy ignores it, as transformers does
        greedy=not settings.do_sample,
        seed=seed,
        stop=stop,
        on_token=(lambda i, token: streamer.put(torch.tensor([token]))) if streamer is not None else None,
    )
    if streamer is not None:
        streamer.end()
    eos = settings.eos_token_id[0] if settings.eos_token_id else min(lm.vocab.eos_ids)
    pad = settings.pad_token_id if settings.pad_token_id is not None else eos
    return _outputs(input_ids, k, results, eos, pad, return_dict)


def _check_objects(model: Any, tokenizer: Any, constraint: Any) -> None:
    if tokenizer is None:
        raise GenerationError("awrs.transformers.generate needs tokenizer=... to know each token's bytes")
    if constraint is None:
        raise GenerationError("awrs.transformers.generate needs constraint=...; call model.generate for unconstrained text")
    if not isinstance(constraint, Constraint):
        raise ArgumentTypeError(f"constraint must be an awrs constraint (e.g. awrs.Regex), got {type(constraint).__name__}")
    if not (hasattr(model, "config") and callable(getattr(model, "forward", None))):
        raise ArgumentTypeError(
            f"model must be a transformers causal LM (AutoModelForCausalLM.from_pretrained(...)), got {type(model).__name__}"
        )
    if not (callable(getattr(tokenizer, "convert_ids_to_tokens", None)) and callable(getattr(tokenizer, "encode", None))):
        raise ArgumentTypeError(
            f"tokenizer must be a transformers tokenizer (AutoTokenizer.from_pretrained(...)), got {type(tokenizer).__name__}"
        )


def _wrapper(model: Any, tokenizer: Any) -> HFModel:
    """One HFModel per (model, tokenizer), so the vocabulary is read once."""
    with _wrappers_lock:
        by_tokenizer = _wrappers.setdefault(model, {})
        lm = by_tokenizer.get(id(tokenizer))
        if lm is None:
            lm = by_tokenizer[id(tokenizer)] = HFModel(model, tokenizer)
        return lm


def _refuse(kwargs: dict[str, Any], config: Any) -> None:
    for name, why in _REFUSED.items():
        if name in kwargs and kwargs[name] not in _OFF.get(name, (None,)):
            raise GenerationError(f"{name}={kwargs[name]!r} cannot be used with a constraint: {why}")
        kwargs.pop(name, None)
    if config is not None:
        for name in (
            "num_beams",
            "num_beam_groups",
            "penalty_alpha",
            "top_p",
            "min_p",
            "typical_p",
            "repetition_penalty",
            "no_repeat_ngram_size",
        ):
            value = getattr(config, name, None)
            if value not in _OFF.get(name, (None,)):
                raise GenerationError(
                    f"the generation config sets {name}={value!r}, which cannot be used with a constraint: {_REFUSED[name]}"
                )


@dataclass(frozen=True)
class _Settings:
    """The sampling settings of one call, checked."""

    max_new_tokens: int | None
    max_length: int
    do_sample: bool
    temperature: float
    num_return_sequences: int
    eos_token_id: list[int]
    pad_token_id: int | None
    stop_strings: list[str]


def _settings(config: Any, kwargs: dict[str, Any]) -> _Settings:
    """The sampling settings, from the keyword arguments or else the generation config, checked."""

    def pick(name: str, default: Any) -> Any:  # None, passed or in the config, means "not set"
        value = kwargs.pop(name, None)
        if value is None and config is not None:
            value = getattr(config, name, None)
        return default if value is None else value

    eos = pick("eos_token_id", [])
    eos = eos if isinstance(eos, (list, tuple)) else [eos]
    stop_strings = pick("stop_strings", [])
    stop_strings = [stop_strings] if isinstance(stop_strings, str) else list(stop_strings)
    if not all(isinstance(s, str) for s in stop_strings):
        raise ArgumentTypeError(f"stop_strings must be a str or a list of str, got {stop_strings!r}")
    return _Settings(
        max_new_tokens=arguments.optional_integer(pick("max_new_tokens", None), "max_new_tokens", minimum=0),
        max_length=arguments.integer(pick("max_length", 20), "max_length", minimum=1),
        do_sample=arguments.flag(pick("do_sample", False), "do_sample"),
        temperature=arguments.real(pick("temperature", 1.0), "temperature"),
        num_return_sequences=arguments.integer(pick("num_return_sequences", 1), "num_return_sequences", minimum=1),
        eos_token_id=[arguments.integer(e, "eos_token_id", minimum=0) for e in eos],
        pad_token_id=arguments.optional_integer(pick("pad_token_id", None), "pad_token_id", minimum=0),
        stop_strings=stop_strings,
    )


def _prompts(input_ids: Any, attention_mask: Any) -> list[list[int]]:
    """Each row's prompt ids (padding dropped where the mask says)."""
    ids = _id_tensor(input_ids, "input_ids")
    if attention_mask is None:
        return [row.tolist() for row in ids]
    mask = _id_tensor(attention_mask, "attention_mask")
    if mask.shape != ids.shape:
        raise GenerationError(f"attention_mask has shape {tuple(mask.shape)} but input_ids has {tuple(ids.shape)}")
    return [row[m].tolist() for row, m in zip(ids, mask.bool())]


def _id_tensor(value: Any, name: str) -> torch.Tensor:
    """``value`` as a 2-D integer tensor with at least one row (a 1-D one is one row)."""
    try:
        tensor = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ArgumentTypeError(f"{name} must be a tensor (or nested list) of ints: {exc}") from None
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex or (tensor.dtype == torch.bool and name == "input_ids"):
        raise ArgumentTypeError(f"{name} must hold ints, got a tensor of {tensor.dtype}")
    if tensor.dim() == 1:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 2 or tensor.shape[0] == 0:
        raise GenerationError(
            f"{name} must have shape (batch, length) or (length,), with a row or more; got {tuple(tensor.shape)}"
        )
    return tensor


def _outputs(input_ids: Any, k: int, results: Sequence[Result], eos: int, pad: int, return_dict: bool) -> Any:
    ids = torch.as_tensor(input_ids)
    if ids.dim() == 1:
        ids = ids.unsqueeze(0)
    ids = ids.repeat_interleave(k, dim=0)
    new = []
    for r in results:
        particle = r.chosen
        assert particle is not None, "generate's results know the particle they were drawn from"
        ended_by_eos = particle.finished and particle.stop_reason != "stop"  # a stop string's tokens end the row
        new.append(list(particle.token_ids) + ([eos] if ended_by_eos else []))
    width = max((len(n) for n in new), default=0)
    tail = torch.full((len(new), width), pad, dtype=ids.dtype, device=ids.device)
    for i, n in enumerate(new):
        if n:
            tail[i, : len(n)] = torch.tensor(n, dtype=ids.dtype)
    sequences = torch.cat([ids, tail], dim=1)
    if not return_dict:
        return sequences
    from transformers.generation.utils import GenerateDecoderOnlyOutput

    # transformers annotates sequences as torch.LongTensor, a legacy CPU int64 tensor class; the
    # ids keep input_ids' dtype and device.
    out = GenerateDecoderOnlyOutput(sequences=sequences)  # type: ignore[arg-type]
    # NaN where the method carries no weight (do_sample=False, method="lcd")
    out["log_weights"] = torch.tensor([math.nan if r.log_ml is None else r.log_ml for r in results], dtype=torch.float64)
    out["valid"] = torch.tensor([r.valid for r in results])
    return out
