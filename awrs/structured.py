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
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from awrs.constraints.base import Constraint
from awrs.constraints.choice import Choice
from awrs.constraints.json_schema import JsonSchema
from awrs.constraints.regex import Regex
from awrs.constraints.stop import first_stop, held_back
from awrs.errors import GenerationError, IncompleteOutputError
from awrs.generate import GenerateOptions, PromptInput, Request, generate, prepare, run
from awrs.lm.base import LanguageModel
from awrs.result import Result

if TYPE_CHECKING:
    from typing_extensions import Unpack

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


def json(lm: LanguageModel, prompt: PromptInput, schema: Any, **kwargs: Unpack[GenerateOptions]) -> Any:
    """A JSON value (or pydantic model instance) valid under ``schema``: a dict, a JSON string,
    a pydantic model class, or a compiled :class:`~awrs.JsonSchema`."""
    constraint = schema if isinstance(schema, JsonSchema) else JsonSchema(schema)
    return value_of(generate(lm, prompt, constraint, **kwargs))


def choice(lm: LanguageModel, prompt: PromptInput, options: Sequence[str], **kwargs: Unpack[GenerateOptions]) -> str:
    """One of ``options``."""
    text: str = value_of(generate(lm, prompt, Choice(options), **kwargs))  # a Choice's value is its text
    return text


def regex(lm: LanguageModel, prompt: PromptInput, pattern: str | Regex, **kwargs: Unpack[GenerateOptions]) -> str:
    """A string that fully matches ``pattern``."""
    constraint = pattern if isinstance(pattern, Regex) else Regex(pattern)
    text: str = value_of(generate(lm, prompt, constraint, **kwargs))  # a Regex's value is its text
    return text


class Stream:
    """Text pieces of one sequence as they are generated; ``result`` once exhausted.

    The arguments are those of :func:`~awrs.generate` (``method`` "awrs", the default here,
    "lcd" or "mask"), checked when the stream is made; generation then runs in a background
    thread. Iterating yields decoded text (a character split across tokens is yielded
    whole; text that could be the start of a stop string is held back until it is known not
    to be one). An error in generation is raised by the iterator. Leaving the iteration early
    (``break``), or :meth:`close`, stops the generation and waits for it to end, so the model
    is free for the next call; ``with awrs.stream(...) as s:`` closes it on exit.
    """

    def __init__(self, lm: LanguageModel, prompt: PromptInput, constraint: Constraint | None, **kwargs: Unpack[GenerateOptions]):
        kwargs.setdefault("method", "awrs")
        if kwargs["method"] == "smc":
            raise GenerationError(
                "streaming shows one sequence as it grows; SMC chooses its output only at the end (use method='awrs' or 'lcd')"
            )
        user_on_token = kwargs.get("on_token")  # checked by prepare, called before each token is queued
        request = prepare(lm, prompt, constraint, **kwargs)
        if request.batched:
            raise GenerationError("a stream shows one sequence: give one prompt, not a list of prompts")
        self.result: Result | None = None
        self._tokens = request.lm.vocab.tokens
        self._stops = request.config.stop_strings
        self._queue: queue.Queue[int | BaseException | None] = queue.Queue()
        self._cancel = threading.Event()

        def on_token(i: int, token: int) -> None:
            if self._cancel.is_set():
                raise _Cancelled
            if user_on_token is not None:
                user_on_token(i, token)
            self._queue.put(token)

        self._thread = threading.Thread(target=self._run, args=(replace(request, on_token=on_token),), daemon=True)
        self._thread.start()

    def _run(self, request: Request) -> None:
        try:
            self.result = run(request)[0]
            self._queue.put(None)
        except _Cancelled:
            self._queue.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._queue.put(exc)

    def close(self) -> None:
        """Stop the generation (at its next token) and wait until it has ended."""
        self._cancel.set()
        self._thread.join()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        text = _Held(self._stops)
        ended = False
        try:
            while True:
                item = self._queue.get()
                if isinstance(item, BaseException):
                    ended = True
                    raise item
                if item is None:
                    ended = True
                    tail = text.finish(self.result is not None and self.result.stop_reason == "stop")
                    if tail:
                        yield tail
                    return
                piece = text.add(self._tokens[item])
                if piece:
                    yield piece
        finally:
            if not ended:
                self.close()


class _Cancelled(Exception):
    """Raised in the generation thread when the consumer has closed the stream."""


class _Held:
    """Decoded text of a growing byte string, less what could still be a stop string."""

    def __init__(self, stops: tuple[bytes, ...]):
        self._stops = stops
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._data = b""
        self._sent = 0
        self._stopped = False

    def add(self, data: bytes) -> str:
        """The text now known to be output."""
        if self._stopped:
            return ""
        self._data += data
        end = len(self._data)
        if self._stops:
            start = first_stop(self._data[self._sent :], self._stops)
            self._stopped = start is not None
            # No stop string can start before _sent: that text was not the start of one.
            end = self._sent + start if start is not None else end - held_back(self._data, self._stops)
        piece = self._decoder.decode(self._data[self._sent : end])
        self._sent = end
        return piece

    def finish(self, stopped: bool) -> str:
        """The rest of the text once generation has ended (the held-back bytes, unless a stop
        string ended the text there)."""
        rest = b"" if stopped or self._stopped else self._data[self._sent :]
        return self._decoder.decode(rest, final=True)


def stream(
    lm: LanguageModel, prompt: PromptInput, constraint: Constraint | None = None, **kwargs: Unpack[GenerateOptions]
) -> Stream:
    """Iterate over the text of one constrained sequence as it is generated."""
    return Stream(lm, prompt, constraint, **kwargs)
