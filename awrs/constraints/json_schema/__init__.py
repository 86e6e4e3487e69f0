"""``awrs.JsonSchema``: JSON documents valid under a JSON Schema, checked exactly byte by byte.

See docs/json-schema.md for the supported keywords and the few places where the prefix check
over-approximates.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import numpy as np

from awrs.constraints.base import Constraint
from awrs.constraints.json_schema.compiler import Compiler, Options, UnenforcedKeywordWarning
from awrs.constraints.json_schema.limits import MAX_DEPTH, DepthError, nesting_after
from awrs.constraints.json_schema.nodes import WHITESPACE, Node
from awrs.constraints.json_schema.refs import DRAFTS, detect_draft
from awrs.errors import ConstraintError

__all__ = ["JsonSchema", "UnenforcedKeywordWarning"]

LEAD, VALUE, TRAIL = range(3)
_SIGNIFICANT = tuple(b for b in range(256) if b not in WHITESPACE)  # bytes that could extend a value
_WHITESPACE = sorted(WHITESPACE)


class DocState(NamedTuple):
    phase: int
    ws: int
    value: Any
    nest: int = 0  # the document's nesting, read alongside (limits.nesting_after)


#: States whose next bytes a JsonSchema remembers (:meth:`JsonSchema.next_bytes`).
_NEXT_BYTES_MEMO = 16384

#: The Options of compiles without a registry, made once per combination.
_OPTIONS: dict[tuple, Options] = {}


def _options(strict, max_whitespace, formats, max_string_length, fixed_order, registry) -> Options:
    if registry:
        return Options(strict, max_whitespace, formats, max_string_length, fixed_order, dict(registry))
    key = (strict, max_whitespace, formats, max_string_length, fixed_order)
    options = _OPTIONS.get(key)
    if options is None:
        if len(_OPTIONS) >= 256:
            _OPTIONS.clear()
        options = _OPTIONS[key] = Options(*key)
    return options


class JsonSchema(Constraint):
    """JSON text that validates against ``schema``.

    ``schema``: a dict, a JSON string, or a pydantic model class (``parse`` then returns a
    model instance). ``whitespace``: ``"flexible"`` (runs of at most ``max_whitespace`` spaces,
    tabs and newlines between tokens, so models can indent) or ``"compact"`` (none).
    ``strict=False`` turns unsupported keywords into warnings. ``formats="annotate"`` treats
    ``format`` as an annotation, as JSON Schema 2019-09 and later do by default.
    ``max_string_length`` caps every string (generation cannot run on forever inside one);
    ``key_order="schema"`` makes declared properties appear in schema order. ``registry``
    maps URIs to schemas for remote ``$ref`` (nothing is downloaded). Whitespace after the
    document is accepted but never generated (:meth:`is_final`).
    """

    bytewise = True  # advance reads byte by byte (next_bytes probes it so)
    byte_steps = True  # a fold over the bytes (the runs read at once end where byte-by-byte reading would), states namedtuples

    def __init__(
        self,
        schema: Any,
        *,
        strict: bool = True,
        whitespace: Literal["flexible", "compact"] = "flexible",
        max_whitespace: int = 32,
        formats: Literal["assert", "annotate"] = "assert",
        max_string_length: int | None = None,
        key_order: Literal["free", "schema"] = "free",
        registry: Mapping[str, Any] | None = None,
        draft: int | None = None,
    ):
        self.model: Any = None  # the pydantic model class, when one was given
        if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
            self.model = schema
            schema = schema.model_json_schema()
        elif isinstance(schema, (str, bytes)):
            schema = _loads(schema)
        _check_options(whitespace, formats, key_order, strict, max_whitespace, draft, registry, max_string_length)
        self.schema = schema
        options = _options(
            strict, max_whitespace if whitespace == "flexible" else 0, formats, max_string_length, key_order == "schema", registry
        )
        compiler = Compiler(schema, draft if draft is not None else detect_draft(schema), options)
        try:
            self._root: Node = compiler.compile_root()
        except RecursionError:  # past what MAX_DEPTH bounds (see limits.py): still a typed error
            raise _beyond_python() from None
        self._max_ws = options.max_whitespace
        self._next_bytes: dict[DocState, np.ndarray] = {}
        self.ignored_keywords = frozenset(compiler.ignored)
        self.unenforced = tuple(compiler.unenforced)
        if self._root.empty:
            raise ConstraintError("the schema allows no JSON value at all (its language is empty)")

    def __repr__(self) -> str:
        title = self.schema.get("title") if isinstance(self.schema, Mapping) else None
        return f"JsonSchema({title!r})" if title else "JsonSchema(...)"

    def initial(self) -> DocState:
        return DocState(LEAD, 0, self._root.start(), 0)

    def advance(self, state: DocState, data: bytes) -> DocState | None:
        """The state after ``data``, or None; None too when the document opens an array or
        object deeper than :data:`MAX_DEPTH` levels (the language stops there, as a parser's
        depth limit does: generation goes on with other tokens)."""
        nest, over = nesting_after(state.nest, data)
        if over is not None:
            return None
        try:
            out = self._read(state, data)
        except RecursionError:  # past what MAX_DEPTH bounds (see limits.py): still a typed error
            raise _beyond_python() from None
        return None if out is None else DocState(out[0], out[1], out[2], nest)

    def _read(self, state: DocState, data: bytes) -> tuple[int, int, Any] | None:
        """(phase, ws, value) after ``data``, or None when no valid document continues."""
        root, max_ws = self._root, self._max_ws
        phase, ws, value, _ = state
        i, n = 0, len(data)
        while i < n:
            if phase == VALUE:
                value, i = root.feed_many(value, data, i)  # the run inside the value
                if i == n:
                    break
            b = data[i]
            i += 1
            if phase == VALUE:
                nxt = root.feed(value, b)
                if nxt is not None:
                    value = nxt
                    continue
                if not root.end(value) or b not in WHITESPACE or max_ws == 0:
                    return None
                phase, ws = TRAIL, 1
                continue
            if b in WHITESPACE:
                if ws >= max_ws:
                    return None
                ws += 1
                continue
            if phase == TRAIL:
                return None
            value = root.feed(value, b)
            if value is None:
                return None
            phase, ws = VALUE, 0
        return phase, ws, value

    def next_bytes(self, state: DocState) -> np.ndarray:
        # What the 256 one-byte advances say (_probe), remembered per state: the particles of
        # an SMC run meet the same states (~0.4 ms a state). The table only grows, up to
        # _NEXT_BYTES_MEMO states; a state holding something unhashable is not remembered.
        memo = self._next_bytes
        try:
            found, hashable = memo.get(state), True
        except TypeError:
            found, hashable = None, False
        if found is None:
            try:
                found = self._probe(state)
            except RecursionError:  # past what MAX_DEPTH bounds (see limits.py): still a typed error
                raise _beyond_python() from None
            if hashable:
                found.flags.writeable = False
                if len(memo) < _NEXT_BYTES_MEMO:
                    memo[state] = found
        return found

    def _probe(self, state: DocState) -> np.ndarray:
        """``probe_next_bytes(self, state)`` (256 one-byte advances) without advance's
        overhead per byte: what ``advance(state, bytes((b,)))`` does with one byte, written out
        (tests/constraints/test_next_bytes.py compares the two)."""
        phase, ws, value, nest = state
        max_ws = self._max_ws
        if phase != VALUE:
            out = np.zeros(256, dtype=np.bool_)
            if ws < max_ws:
                out[_WHITESPACE] = True
            if phase == LEAD:
                feed = self._root.feed
                for b in _SIGNIFICANT:
                    out[b] = feed(value, b) is not None
        else:
            feed = self._root.feed
            out = np.fromiter((feed(value, b) is not None for b in range(256)), dtype=np.bool_, count=256)
            if max_ws > 0 and self._root.end(value):
                out[_WHITESPACE] = True
        if nest & 3 == 0 and nest >> 2 >= MAX_DEPTH:  # outside strings, at the deepest level
            out[[0x5B, 0x7B]] = False
        return out

    def is_complete(self, state: DocState) -> bool:
        return state.phase == TRAIL or (state.phase == VALUE and self._root.end(state.value))

    def is_final(self, state: DocState) -> bool:
        """The document is complete and only trailing whitespace could follow: after the
        whitespace that ends a number, or after a value that cannot grow (an object, an array,
        a string, a literal; probed once, when the document is complete)."""
        if state.phase == TRAIL:
            return True
        if state.phase != VALUE or not self._root.end(state.value):
            return False
        feed, value = self._root.feed, state.value
        return all(feed(value, b) is None for b in _SIGNIFICANT)

    def parse(self, text: str) -> Any:
        value = json.loads(text)
        return self.model.model_validate(value) if self.model is not None else value


def _loads(text: str | bytes) -> Any:
    """A schema given as JSON text, parsed (ConstraintError, or DepthError, when it is not JSON)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConstraintError(f"the schema is not valid JSON: {exc}") from None
    except RecursionError:
        raise DepthError(
            f"the schema nests deeper than {MAX_DEPTH} levels: {MAX_DEPTH} is the most awrs.JsonSchema compiles"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConstraintError(f"the schema is not valid UTF-8 JSON text: {exc}") from None


def _check_options(
    whitespace: Any,
    formats: Any,
    key_order: Any,
    strict: Any,
    max_whitespace: Any,
    draft: Any,
    registry: Any,
    max_string_length: Any,
) -> None:
    """Raise a ConstraintError naming the first of :class:`JsonSchema`'s options that has a
    value outside its domain."""
    if whitespace not in ("flexible", "compact"):
        raise ConstraintError(f"whitespace must be 'flexible' or 'compact', got {whitespace!r}")
    if formats not in ("assert", "annotate"):
        raise ConstraintError(f"formats must be 'assert' or 'annotate', got {formats!r}")
    if key_order not in ("free", "schema"):
        raise ConstraintError(f"key_order must be 'free' or 'schema', got {key_order!r}")
    if not isinstance(strict, bool):
        raise ConstraintError(f"strict must be True or False, got {strict!r}")
    if type(max_whitespace) is not int or max_whitespace < 0:
        raise ConstraintError(
            f"max_whitespace must be a non-negative integer (or whitespace='compact' for none), got {max_whitespace!r}"
        )
    if draft is not None and (type(draft) is not int or draft not in DRAFTS):
        raise ConstraintError(f"draft must be one of {', '.join(map(str, DRAFTS))} (or None: from $schema), got {draft!r}")
    if registry is not None and not (isinstance(registry, Mapping) and all(isinstance(k, str) for k in registry)):
        raise ConstraintError(f"registry must map URIs (strings) to schemas, got {type(registry).__name__}")
    if max_string_length is not None and (type(max_string_length) is not int or max_string_length < 0):
        raise ConstraintError(f"max_string_length must be a non-negative integer or None, got {max_string_length!r}")


def _beyond_python() -> DepthError:
    """The error of a schema or document whose nesting, within :data:`MAX_DEPTH`, still takes
    more nested calls than Python's recursion limit allows (combinators nested deeply at every
    level of a deep document, or a caller already deep in its own recursion)."""
    return DepthError(
        f"following this schema or document needs more nested calls than Python's recursion limit ({sys.getrecursionlimit()}) allows: "
        f"the schema or the document nests too deeply (awrs.JsonSchema follows at most {MAX_DEPTH} levels "
        "of either, fewer when combinators nest deeply at every level)"
    )
