"""``awrs.generate``: one call from a prompt and a constraint to a validated result.

This module only wires the layers together: it checks the arguments (:mod:`awrs.arguments`),
encodes the prompt, picks the proposal and the particle count for the method, runs
:func:`awrs.smc.engine.run_groups`, and turns the particles into a :class:`~awrs.result.Result`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, get_args, overload

import numpy as np

from awrs import arguments
from awrs.constraints.base import Constraint
from awrs.errors import GenerationError
from awrs.lm.base import LanguageModel, Prompt, check_temperature
from awrs.lm.memory import check_request
from awrs.result import METHODS, Method, Particle, Result, Stats
from awrs.sampler.base import Estimator
from awrs.sampler.proposal import ProposalName, ProposalOptions, make_proposal
from awrs.smc.engine import RunRecord, SMCConfig, TokenCallback, run_groups
from awrs.smc.resampling import Resampling
from awrs.smc.scheduler import Engine, Submission
from awrs.smc.weights import normalized_weights

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["GenerateOptions", "Method", "PromptInput", "Request", "finish", "generate", "generate_batch", "prepare", "run"]

#: One prompt as :func:`generate` takes it: text (bytes are read as UTF-8), chat messages
#: (through the model's chat template), or token ids (a 1-D NumPy array or tensor works too).
PromptInput = Prompt | bytes | Sequence[int]
_PROPOSAL_OF: dict[Method, ProposalName] = {"smc": "awrs", "awrs": "awrs", "lcd": "lcd", "mask": "mask"}
_ESTIMATORS: tuple[Estimator, ...] = get_args(Estimator)
_RESAMPLINGS: tuple[Resampling, ...] = get_args(Resampling)


class GenerateOptions(TypedDict, total=False):
    """The keyword arguments of :func:`generate` and :func:`generate_batch` (and of the
    helpers that pass them on: ``awrs.json``, ``awrs.choice``, ``awrs.regex``, ``awrs.sql``,
    ``awrs.stream``), with their types; :func:`generate` documents each and its default."""

    method: Method
    n_particles: int
    ess_threshold: float
    max_new_tokens: int
    temperature: float
    seed: int | None
    critic: Callable[[str], float] | None
    estimator: Estimator
    max_rejects: int | None
    resampling: Resampling
    stop: str | bytes | int | Sequence[str | bytes | int]
    greedy: bool
    twist: bool
    on_token: Callable[[int, int], None] | None


@overload
def generate(
    lm: LanguageModel, prompt: PromptInput, constraint: Constraint | None = None, **options: Unpack[GenerateOptions]
) -> Result: ...


@overload
def generate(
    lm: LanguageModel,
    prompt: list[PromptInput] | tuple[PromptInput, ...],
    constraint: Constraint | None = None,
    **options: Unpack[GenerateOptions],
) -> list[Result]: ...


def generate(
    lm: LanguageModel,
    prompt: PromptInput | list[PromptInput] | tuple[PromptInput, ...],
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
    stop: str | bytes | int | Sequence[str | bytes | int] = (),
    greedy: bool = False,
    twist: bool = False,
    on_token: Callable[[int, int], None] | None = None,
) -> Result | list[Result]:
    """Generate text from ``lm`` that satisfies ``constraint``: one :class:`~awrs.result.Result`.

    ``method``: ``"smc"`` (``n_particles`` AWRS particles, resampled when the effective sample
    size falls below ``ess_threshold * n_particles``: samples the model's distribution
    conditioned on the constraint), ``"awrs"`` (one weighted sequence), ``"lcd"`` (one
    sequence, plain locally constrained decoding, the fastest) or ``"mask"`` (the
    token-masking baseline: every token checked every step). ``n_particles``,
    ``ess_threshold`` and ``resampling`` apply to SMC only.

    ``prompt``: a string (bytes are read as UTF-8), chat messages ``[{"role": ..., "content":
    ...}]`` (one prompt), or a list of token ids. For several prompts use
    :func:`generate_batch`; a list of prompts here still returns a list of results, with a
    ``DeprecationWarning``. ``constraint=None`` generates without a
    constraint. ``stop``: strings that end the text where they first appear, across token
    boundaries (the output stops before them; docs/smc.md says how this meets the constraint
    and the weights), and token ids that end it like end-of-sequence. ``greedy=True`` takes
    the most likely allowed token each step (one sequence, no weights). ``critic(text)``
    returns a log weight added to each finished particle (with ``twist=True`` also to
    unfinished text after every step, provisionally); it needs a weighted method.
    ``on_token(i, token_id)`` is called as particle ``i`` takes a token.

    Raises :class:`~awrs.errors.ArgumentTypeError` (a ``TypeError``) for an argument of the
    wrong type, :class:`~awrs.errors.GenerationError` for a value that cannot be used (or a
    request that needs more memory than is free), :class:`~awrs.errors.InvalidTextError` for
    text with no UTF-8 form, and :class:`~awrs.errors.PromptTooLongError` when a prompt and
    the budget do not fit the model. An exception raised by ``critic``, ``on_token`` or a
    constraint's own functions reaches the caller as it is, with a note saying where.
    """
    request = prepare(
        lm,
        prompt,
        constraint,
        method=method,
        n_particles=n_particles,
        ess_threshold=ess_threshold,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        critic=critic,
        estimator=estimator,
        max_rejects=max_rejects,
        resampling=resampling,
        stop=stop,
        greedy=greedy,
        twist=twist,
        on_token=on_token,
    )
    if request.batched:
        warnings.warn(_BATCH_DEPRECATED, DeprecationWarning, stacklevel=2)
        return run(request)
    return run(request)[0]


_BATCH_DEPRECATED = (
    "awrs.generate(lm, [prompt, ...]) with a list of prompts is deprecated: use "
    "awrs.generate_batch(lm, prompts, constraint, ...), which always returns a list of Results"
)


def generate_batch(
    lm: LanguageModel,
    prompts: Sequence[PromptInput],
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
    stop: str | bytes | int | Sequence[str | bytes | int] = (),
    greedy: bool = False,
    twist: bool = False,
    on_token: Callable[[int, int], None] | None = None,
) -> list[Result]:
    """:func:`generate` for several prompts at once: one result per prompt, in order.

    The prompts run together, sharing each step's forward pass; the keyword arguments are
    :func:`generate`'s and apply to every prompt (``seed`` seeds the whole call). Each prompt
    is what :func:`generate` takes as one; chat messages are one prompt, so several
    conversations are a list of lists of messages. Raises what :func:`generate` raises, and
    :class:`~awrs.errors.ArgumentTypeError` when ``prompts`` is one prompt (a string, chat
    messages or token ids) rather than a list of prompts.
    """
    request = prepare(
        lm,
        prompts,
        constraint,
        batch=True,
        method=method,
        n_particles=n_particles,
        ess_threshold=ess_threshold,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        critic=critic,
        estimator=estimator,
        max_rejects=max_rejects,
        resampling=resampling,
        stop=stop,
        greedy=greedy,
        twist=twist,
        on_token=on_token,
    )
    return run(request)


@dataclass(frozen=True)
class Request:
    """A generation whose arguments have been checked: what :func:`run` needs."""

    lm: LanguageModel
    prompt_ids: list[list[int]]
    batched: bool
    constraint: Constraint
    config: SMCConfig
    method: Method
    seed: int | None
    critic: Callable[[str], float] | None
    on_token: TokenCallback | None

    def submission(self, rng: np.random.Generator, *, stream: bool = False) -> Submission:
        """The engine's submission of this (one-prompt) request, drawing from ``rng``."""
        return Submission(self.prompt_ids[0], self.constraint, self.config, rng, self.critic, self.on_token, stream)


