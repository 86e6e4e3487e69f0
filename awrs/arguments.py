"""Checks of what users pass to ``awrs.generate`` and its helpers, made once, at the boundary.

A wrong Python type raises :class:`~awrs.errors.ArgumentTypeError` (a ``TypeError``) that
names the argument and what it takes; a value that cannot be used raises
:class:`~awrs.errors.GenerationError` (a ``ValueError``), or
:class:`~awrs.errors.InvalidTextError` for text with no UTF-8 form. Nothing past these checks
meets an argument it cannot use.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from awrs.constraints.base import Constraint, to_bytes
from awrs.constraints.unconstrained import Unconstrained
from awrs.errors import ArgumentTypeError, GenerationError, InvalidTextError, PromptTooLongError
from awrs.lm.base import LanguageModel

__all__ = [
    "callback",
    "check_length",
    "constraint",
    "flag",
    "fraction",
    "integer",
    "language_model",
    "one_of",
    "optional_integer",
    "prompt_ids",
    "real",
    "stops",
]

T = TypeVar("T")
S = TypeVar("S", bound=str)


def integer(value: Any, name: str, *, minimum: int) -> int:
    """``value`` as an int (a bool is not one), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise GenerationError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def optional_integer(value: Any, name: str, *, minimum: int) -> int | None:
    return None if value is None else integer(value, name, minimum=minimum)


