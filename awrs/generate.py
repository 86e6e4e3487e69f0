"""``awrs.generate``: one call from a prompt and a constraint to a validated result.

This module only wires the layers together: it encodes the prompt, picks the proposal and
the particle count for the method, runs :func:`awrs.smc.engine.run_particles`, and turns the
particles into a :class:`~awrs.result.Result`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from awrs.constraints.base import Constraint
from awrs.constraints.unconstrained import Unconstrained
from awrs.errors import GenerationError, PromptTooLongError
from awrs.lm.base import LanguageModel, Prompt, check_temperature
from awrs.result import Particle, Result, Stats
from awrs.sampler.proposal import ProposalOptions
from awrs.sampler.step import Estimator
from awrs.smc.engine import RunRecord, SMCConfig, run_groups
from awrs.smc.resampling import Resampling

__all__ = ["generate", "Method"]

Method = Literal["smc", "awrs", "lcd", "mask"]
_PROPOSAL_OF: dict[str, str] = {"smc": "awrs", "awrs": "awrs", "lcd": "lcd", "mask": "mask"}


def generate(
    lm: LanguageModel,
    prompt: Prompt,
    constraint: Constraint | None = None,
    *,
    method: Method = "smc",
    n_particles: int = 5,
    ess_threshold: float = 0.5,
    max_new_tokens: int = 256,
    temperature: float = 1.0,
    seed: int | None = None,
    critic: Callable[[str], float] | None = None,
    estimator: Estimator = "recursive",
    max_rejects: int | None = None,
    resampling: Resampling = "systematic",
    stop: Sequence[str | bytes | int] = (),
    greedy: bool = False,
    twist: bool = False,
    on_token: Callable[[int, int], None] | None = None,
) -> Result | list[Result]:
    """Generate text from ``lm`` that satisfies ``constraint``.

    ``method``: ``"smc"`` (``n_particles`` AWRS particles, resampled when the effective sample
    size falls below ``ess_threshold * n_particles``: samples the model's distribution
    conditioned on the constraint), ``"awrs"`` (one weighted sequence), ``"lcd"`` (one
    sequence, plain locally constrained decoding, the fastest) or ``"mask"`` (the
    token-masking baseline: every token checked every step).

    ``constraint=None`` generates without a constraint. ``stop`` adds end-of-sequence tokens
    (strings are matched to the token ids with exactly those bytes, e.g. ``"\\n"``).
    ``prompt`` may also be a list of token ids. ``on_token(i, token_id)`` is called as each
    particle ``i`` takes a token. ``greedy=True`` takes the most likely allowed token each step. ``critic(text)`` returns a
    log weight added to each finished particle (with ``twist=True`` also to unfinished text
    after every step, provisionally). A list of prompts (strings or chat conversations) runs
    them together, sharing the forward passes, and returns one result per prompt. Raises
    :class:`~awrs.errors.GenerationError` for bad arguments and
    :class:`~awrs.errors.PromptTooLongError` when a prompt and the budget do not fit the model.
    """
    if method not in _PROPOSAL_OF:
        raise GenerationError(f"method must be one of {sorted(_PROPOSAL_OF)}, got {method!r}")
    check_temperature(temperature)
    constraint = Unconstrained() if constraint is None else constraint
    if not isinstance(constraint, Constraint):
        raise GenerationError(f"constraint must be an awrs constraint (e.g. awrs.Regex), got {type(constraint).__name__}")
    batched = _is_batch(prompt)
    prompt_ids = [_encode(lm, p) for p in prompt] if batched else [_encode(lm, prompt)]
    for ids in prompt_ids:
        _check_length(lm, ids, max_new_tokens)
    smc = method == "smc"
    config = SMCConfig(
        proposal=_PROPOSAL_OF[method],
        n_particles=n_particles if smc else 1,
        ess_threshold=ess_threshold if smc else 0.0,
        resampling=resampling,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        options=ProposalOptions(estimator=estimator, max_rejects=max_rejects, greedy=greedy),
        extra_eos_ids=_stop_ids(lm, stop),
        twist=twist,
    )
    rng = np.random.default_rng(seed)
    records = run_groups(lm, prompt_ids, constraint, config, rng, critic=critic, on_token=on_token)
    results = [_result(lm, constraint, record, method, rng) for record in records]
    return results if batched else results[0]


def _is_batch(prompt: Any) -> bool:
    """A list of prompts (strings, conversations or token-id lists), as opposed to one
    conversation (a list of message dicts) or one list of token ids."""
    if isinstance(prompt, str) or not isinstance(prompt, Sequence) or not prompt:
        return False
    return all(isinstance(p, str) or (isinstance(p, Sequence) and not isinstance(p, Mapping)) for p in prompt)


def _encode(lm: LanguageModel, prompt: Any) -> list[int]:
    """Token ids: a string or conversation is encoded; a list of ints is taken as token ids."""
    if isinstance(prompt, Sequence) and not isinstance(prompt, str) and prompt and all(isinstance(t, int) for t in prompt):
        return [int(t) for t in prompt]
    return lm.encode_prompt(prompt)


def _check_length(lm: LanguageModel, prompt_ids: list[int], max_new_tokens: int) -> None:
    limit = lm.max_length
    if limit is not None and len(prompt_ids) + max_new_tokens + 1 > limit:
        raise PromptTooLongError(
            f"the prompt has {len(prompt_ids)} tokens and max_new_tokens is {max_new_tokens}, "
            f"but the model's context window is {limit} tokens; shorten the prompt or lower max_new_tokens"
        )


def _stop_ids(lm: LanguageModel, stop: Sequence[str | bytes | int]) -> tuple[int, ...]:
    if isinstance(stop, (str, bytes)):
        stop = [stop]
    by_bytes: dict[bytes, list[int]] | None = None
    ids: list[int] = []
    for item in stop:
        if isinstance(item, int):
            if not 0 <= item < len(lm.vocab):
                raise GenerationError(f"stop token id {item} is outside the vocabulary of {len(lm.vocab)} tokens")
            ids.append(item)
            continue
        data = item.encode("utf-8") if isinstance(item, str) else item
        if by_bytes is None:
            by_bytes = {}
            for i, t in enumerate(lm.vocab.tokens):
                by_bytes.setdefault(t, []).append(i)
        found = [i for i in by_bytes.get(data, []) if i not in lm.vocab.special_ids]
        if not found:
            raise GenerationError(f"no token of this model is exactly {item!r}; give stop token ids instead")
        ids.extend(found)
    return tuple(sorted(set(ids)))


def _result(lm: LanguageModel, constraint: Constraint, record: RunRecord, method: str, rng: np.random.Generator) -> Result:
    particles = [
        Particle(
            text=lm.vocab.decode(p.tokens).decode("utf-8", errors="replace"),
            log_weight=p.log_weight,
            finished=p.finished,
            valid=p.finished,  # EOS is only ever allowed where the text is complete
            stop_reason=p.stop_reason or "max_new_tokens",
            token_ids=tuple(p.tokens),
        )
        for p in record.particles
    ]
    posterior = _posterior(particles)
    chosen = _choose(particles, posterior, method, rng)
    text_tokens = sum(len(p.token_ids) for p in particles)
    stats = Stats(
        tokens=text_tokens,
        constraint_checks=record.constraint_checks,
        checks_per_token=record.constraint_checks / max(record.proposals, 1),
        seconds=record.seconds,
        tokens_per_second=text_tokens / record.seconds if record.seconds > 0 else 0.0,
        forward_passes=record.forward_passes,
        steps=record.proposals,
        prefill_seconds=record.prefill_seconds,
        sampling_seconds=record.sampling_seconds,
        n_resamples=record.n_resamples,
        n_dead=sum(p.stop_reason == "dead_end" for p in particles),
        ess_history=tuple(record.ess_history),
    )
    value: Any = constraint.parse(chosen.text) if chosen.valid else None
    return Result(
        text=chosen.text,
        value=value,
        valid=chosen.valid,
        stop_reason=chosen.stop_reason,
        particles=particles,
        posterior=posterior,
        log_ml=record.log_ml,
        stats=stats,
        method=method,
    )


def _posterior(particles: list[Particle]) -> dict[str, float]:
    weights = np.array([p.log_weight if p.valid else -math.inf for p in particles])
    if not len(weights) or not np.isfinite(weights.max()):
        return {}
    w = np.exp(weights - weights.max())
    w /= w.sum()
    out: dict[str, float] = {}
    for p, wi in zip(particles, w):
        if wi > 0:
            out[p.text] = out.get(p.text, 0.0) + float(wi)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _choose(particles: list[Particle], posterior: dict[str, float], method: str, rng: np.random.Generator) -> Particle:
    if len(particles) == 1 or not posterior:
        return particles[0]
    texts = list(posterior)
    pick = texts[int(rng.choice(len(texts), p=np.array(list(posterior.values())) / sum(posterior.values())))]
    return next(p for p in particles if p.text == pick and p.valid)