def prepare(
    lm: Any,
    prompt: Any,
    constraint: Any = None,
    *,
    batch: bool = False,
    method: Any = "smc",
    n_particles: Any = 5,
    ess_threshold: Any = 0.5,
    max_new_tokens: Any = 256,
    temperature: Any = 1.0,
    seed: Any = None,
    critic: Any = None,
    estimator: Any = "recursive",
    max_rejects: Any = None,
    resampling: Any = "systematic",
    stop: Any = (),
    greedy: Any = False,
    twist: Any = False,
    on_token: Any = None,
) -> Request:
    """Check every argument of :func:`generate` (raising as it documents) and encode the
    prompts, before anything is allocated. ``batch=True`` (:func:`generate_batch`) requires a
    list of prompts."""
    lm = arguments.language_model(lm)
    method = arguments.one_of(method, "method", METHODS)
    constraint = arguments.constraint(constraint)
    n_particles = arguments.integer(n_particles, "n_particles", minimum=1)
    ess_threshold = arguments.fraction(ess_threshold, "ess_threshold")
    max_new_tokens = arguments.integer(max_new_tokens, "max_new_tokens", minimum=0)
    temperature = check_temperature(temperature)
    seed = arguments.optional_integer(seed, "seed", minimum=0)
    critic = arguments.callback(critic, "critic", "(text: str) -> float")
    on_token = arguments.callback(on_token, "on_token", "(particle: int, token_id: int) -> None")
    options = ProposalOptions(
        estimator=arguments.one_of(estimator, "estimator", _ESTIMATORS),
        max_rejects=arguments.optional_integer(max_rejects, "max_rejects", minimum=1),
        greedy=arguments.flag(greedy, "greedy"),
    )
    resampling = arguments.one_of(resampling, "resampling", _RESAMPLINGS)
    twist = arguments.flag(twist, "twist")
    stop_ids, stop_strings = arguments.stops(lm, stop)
    proposal = make_proposal(_PROPOSAL_OF[method], options)
    _check_combination(method, options, proposal.weighted, critic, twist)
    prompt_ids, batched = arguments.prompt_ids(lm, prompt, batch=batch)
    smc = method == "smc"
    for ids in prompt_ids:
        arguments.check_length(lm, ids, max_new_tokens)
    check_request(lm, len(prompt_ids), n_particles if smc else 1, max(map(len, prompt_ids)) + max_new_tokens + 1)
    config = SMCConfig(
        proposal=proposal,
        n_particles=n_particles if smc else 1,
        ess_threshold=ess_threshold if smc else 0.0,
        resampling=resampling,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        extra_eos_ids=stop_ids,
        stop_strings=stop_strings,
        twist=twist,
    )
    return Request(lm, prompt_ids, batched, constraint, config, method, seed, critic, on_token)