def real(value: Any, name: str) -> float:
    """``value`` as a float: any real number but a bool (range checks are the caller's)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def flag(value: Any, name: str) -> bool:
    """``value`` as a bool: True or False (NumPy's too), nothing merely truthy."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise ArgumentTypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def one_of(value: Any, name: str, options: Sequence[S]) -> S:
    """``value`` as the one of ``options`` it equals. ``options`` is the tuple of a ``Literal``
    type's values (``typing.get_args``), so the check and the type share one list."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{name} must be one of {list(options)}, got {type(value).__name__} {value!r}")
    for option in options:
        if value == option:
            return option
    raise GenerationError(f"{name} must be one of {list(options)}, got {value!r}")


def fraction(value: Any, name: str) -> float:
    """``value`` as a float between 0 and 1 (NaN is not)."""
    number = real(value, name)
    if not 0.0 <= number <= 1.0:  # NaN fails too
        raise GenerationError(f"{name} must be between 0 and 1, got {value!r}")
    return number


def constraint(value: Any) -> Constraint:
    """``value`` when it is a constraint; ``None`` as the constraint that allows everything."""
    if value is None:
        return Unconstrained()
    if not isinstance(value, Constraint):
        hint = " (for a pattern, pass awrs.Regex(...))" if isinstance(value, str) else ""
        raise ArgumentTypeError(
            f"constraint must be an awrs constraint (e.g. awrs.Regex) or None, got {type(value).__name__}{hint}"
        )
    return value


def callback(value: T | None, name: str, signature: str) -> T | None:
    """``value`` when it is None or callable."""
    if value is not None and not callable(value):
        raise ArgumentTypeError(f"{name} must be a function {signature} or None, got {type(value).__name__}")
    return value


def language_model(lm: Any) -> LanguageModel:
    if not isinstance(lm, LanguageModel):
        hint = f"; load it first: lm = awrs.load_model({lm!r})" if isinstance(lm, str) else ""
        raise ArgumentTypeError(
            "lm must be a language model (awrs.load_model(), awrs.HFModel(model, tokenizer) or awrs.MockLM), "
            f"got {type(lm).__name__}{hint}"
        )
    return lm


# --- prompts --------------------------------------------------------------------------------

_PROMPT_KINDS = "a string, chat messages [{'role': ..., 'content': ...}], a list of token ids, or a list of those"


def prompt_ids(lm: LanguageModel, prompt: Any, *, batch: bool = False) -> tuple[list[list[int]], bool]:
    """The token ids of each prompt, and whether ``prompt`` was a list of prompts.

    A prompt is a str; bytes (read as UTF-8); chat messages (mappings with a str ``"role"``
    and a str ``"content"``); or token ids (ints in the vocabulary; a NumPy array or tensor
    too). A list of prompts runs them together. ``batch=True`` (``generate_batch``) requires a
    list of prompts, named ``prompts``: one prompt raises ArgumentTypeError.
    """
    name = "prompts" if batch else "prompt"
    prompt = _as_list(prompt)
    if isinstance(prompt, list) and _kind(prompt) == "batch":
        return [_ids(lm, _as_list(p), f"{name}[{k}]") for k, p in enumerate(prompt)], True
    if batch:
        raise _not_a_batch(prompt)
    return [_ids(lm, prompt, name)], False


def _not_a_batch(prompt: Any) -> Exception:
    """The error for one prompt where a list of prompts was asked for."""
    if isinstance(prompt, list) and not prompt:
        return GenerationError("prompts is an empty list: give one prompt or more")
    if isinstance(prompt, list):
        what = "chat messages" if _kind(prompt) == "messages" else "token ids"
        return ArgumentTypeError(
            f"prompts must be a list of prompts, got {what}, which are one prompt: "
            "use awrs.generate for one prompt, or wrap it in a list"
        )
    return ArgumentTypeError(
        f"prompts must be a list of prompts, got {type(prompt).__name__}: use awrs.generate for one prompt, or wrap it in a list"
    )


def _as_list(prompt: Any) -> Any:
    """Arrays and tensors as lists; lists and tuples as lists; the rest as it is."""
    if hasattr(prompt, "tolist") and hasattr(prompt, "dtype"):
        return prompt.tolist()
    if isinstance(prompt, (list, tuple)):
        return list(prompt)
    return prompt


def _kind(items: list[Any]) -> str:
    """What a list is: "ids", "messages", "batch" (prompts), or "empty"."""
    if not items:
        return "empty"
    kinds = {_item_kind(x) for x in items}
    if len(kinds) == 1 and "other" not in kinds:
        return kinds.pop()
    names = sorted({type(x).__name__ for x in items})
    raise ArgumentTypeError(f"prompt must be {_PROMPT_KINDS}; got a list of {', '.join(names)}")


def _item_kind(x: Any) -> str:
    if isinstance(x, numbers.Integral) and not isinstance(x, bool):
        return "ids"
    if isinstance(x, Mapping):
        return "messages"
    if isinstance(x, (str, bytes, list, tuple)) or (hasattr(x, "tolist") and hasattr(x, "dtype")):
        return "batch"
    return "other"


def _ids(lm: LanguageModel, prompt: Any, name: str) -> list[int]:
    if isinstance(prompt, (bytes, bytearray)):
        prompt = _decoded(bytes(prompt), name)
    if isinstance(prompt, str):
        to_bytes(prompt, name)  # InvalidTextError for a lone surrogate, before the tokenizer
        return lm.encode_prompt(prompt)
    if not isinstance(prompt, list):
        hint = " (put a single chat message in a list)" if isinstance(prompt, Mapping) else ""
        raise ArgumentTypeError(f"{name} must be {_PROMPT_KINDS}; got {type(prompt).__name__}{hint}")
    kind = _kind(prompt)
    if kind == "empty":
        raise GenerationError(f"{name} is an empty list: give a string, chat messages or token ids")
    if kind == "ids":
        return _checked_ids(lm, prompt, name)
    if kind == "messages":
        return lm.encode_prompt([_message(m, f"{name}[{k}]") for k, m in enumerate(prompt)])
    raise ArgumentTypeError(f"{name} must be {_PROMPT_KINDS}; got a list of lists (a batch inside a batch?)")


def check_length(lm: LanguageModel, prompt_ids: list[int], max_new_tokens: int) -> None:
    """PromptTooLongError unless the prompt, the token budget and the end token fit the model."""
    limit = lm.max_length
    if limit is not None and len(prompt_ids) + max_new_tokens + 1 > limit:
        raise PromptTooLongError(
            f"the prompt has {len(prompt_ids)} tokens and max_new_tokens is {max_new_tokens}, "
            f"but the model's context window is {limit} tokens; shorten the prompt or lower max_new_tokens"
        )


def _decoded(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidTextError(
            f"{name} is bytes that are not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "pass the text as a str, or token ids as a list of ints"
        ) from None


def _checked_ids(lm: LanguageModel, ids: list[Any], name: str) -> list[int]:
    size = len(lm.vocab)
    for k, t in enumerate(ids):
        if not 0 <= t < size:
            raise GenerationError(f"{name}[{k}] is token id {t}, outside the vocabulary of {size} tokens (ids 0 to {size - 1})")
    return [int(t) for t in ids]


def _message(message: Mapping[str, Any], name: str) -> Mapping[str, str]:
    """A chat message with a str role and a str content (valid Unicode)."""
    for key in ("role", "content"):
        if key not in message:
            raise GenerationError(f"{name} has no {key!r}: chat messages look like {{'role': 'user', 'content': 'Hi'}}")
        if not isinstance(message[key], str):
            raise ArgumentTypeError(f"{name}[{key!r}] must be a str, got {type(message[key]).__name__}")
        to_bytes(message[key], f"{name}[{key!r}]")
    return message


# --- stop -----------------------------------------------------------------------------------


def stops(lm: LanguageModel, stop: Any) -> tuple[tuple[int, ...], tuple[bytes, ...]]:
    """``stop`` split into token ids (ends of sequence, like EOS) and stop strings (bytes).

    ``stop`` is one str, bytes or int, or a list of them. A string stop ends the text where it
    first appears (:mod:`awrs.constraints.stop`); an int must be a token id of the model.
    """
    if isinstance(stop, (str, bytes, numbers.Integral)):
        stop = [stop]
    if not isinstance(stop, (list, tuple, set, frozenset)):
        raise ArgumentTypeError(f"stop must be a str, bytes, a token id, or a list of them; got {type(stop).__name__}")
    ids: set[int] = set()
    strings: dict[bytes, None] = {}
    size = len(lm.vocab)
    for k, item in enumerate(stop):
        if isinstance(item, numbers.Integral) and not isinstance(item, bool):
            token = int(item)
            if not 0 <= token < size:
                raise GenerationError(f"stop token id {item} is outside the vocabulary of {size} tokens (ids 0 to {size - 1})")
            ids.add(token)
        elif isinstance(item, (str, bytes)):
            data = to_bytes(item, f"stop[{k}]")
            if not data:
                raise GenerationError("stop strings must be non-empty: an empty one would end the text before it starts")
            strings[data] = None
        else:
            raise ArgumentTypeError(f"stop[{k}] must be a str, bytes or a token id, got {type(item).__name__}")
    return tuple(sorted(ids)), tuple(strings)
