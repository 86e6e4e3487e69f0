"""What ``awrs.generate`` returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from awrs.smc.engine import StopReason

__all__ = ["METHODS", "Method", "Particle", "Result", "Stats", "StopReason", "json_ready"]

#: How a result was generated (``awrs.generate``'s ``method``): "smc" (a weighted population,
#: resampled), "awrs" (one weighted sequence), "lcd" (one sequence, no weight) or "mask" (the
#: token-masking baseline).
Method = Literal["smc", "awrs", "lcd", "mask"]
#: The values of :data:`Method`, in its order: what ``method`` is checked against.
METHODS: tuple[Method, ...] = get_args(Method)


@dataclass(frozen=True)
class Particle:
    """One finished (or stopped) sequence.

    ``finished``: it ended with EOS (chosen, or forced by the token budget while complete) or
    with a stop string. ``valid``: its text satisfies the constraint completely.
    ``stop_reason``: "eos", "stop" (a stop string appeared; ``text`` ends before it),
    "max_new_tokens" (the budget ended it: valid when the text was complete there) or
    "dead_end". ``log_weight``: its importance log weight, or None for a method that carries
    no weights (``"lcd"``, ``greedy=True``, ``estimator="none"``). ``token_ids``: every token
    it took (for a stop, the token that completed the stop string included).
    """

    text: str
    log_weight: float | None
    finished: bool
    valid: bool
    stop_reason: StopReason
    token_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Stats:
    """Counts and timings of one call.

    ``tokens`` counts generated text tokens over all particles; ``checks_per_token`` divides the
    constraint checks by the token steps taken (the end-of-sequence step included).
    ``prefill_seconds`` is the prompt's forward pass and ``sampling_seconds`` the time spent
    choosing tokens (proposals and constraint checks), the rest being the model's steps.
    """

    tokens: int
    constraint_checks: int
    checks_per_token: float
    seconds: float
    tokens_per_second: float
    forward_passes: int
    steps: int = 0
    prefill_seconds: float = 0.0
    sampling_seconds: float = 0.0
    n_resamples: int = 0
    n_dead: int = 0
    ess_history: tuple[float, ...] = ()


@dataclass(frozen=True)
class Result:
    """The outcome of a generation.

    ``text`` is, for ``method="smc"``, a draw from the weighted posterior (reproducible with
    the call's seed); otherwise the one sequence. ``valid`` says whether that text satisfies
    the constraint completely, however generation ended: a text that is complete when the
    token budget runs out is valid (``stop_reason`` "max_new_tokens"); one that is not is
    never passed off as valid (``valid`` False, ``value`` None). ``value`` is the parsed
    value (a JSON value or pydantic instance for JSON constraints, the text otherwise), or
    None when the text is not valid. ``log_ml`` estimates the log probability that the model
    produces a valid string; it is None for a method that carries no weights (``"lcd"``,
    ``greedy=True``, ``estimator="none"``), where no such estimate exists.

    With :class:`~awrs.Think` (``think=True``), ``reasoning`` is the model's reasoning and
    ``text`` the answer after it (the whole generated text is ``extra["generated"]`` and the
    particles'); with :class:`~awrs.ToolCalls`, ``tool_calls`` lists the parsed calls
    (``{"name", "arguments"}``). Both are None otherwise, and when the text is not valid.
    """

    text: str
    value: Any
    valid: bool
    stop_reason: StopReason
    particles: list[Particle]
    posterior: dict[str, float]
    log_ml: float | None
    stats: Stats
    method: Method
    extra: dict[str, Any] = field(default_factory=dict)
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    #: The particle the output was drawn from (one of ``particles``).
    chosen: Particle | None = field(default=None, repr=False, compare=False)

    @property
    def weight(self) -> float | None:
        """exp(log_ml): the estimated probability that the model produces a valid string
        (None where ``log_ml`` is)."""
        if self.log_ml is None:
            return None
        return math.exp(self.log_ml) if self.log_ml > -math.inf else 0.0

    def __str__(self) -> str:
        return self.text


def json_ready(value: Any) -> Any:
    """``value`` for strict JSON (RFC 8259): non-finite floats (a weight of -inf) become None,
    in dicts, lists and tuples too."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value