def run(request: Request) -> list[Result]:
    """Run a checked request: one result per prompt, in order. One prompt runs on the
    step-scheduled :class:`~awrs.smc.scheduler.Engine` (the same tokens, weights and checks as
    run_groups for a fixed seed: benchmarks/fixed_seeds.py compares them); several prompts run
    as groups of one run_groups loop sharing one generator, as they always have."""
    rng = np.random.default_rng(request.seed)
    if len(request.prompt_ids) == 1:
        engine = Engine(request.lm)
        handle = engine.submit(request.submission(rng))
        engine.run()
        return [finish(request, handle.result(), rng)]
    records = run_groups(
        request.lm, request.prompt_ids, request.constraint, request.config, rng, critic=request.critic, on_token=request.on_token
    )
    return [finish(request, record, rng) for record in records]


def _check_combination(method: str, options: ProposalOptions, weighted: bool, critic: Any, twist: bool) -> None:
    """Refuse settings that contradict each other rather than quietly drop one of them."""
    if options.greedy and method == "smc":
        raise GenerationError(
            "greedy=True follows the one most likely allowed sequence, and SMC samples a population: "
            "use greedy=True with method='awrs', 'lcd' or 'mask'"
        )
    if method == "smc" and options.estimator == "none":
        raise GenerationError(
            "method='smc' weighs its particles, and estimator='none' gives no weights: "
            "use method='lcd' for one unweighted sequence"
        )
    if critic is not None and not weighted:
        raise GenerationError(
            "critic=... reweights particles, and this method carries no weights (lcd, greedy, or "
            "estimator='none'): use method='smc' (or 'awrs')"
        )
    if twist and critic is None:
        raise GenerationError("twist=True applies the critic to unfinished text: give critic=...")


def finish(request: Request, record: RunRecord, rng: np.random.Generator) -> Result:
    """A finished run's particles as a Result (``rng`` chooses the output among them). Where the method carries no weights (lcd, greedy,
    estimator='none'), log weights and ``log_ml`` are None rather than numbers that mean
    nothing."""
    vocab = request.lm.vocab
    weighted = request.config.weighted
    particles = [
        Particle(
            text=p.output(vocab).decode("utf-8", errors="replace"),
            log_weight=float(p.log_weight) if weighted else None,
            finished=p.finished,
            valid=p.finished,  # EOS (or a stop string) is only ever allowed where the text is complete
            stop_reason=p.stop_reason or "max_new_tokens",
            token_ids=tuple(p.tokens),
        )
        for p in record.particles
    ]
    posterior = _posterior(particles)
    chosen = _choose(particles, posterior, rng)
    text, extra = chosen.text, {}
    sections = request.constraint.sections(text) if chosen.valid else None
    sections = sections or {}
    if "answer" in sections:  # Think: the answer is the text, the reasoning apart
        text, extra = sections["answer"], {"generated": chosen.text}
    return Result(
        text=text,
        value=request.constraint.parse(chosen.text) if chosen.valid else None,
        valid=chosen.valid,
        stop_reason=chosen.stop_reason,
        particles=particles,
        posterior=posterior,
        log_ml=record.log_ml if weighted else None,
        stats=_stats(particles, record),
        method=request.method,
        extra=extra,
        reasoning=sections.get("reasoning"),
        tool_calls=sections.get("tool_calls"),
        chosen=chosen,
    )


def _stats(particles: list[Particle], record: RunRecord) -> Stats:
    text_tokens = sum(len(p.token_ids) for p in particles)
    return Stats(
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


def _posterior(particles: list[Particle]) -> dict[str, float]:
    """Normalised weight per distinct valid text (an unweighted particle counts as weight 1)."""
    w = normalized_weights([(0.0 if p.log_weight is None else p.log_weight) if p.valid else -math.inf for p in particles])
    if w is None:
        return {}
    out: dict[str, float] = {}
    for p, wi in zip(particles, w):
        if wi > 0:
            out[p.text] = out.get(p.text, 0.0) + float(wi)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _choose(particles: list[Particle], posterior: dict[str, float], rng: np.random.Generator) -> Particle:
    if len(particles) == 1 or not posterior:
        return particles[0]
    texts = list(posterior)
    pick = texts[int(rng.choice(len(texts), p=np.array(list(posterior.values())) / sum(posterior.values())))]
    return next(p for p in particles if p.text == pick and p.valid)
