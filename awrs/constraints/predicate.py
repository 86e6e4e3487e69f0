"""``awrs.Predicate``: any user function on the text so far, as a constraint."""

from __future__ import annotations

from collections.abc import Callable

from awrs.constraints.base import Constraint
from awrs.constraints.regex.partial import split_utf8
from awrs.errors import ConstraintError, add_note

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
    from any thread, and may call them again on the same text. Their answers are read as
    truth values (``re.match`` results too). An exception they raise reaches the caller as it
    is, with a note naming the function and the text; an answer with no truth value (a NumPy
    array) raises :class:`~awrs.errors.ConstraintError`.
    """

    def __init__(self, prefix: TextCheck, complete: TextCheck | None = None):
        if not callable(prefix) or (complete is not None and not callable(complete)):
            raise ConstraintError("Predicate needs callables: prefix=fn(text) -> bool, complete=fn(text) -> bool")
        self._prefix = prefix
        self._complete = complete if complete is not None else prefix
        self._complete_role = "complete" if complete is not None else "prefix"

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
        return new if self._ask(self._prefix, "prefix", split[0]) else None

    def is_complete(self, state: bytes) -> bool:
        split = split_utf8(state)
        return split is not None and not split[1] and self._ask(self._complete, self._complete_role, split[0])

    def _ask(self, fn: TextCheck, role: str, text: str) -> bool:
        """``bool(fn(text))``, with the user's exception noted, or ConstraintError."""
        try:
            answer = fn(text)
        except Exception as exc:
            add_note(exc, f"raised by the {role} function of {self!r} on the text {text[:200]!r}")
            raise
        try:
            return bool(answer)
        except Exception as exc:  # e.g. a NumPy array of several values
            raise ConstraintError(
                f"the {role} function of {self!r} returned {type(answer).__name__}, which has no truth value, "
                f"for the text {text[:80]!r}; return True or False"
            ) from exc
