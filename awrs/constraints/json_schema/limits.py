"""What awrs.JsonSchema refuses to follow: reference cycles that read nothing, and nesting past
:data:`MAX_DEPTH`.

Compiling a schema and reading a document both recurse, once per level of nesting (a value
inside an array or object, a subschema inside a subschema). Rather than meet Python's
recursion limit somewhere deep inside, awrs states one limit and checks it where nesting
grows: a schema nested deeper, and a document nested deeper, raise a ConstraintError that
names it. The limit is generous for data (serde_json's default is 128 too; python-jsonschema
itself cannot validate a document nested more than about a hundred levels) and leaves
Python's default recursion limit (1,000 frames) room for the few frames each level takes.

A reference cycle made only of edges that stay on the same value (``$ref``, ``allOf``,
``anyOf``, ``oneOf``, ``not``, ``if``/``then``/``else``, ``dependentSchemas``) never moves
into a part of the value: validating anything against it never ends (python-jsonschema
recurses until Python stops it), so no document satisfies it. Such a schema is refused when it
compiles, as a schema whose language is empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from awrs.errors import ConstraintError

__all__ = ["MAX_DEPTH", "DepthError", "check_cycles", "nesting_after", "short_pointer"]

#: The deepest nesting awrs.JsonSchema follows: of a document's arrays and objects, of a
#: schema document's JSON, and of subschemas within subschemas (chains of ``$ref`` included).
#: Reading or compiling one level takes about five Python frames (a combinator, a reference,
#: the container and its item or property): at 128 levels a caller keeps at least 350 of
#: Python's default 1,000 frames (measured on recursive pydantic models and on schemas nested
#: through properties, items, anyOf and not).
MAX_DEPTH = 128


class DepthError(ConstraintError):
    """A schema or a document nests deeper than :data:`MAX_DEPTH` levels."""


def check_cycles(refs: Iterable[Any]) -> None:
    """Raise ConstraintError when some reference in ``refs`` (RefNodes, the edges that close
    every cycle of a compiled schema) leads back to itself along edges that stay on the same
    value (``Node.same_value``). Iterative: the graph may be deep."""
    done: set[int] = set()
    for ref in refs:
        if id(ref) in done:
            continue
        on_path: set[int] = {id(ref)}
        stack: list[tuple[Any, Any]] = [(ref, iter(ref.same_value()))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                on_path.discard(id(node))
                done.add(id(node))
                continue
            if id(child) in on_path:
                raise ConstraintError(_cycle_message(ref))
            if id(child) not in done:
                on_path.add(id(child))
                stack.append((child, iter(child.same_value())))


def short_pointer(pointer: str, keep: int = 48) -> str:
    """A JSON pointer for a message: its two ends when it is long (a deep schema's are)."""
    return pointer if len(pointer) <= 2 * keep + 3 else f"{pointer[:keep]}...{pointer[-keep:]}"


def _cycle_message(ref: Any) -> str:
    return (
        f"the schema at {short_pointer(ref.pointer)} refers back to itself without reading any part of the value "
        "(a cycle of $ref, allOf, anyOf, oneOf, not, if/then/else or dependentSchemas): validating "
        "a document against it never ends, so no document satisfies it (its language is empty). "
        "Recursion must go through properties, items or another keyword that moves into a part of the value"
    )


# --- the nesting of a document, read alongside ---------------------------------------------

#: The bytes that change the nesting of a JSON text: quotes, backslashes and brackets.
_STRUCTURAL = re.compile(rb'["\\\[\]{}]')
_IN_STRING, _ESCAPED = 1, 2  # flags in the low bits of a nesting state; the depth above them


def nesting_after(nest: int, data: bytes) -> tuple[int, int | None]:
    """``(nest', k)``: the nesting state after ``data`` and the offset of the first byte that
    opens a level beyond :data:`MAX_DEPTH` (None when none does). A nesting state is
    ``depth << 2 | flags``: the arrays and objects open, inside a string, after a backslash.
    Exact for any prefix of valid JSON; the schema's nodes refuse everything else."""
    if _STRUCTURAL.search(data) is None:  # most tokens (a third of the time of the loop below)
        return (nest & ~_ESCAPED if data else nest), None  # an escaped byte is read, if any
    depth, flags = nest >> 2, nest & 3
    skip = 0 if not flags & _ESCAPED else 1  # the byte a backslash escapes
    flags &= _IN_STRING
    for m in _STRUCTURAL.finditer(data, skip):
        k = m.start()
        if k < skip:
            continue
        c = data[k]
        if flags:
            if c == 0x5C:  # a backslash: the next byte is escaped
                if k + 1 == len(data):
                    return (depth << 2) | _IN_STRING | _ESCAPED, None
                skip = k + 2
            elif c == 0x22:
                flags = 0
        elif c == 0x22:
            flags = _IN_STRING
        elif c == 0x5B or c == 0x7B:
            if depth >= MAX_DEPTH:
                return (depth << 2) | flags, k
            depth += 1
        elif c == 0x5D or c == 0x7D:
            depth -= 1
    return (depth << 2) | flags, None
