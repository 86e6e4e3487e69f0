"""``awrs.Choice``: exactly one of a list of strings."""

from __future__ import annotations

from collections.abc import Iterable

from awrs.constraints.base import to_bytes
from awrs.constraints.dfa import DFAConstraint, trie_dfa
from awrs.errors import ConstraintError

__all__ = ["Choice"]


class Choice(DFAConstraint):
    """Accepts exactly the listed strings (compiled to a byte trie, minimised to a DFA)."""

    def __init__(self, options: Iterable[str | bytes]):
        if isinstance(options, (str, bytes)):
            raise ConstraintError("Choice takes a list of strings, not a single string")
        self.options: tuple[str | bytes, ...] = tuple(options)
        try:
            encoded = [to_bytes(o) for o in self.options]
        except TypeError as exc:
            raise ConstraintError(f"Choice options must be str or bytes: {exc}") from None
        super().__init__(trie_dfa(encoded))

    def __repr__(self) -> str:
        shown = ", ".join(repr(o) for o in self.options[:5])
        more = f", ... ({len(self.options)} in all)" if len(self.options) > 5 else ""
        return f"Choice([{shown}{more}])"
