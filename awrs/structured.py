"""Structured output for applications: one call from a prompt to a validated value, and
streaming of a single sequence.

    person = awrs.json(lm, "Describe a person.", Person)      # a Person instance
    answer = awrs.choice(lm, "Is the sky blue?", ["yes", "no"])
    date = awrs.regex(lm, "When?", r"\\d{4}-\\d{2}-\\d{2}")
    for piece in awrs.stream(lm, prompt, constraint):         # text as it is generated
        print(piece, end="")

Each raises :class:`~awrs.errors.IncompleteOutputError` (with the result attached) when the
output does not satisfy the constraint, instead of returning a truncated value.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from awrs.constraints.agents import Think, reasoning_tags
from awrs.constraints.base import Constraint
from awrs.constraints.choice import Choice
from awrs.constraints.json_schema import JsonSchema
from awrs.constraints.regex import Regex
from awrs.errors import GenerationError, IncompleteOutputError
from awrs.generate import GenerateOptions, PromptInput, generate, prepare
from awrs.lm.base import LanguageModel
from awrs.result import Result
from awrs.service import Update, shared

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Stream", "ThinkOption", "choice", "json", "regex", "stream", "thinking", "value_of"]


def value_of(result: Result) -> Any:
    """``result.value``, or IncompleteOutputError saying why there is none."""
    if not result.valid:
        raise IncompleteOutputError(
            result,
            f"generation stopped before the output was valid ({result.stop_reason}): {result.text[:80]!r}; "
            "raise max_new_tokens, or use method='smc' with more particles",
        )
    return result.value


#: ``think=``: False, True (the model's own reasoning tags: :func:`~awrs.constraints.agents.reasoning_tags`),
#: or an (open, close) pair of tags.
ThinkOption = bool | tuple[str, str]


def thinking(
    lm: LanguageModel, prompt: PromptInput, answer: Constraint, think: ThinkOption, max_think_bytes: int | None = None
) -> Constraint:
    """``answer``, after the model's reasoning when ``think`` says so (:class:`~awrs.Think`): with
    the model's own tags (``think=True``) or the given (open, close) pair, the reasoning at most
    ``max_think_bytes`` bytes. When the rendered prompt already ends with the open tag (chat
    templates that open the reasoning for the model), the text starts inside it."""
    if think is False:
        if max_think_bytes is not None:
            raise GenerationError("max_think_bytes bounds the reasoning of think=True; it means nothing without it")
        return answer
    if think is True:
        open_, close = reasoning_tags(lm)
    elif isinstance(think, tuple) and len(think) == 2 and all(isinstance(t, str) for t in think):
        open_, close = think
    else:
        raise GenerationError(f"think must be True, False or an (open, close) pair of tags, got {think!r}")
    ids = prompt if isinstance(prompt, list) and all(isinstance(t, int) for t in prompt) else lm.encode_prompt(prompt)  # type: ignore[arg-type]
    tail = lm.vocab.decode([int(t) for t in ids[-16:]]).decode("utf-8", errors="replace")
    return Think(answer, open_, close, max_bytes=max_think_bytes, opened=tail.rstrip().endswith(open_))


def json(
    lm: LanguageModel,
    prompt: PromptInput,
    schema: Any,
    *,
    think: ThinkOption = False,
    max_think_bytes: int | None = None,
    **kwargs: Unpack[GenerateOptions],
) -> Any:
    """A JSON value (or pydantic model instance) valid under ``schema``: a dict, a JSON string,
    a pydantic model class, or a compiled :class:`~awrs.JsonSchema`. ``think=True``: the model
    reasons first (:func:`thinking`); the value is the answer's."""
    constraint = schema if isinstance(schema, JsonSchema) else JsonSchema(schema)
    return value_of(generate(lm, prompt, thinking(lm, prompt, constraint, think, max_think_bytes), **kwargs))


def choice(
    lm: LanguageModel,
    prompt: PromptInput,
    options: Sequence[str],
    *,
    think: ThinkOption = False,
    max_think_bytes: int | None = None,
    **kwargs: Unpack[GenerateOptions],
) -> str:
    """One of ``options`` (after reasoning, with ``think=True``)."""
    constraint = thinking(lm, prompt, Choice(options), think, max_think_bytes)
    text: str = value_of(generate(lm, prompt, constraint, **kwargs))  # a Choice's value is its text
    return text


def regex(
    lm: LanguageModel,
    prompt: PromptInput,
    pattern: str | Regex,
    *,
    think: ThinkOption = False,
    max_think_bytes: int | None = None,
    **kwargs: Unpack[GenerateOptions],
) -> str:
    """A string that fully matches ``pattern`` (after reasoning, with ``think=True``)."""
    constraint = thinking(lm, prompt, pattern if isinstance(pattern, Regex) else Regex(pattern), think, max_think_bytes)
    text: str = value_of(generate(lm, prompt, constraint, **kwargs))  # a Regex's value is its text
    return text


class Stream:
    """Text pieces of one generation as they are committed; ``result`` once exhausted.

    The arguments are those of :func:`~awrs.generate` (``method`` "awrs" by default here),
    checked when the stream is made. The request runs on the model's shared
    :class:`~awrs.service.Service`, batched with every other stream and ``await
    awrs.agenerate`` on the model. Iterating yields decoded text that no later step can take
    back: a single-sequence method's tokens as they are drawn (a character split across
    tokens comes whole; text that could begin a stop string waits until it is known not to);
    for SMC the text every live particle agrees on as it grows, then the rest of the chosen
    particle at the end (docs/serving.md). The pieces concatenate to ``result.text`` whenever
    the result is valid (with :class:`~awrs.Think`, to the whole text generated,
    ``result.extra["generated"]``: the reasoning and the answer). An error in generation is raised by the iterator. Leaving the
    iteration early (``break``), or :meth:`close`, cancels the request and waits until its
    rows are freed; ``with awrs.stream(...) as s:`` closes it on exit.
    """

    def __init__(self, lm: LanguageModel, prompt: PromptInput, constraint: Constraint | None, **kwargs: Unpack[GenerateOptions]):
        kwargs.setdefault("method", "awrs")
        request = prepare(lm, prompt, constraint, **kwargs)
        if request.batched:
            raise GenerationError("a stream shows one generation: give one prompt, not a list of prompts")
        self.result: Result | None = None
        self._updates: queue.SimpleQueue[Update] = queue.SimpleQueue()
        self.job = shared(request.lm).submit(request, listener=self._updates.put)

    def close(self) -> None:
        """Cancel the generation (at its next step) and wait until it has ended."""
        self.job.cancel()
        self.job.wait()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        ended = False
        try:
            while True:
                update = self._updates.get()
                if update.text:
                    yield update.text
                if update.done:
                    ended = True
                    self.result = update.outcome()
                    return
        finally:
            if not ended:
                self.close()


def stream(
    lm: LanguageModel, prompt: PromptInput, constraint: Constraint | None = None, **kwargs: Unpack[GenerateOptions]
) -> Stream:
    """Iterate over the text of one constrained generation as it is committed (:class:`Stream`)."""
    return Stream(lm, prompt, constraint, **kwargs)
