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

import codecs
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from awrs.constraints.base import Constraint
from awrs.constraints.choice import Choice
from awrs.constraints.json_schema import JsonSchema
from awrs.constraints.regex import Regex
from awrs.errors import GenerationError, IncompleteOutputError
from awrs.generate import generate
from awrs.lm.base import LanguageModel, Prompt
from awrs.result import Result

__all__ = ["Stream", "choice", "json", "regex", "stream", "value_of"]


def value_of(result: Result) -> Any:
    """``result.value``, or IncompleteOutputError saying why there is none."""
    if not result.valid:
        raise IncompleteOutputError(
            result,
            f"generation stopped before the output was valid ({result.stop_reason}): {result.text[:80]!r}; "
            "raise max_new_tokens, or use method='smc' with more particles",
        )
    return result.value


def json(lm: LanguageModel, prompt: Prompt, schema: Any, **kwargs: Any) -> Any:
    """A JSON value (or pydantic model instance) valid under ``schema``: a dict, a JSON string,
    a pydantic model class, or a compiled :class:`~awrs.JsonSchema`."""
    constraint = schema if isinstance(schema, JsonSchema) else JsonSchema(schema)
    return value_of(generate(lm, prompt, constraint, **kwargs))


def choice(lm: LanguageModel, prompt: Prompt, options: Sequence[str], **kwargs: Any) -> str:
    """One of ``options``."""
    return value_of(generate(lm, prompt, Choice(options), **kwargs))


def regex(lm: LanguageModel, prompt: Prompt, pattern: str | Regex, **kwargs: Any) -> str:
    """A string that fully matches ``pattern``."""
    constraint = pattern if isinstance(pattern, Regex) else Regex(pattern)
    return value_of(generate(lm, prompt, constraint, **kwargs))


class Stream:
    """Text pieces of one sequence as they are generated; ``result`` once exhausted.

    Generation runs in a background thread; iterating yields decoded text (a character split
    across tokens is yielded whole). An error in generation is raised by the iterator.
    """

    def __init__(self, lm: LanguageModel, prompt: Prompt, constraint: Constraint | None, **kwargs: Any):
        method = kwargs.get("method", "awrs")
        if method == "smc":
            raise GenerationError("streaming shows one sequence as it grows; SMC chooses its output only at the end (use method='awrs' or 'lcd')")
        kwargs["method"] = method
        self.result: Result | None = None
        self._vocab = lm.vocab
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(lm, prompt, constraint, kwargs), daemon=True)
        self._thread.start()

    def _run(self, lm, prompt, constraint, kwargs) -> None:
        try:
            self.result = generate(lm, prompt, constraint, on_token=lambda i, token: self._queue.put(token), **kwargs)
            self._queue.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._queue.put(exc)

    def __iter__(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        while True:
            item = self._queue.get()
            if item is None:
                tail = decoder.decode(b"", final=True)
                if tail:
                    yield tail
                return
            if isinstance(item, BaseException):
                raise item
            piece = decoder.decode(self._vocab.tokens[item])
            if piece:
                yield piece


def stream(lm: LanguageModel, prompt: Prompt, constraint: Constraint | None = None, **kwargs: Any) -> Stream:
    """Iterate over the text of one constrained sequence as it is generated."""
    return Stream(lm, prompt, constraint, **kwargs)
