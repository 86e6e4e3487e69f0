"""The constraint protocol: compile once, check many, copy states for free.

A :class:`Constraint` is compiled once and never changes afterwards, so one object serves
many sequences and threads. Each sequence holds a *state*: an immutable value (an int, a
tuple, bytes...), so copying a state is copying a reference and copies can never interfere.

- ``initial()`` is the state of the empty text;
- ``advance(state, data)`` is the state after appending the bytes ``data``, or ``None`` when
  no valid string starts with the text so far (rejected);
- ``is_complete(state)`` says whether the text so far is itself a valid string;
- ``is_final(state)`` (optional) says that it is complete and only insignificant text could
  follow, so generation ends there.

Checks work on bytes: a token may end inside a multi-byte UTF-8 character, and
``advance`` must accept it exactly when some continuation of those bytes can still lead to a
valid string.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from awrs.errors import ArgumentTypeError, InvalidTextError
from awrs.lm.vocab import Vocabulary

__all__ = ["Constraint", "Delegating", "State", "probe_next_bytes", "to_bytes"]

#: A constraint state: any immutable value. ``None`` is reserved for "rejected".
State = Any


def to_bytes(text: str | bytes, name: str = "text") -> bytes:
    """The UTF-8 bytes of ``text`` (bytes pass through; a bytearray or memoryview is copied).

    Raises :class:`~awrs.errors.ArgumentTypeError` (a ``TypeError``) naming the argument
    ``name`` for any other type, and :class:`~awrs.errors.InvalidTextError` for a str holding
    a lone surrogate, which has no UTF-8 bytes.
    """
    if isinstance(text, bytes):
        return text
    if isinstance(text, str):
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidTextError(
                f"{name} holds the lone surrogate {text[exc.start]!r} at index {exc.start}, which has no UTF-8 "
                "encoding; pass valid Unicode text, or the bytes themselves"
            ) from None
    if isinstance(text, (bytearray, memoryview)):
        return bytes(text)
    raise ArgumentTypeError(f"{name} must be a str or bytes, got {type(text).__name__}")


class Constraint(ABC):
    """A set of valid byte strings, checked incrementally."""

    #: ``advance`` reads the bytes one at a time, so when it refuses a byte ``b`` alone it
    #: refuses every ``data`` that starts with ``b``. The sampler then learns from one refused
    #: token that every token starting with the same refused byte is refused, without checking
    #: them (docs/sampler.md, "Refused first bytes"). False (the default) for constraints that
    #: judge whole texts (a user's predicate).
    bytewise: bool = False

    #: ``advance`` is a fold over the bytes — ``advance(s, x + y)`` equals ``advance(advance(s,
    #: x), y)`` (None once either is) — and its states are hashable values. The sampler may then
    #: check a token byte by byte through a table of the (state, byte) steps it has met, asking
    #: ``advance`` once per new step rather than once per token (docs/sampler.md, "Byte
    #: steps"). False (the default) unless the constraint promises both; ``awrs.testing``
    #: checks the promise on examples.
    byte_steps: bool = False

    @abstractmethod
    def initial(self) -> State:
        """The state of the empty text."""

    @abstractmethod
    def advance(self, state: State, data: bytes) -> State | None:
        """The state after appending ``data``, or None if no valid string has that prefix."""

    @abstractmethod
    def is_complete(self, state: State) -> bool:
        """True when the text that led to ``state`` is a valid string."""

    def mask(self, state: State, vocab: Vocabulary) -> np.ndarray:
        """Which tokens may come next: a boolean array over ``vocab`` (special tokens False).

        The default checks every token with :meth:`advance`; engines override it with a
        batched kernel. This is what the token-masking baseline calls every step.
        """
        out = np.zeros(len(vocab), dtype=np.bool_)
        special = vocab.special_ids
        for i, token in enumerate(vocab.tokens):
            if i not in special:
                out[i] = self.advance(state, token) is not None
        return out

    def is_final(self, state: State) -> bool:
        """True when the text so far is complete and nothing but insignificant text could
        follow it (whitespace a grammar ignores, whitespace after a JSON document): generation
        ends here, with EOS. Such trailing text stays in the language (:meth:`accepts` takes
        it); generation does not produce it, so a model cannot pad a finished string with
        blanks up to its token limit. The default, False, ends nothing early; a constraint
        whose trailing text is significant (a regular expression's ``\\s*``) keeps it."""
        return False

    def impossible_tokens(self, state: State, vocab: Vocabulary) -> np.ndarray | None:
        """Tokens that cannot come next from ``state``, found by a check much cheaper than
        :meth:`advance` (e.g. a regular over-approximation of the language): a read-only
        boolean array over ``vocab``, or None (the default) when the constraint has no such
        check. It must be sound: every token marked True is one :meth:`advance` rejects. The
        sampler prunes them before its walk, with their mass (exact; docs/algorithm.md §2)."""
        return None

    def next_bytes(self, state: State) -> np.ndarray | None:
        """The bytes that may come next from ``state``: a (256,) boolean array, or None (the
        default) when the constraint does not say. It must be sound for whole tokens: when
        byte ``b`` is False, :meth:`advance` rejects every ``data`` that starts with ``b``
        (true of any constraint whose ``advance`` reads the bytes one at a time). A walk that
        has met many rejections asks for it and prunes every token whose first byte is
        refused, with its mass (exact; docs/algorithm.md §2)."""
        return None

    def allowed_bytes(self) -> np.ndarray | None:
        """A (256,) boolean array of the bytes that can occur in some valid string, or None
        if unknown. Tokens containing any other byte can be pruned before sampling."""
        return None

    def never_tokens(self, vocab: Vocabulary) -> np.ndarray | None:
        """Tokens no state can take, as a boolean array over ``vocab``, or None: the sampler
        prunes them once per generation (and lays the steps out over the rest when they are
        few). The default: the tokens holding a byte outside :meth:`allowed_bytes`. It must be
        sound, as :meth:`impossible_tokens` must."""
        allowed = self.allowed_bytes()
        return None if allowed is None else vocab.tokens_with_bytes_outside(allowed)

    def parse(self, text: str) -> Any:
        """The value a valid text stands for (``result.value``); the text itself by default."""
        return text

    def sections(self, text: str) -> dict[str, Any] | None:
        """The named parts of a valid text that generation reports apart, or None (the
        default): ``"reasoning"`` and ``"answer"`` (``result.reasoning``, and the answer as
        ``result.text``: :class:`~awrs.Think`), ``"tool_calls"`` (``result.tool_calls``:
        :class:`~awrs.ToolCalls`)."""
        return None

    # --- composition (awrs.constraints.compose; docs/composition.md) ----------------------

    def __add__(self, other: object) -> Constraint:
        """``a + b``: a text of ``a`` followed by a text of ``b`` (:class:`~awrs.Sequence`)."""
        from awrs.constraints.compose import Sequence

        return Sequence([self, other]) if isinstance(other, Constraint) else NotImplemented

    def __or__(self, other: object) -> Constraint:
        """``a | b``: a text of ``a`` or of ``b`` (:class:`~awrs.constraints.compose.Union`)."""
        from awrs.constraints.compose import Union

        return Union([self, other]) if isinstance(other, Constraint) else NotImplemented

    def __and__(self, other: object) -> Constraint:
        """``a & b``: a text of both (:class:`~awrs.constraints.compose.Intersection`)."""
        from awrs.constraints.compose import Intersection

        return Intersection([self, other]) if isinstance(other, Constraint) else NotImplemented

    # --- conveniences built on the protocol ---------------------------------------------
    # ``text`` is a str (checked as its UTF-8 bytes) or bytes; anything else raises
    # ArgumentTypeError, and a str with a lone surrogate InvalidTextError (see to_bytes).

    def walk(self, text: str | bytes) -> State | None:
        """The state after ``text`` from the start, or None if rejected."""
        return self.advance(self.initial(), to_bytes(text))

    def accepts(self, text: str | bytes) -> bool:
        """``text`` is a complete valid string."""
        state = self.walk(text)
        return state is not None and self.is_complete(state)

    def accepts_prefix(self, text: str | bytes) -> bool:
        """``text`` can still be completed to a valid string."""
        return self.walk(text) is not None

    def first_violation(self, text: str | bytes) -> int | None:
        """The byte offset at which ``text`` stops being a valid prefix, ``len(text)`` if it is
        a valid prefix but not complete, or None if it is accepted."""
        data = to_bytes(text)
        state = self.initial()
        for i in range(len(data)):
            state = self.advance(state, data[i : i + 1])
            if state is None:
                return i
        return None if self.is_complete(state) else len(data)


class Delegating(Constraint):
    """A constraint whose checks are made by an engine it chose when it compiled
    (``self._impl``: a DFA, a lazy DFA, partial matching, a sorted list...): every check is the
    engine's. Subclasses set ``_impl`` and say what they are."""

    _impl: Constraint

    def initial(self) -> State:
        return self._impl.initial()

    def advance(self, state: State, data: bytes) -> State | None:
        return self._impl.advance(state, data)

    def is_complete(self, state: State) -> bool:
        return self._impl.is_complete(state)

    def mask(self, state: State, vocab: Vocabulary) -> np.ndarray:
        return self._impl.mask(state, vocab)

    def impossible_tokens(self, state: State, vocab: Vocabulary) -> np.ndarray | None:
        return self._impl.impossible_tokens(state, vocab)

    def next_bytes(self, state: State) -> np.ndarray | None:
        return self._impl.next_bytes(state)

    def allowed_bytes(self) -> np.ndarray | None:
        return self._impl.allowed_bytes()


_SINGLE_BYTES = [bytes((b,)) for b in range(256)]


def probe_next_bytes(constraint: Constraint, state: State) -> np.ndarray:
    """:meth:`Constraint.next_bytes` by 256 one-byte advances (sound for constraints whose
    ``advance`` reads bytes one at a time)."""
    advance = constraint.advance
    return np.fromiter((advance(state, b) is not None for b in _SINGLE_BYTES), dtype=np.bool_, count=256)
