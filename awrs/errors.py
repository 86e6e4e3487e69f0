"""The exceptions awrs raises for problems a user can cause.

Every failure a user can cause is an :class:`AwrsError`; the message says what is wrong and
what to do about it. Internal invariants use ``assert`` and are bugs when they fire.
"""

from __future__ import annotations

__all__ = [
    "ArgumentTypeError",
    "AwrsError",
    "ConstraintError",
    "EmptyLanguageError",
    "GenerationError",
    "IncompleteOutputError",
    "InvalidTextError",
    "ModelError",
    "PromptTooLongError",
    "TokenizerError",
    "UnsupportedSchemaError",
    "add_note",
]


class AwrsError(Exception):
    """The root of every error awrs raises on purpose."""


class ConstraintError(AwrsError, ValueError):
    """A pattern, schema or grammar is invalid, or its language is empty."""


class EmptyLanguageError(ConstraintError):
    """A pattern, schema, grammar or list of choices that no string satisfies."""


class UnsupportedSchemaError(ConstraintError):
    """A JSON Schema uses a keyword that awrs does not enforce.

    ``keyword`` is the keyword and ``pointer`` the JSON pointer of the schema that uses it.
    """

    def __init__(self, keyword: str, pointer: str, detail: str = "") -> None:
        self.keyword = keyword
        self.pointer = pointer
        where = pointer or "#"
        message = f"unsupported JSON Schema keyword {keyword!r} at {where}"
        if detail:
            message += f": {detail}"
        message += " (pass strict=False to accept the schema with this keyword unenforced)"
        super().__init__(message)


class ModelError(AwrsError):
    """A model could not be found, loaded or converted."""


class TokenizerError(AwrsError):
    """The exact byte string of every token could not be recovered from a tokenizer."""


class PromptTooLongError(AwrsError, ValueError):
    """The prompt plus the token budget does not fit the model's context window."""


class GenerationError(AwrsError, ValueError):
    """Generation was asked for something it cannot do (bad arguments, impossible settings)."""


class IncompleteOutputError(GenerationError):
    """Generation stopped before the output satisfied the constraint (the token budget ran out,
    or every particle reached a dead end). ``result`` holds what was generated."""

    def __init__(self, result: object, message: str):
        self.result = result
        super().__init__(message)


class ArgumentTypeError(AwrsError, TypeError):
    """An argument has the wrong Python type. The message names the argument and the types it
    takes. A ``TypeError`` too, as Python's conventions have it."""


class InvalidTextError(AwrsError, ValueError):
    """A text cannot be turned into UTF-8 bytes or back: a ``str`` holding a lone surrogate
    (``"\\ud800"``, which has no UTF-8 encoding), or ``bytes`` given where text is needed that
    are not valid UTF-8. The message names the argument and the position."""


def add_note(exc: BaseException, note: str) -> None:
    """Add ``note`` to an exception from a user's function (shown under its traceback), so it
    reaches the user as their own exception, saying where awrs called the function. Python
    3.10 has no ``add_note``: the note is kept in ``__notes__`` all the same."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]
