"""``awrs.Predicate``: any user function on the text so far, as a constraint."""

from __future__ import annotations

from collections.abc import Callable

from awrs.constraints.base import Constraint
from awrs.constraints.partial import split_utf8
from awrs.errors import ConstraintError

__all__ = ["Predicate"]

TextCheck = Callable[[str], bool]


class Predicate(Constraint):
    """A constraint from two functions of the text (``str``):

    - ``prefix(text)``: True if ``text`` can still be completed to a valid string. It must
      never reject a prefix of a valid string (over-approximating is allowed but costs
      dead ends; see docs/sampler.md);
    - ``complete(text)``: True if ``text`` is itself valid. Defaults to ``prefix``.

    While the bytes so far end inside a multi-byte UTF-8 character, ``prefix`` is called on
    the complete characters only (the unfinished one is checked once its last byte arrives).
    States are the bytes so far. The functions must be pure: awrs calls them in any order,
    from any thread, and may call them again on the same text.
    """

    def __init__(self, prefix: TextCheck, complete: TextCheck | None = None):
        if not callable(prefix) or (complete is not None and not callable(complete)):
            raise ConstraintError("Predicate needs callables: prefix=fn(text) -> bool, complete=fn(text) -> bool")
        self._prefix = prefix
        self._complete = complete if complete is not None else prefix

    def __repr__(self) -> str:
        name = getattr(self._prefix, "__name__", type(self._prefix).__name__)
        return f"Predicate(prefix={name})"

    def initial(self) -> bytes:
        return b""

    def advance(self, state: bytes, data: bytes) -> bytes | None:
        new = state + data
        split = split_utf8(new)
        if split is None:
            return None
        return new if self._prefix(split[0]) else None

    def is_complete(self, state: bytes) -> bool:
        split = split_utf8(state)
        return split is not None and not split[1] and bool(self._complete(split[0]))
