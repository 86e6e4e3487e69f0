"""The keys of a JSON object under its schema: which node reads a property's value, which keys
are still missing, and whether a key begun can still lead to an object that validates.

Keys that could not lead to a valid object (unknown under ``additionalProperties: false``,
duplicates, over ``maxProperties`` while required keys are missing...) are refused as soon as
no completion of the key text can be valid. The byte-by-byte reader of an object is
:class:`~awrs.constraints.json_schema.objects.ObjectSpec`, built on :class:`ObjectKeys`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from awrs.constraints.json_schema.combinators import AllOfNode, Unresolved
from awrs.constraints.json_schema.nodes import Layout, Node
from awrs.constraints.json_schema.patterns import search_pattern
from awrs.constraints.json_schema.strings import StringSpec

__all__ = ["ObjectKeys"]

#: Entries past which an object spec's memos start afresh (the shared any-value object sees
#: every key set of every document).
_MEMO_LIMIT = 4096


class ObjectKeys:
    """The object keywords of one schema, compiled, and what they allow of the keys: which
    node reads a property's value, whether a key begun can still lead to a valid object."""

    def __init__(
        self,
        layout: Layout,
        properties: Mapping[str, Node],
        patterns: Sequence[tuple[Any, str, Node]],
        additional: Node,
        names: Node | None = None,
        required: frozenset[str] = frozenset(),
        min_props: int = 0,
        max_props: int | None = None,
        dependent_required: Mapping[str, frozenset[str]] | None = None,
        dependent_schemas: Mapping[str, Node] | None = None,
        fixed_order: bool = False,
    ):
        self.layout = layout
        self.properties = dict(properties)
        self.patterns = list(patterns)  # (compiled regex searched in the name, its text, node)
        self._prefix_checkers: dict[str, Any] = {}
        self.additional = additional
        self.names = names
        self.required = frozenset(required)
        self.min_props = min_props
        self.max_props = max_props
        self.dep_required = dict(dependent_required or {})
        self.dep_keys = tuple((dependent_schemas or {}).keys())
        self.dep_nodes = tuple((dependent_schemas or {}).values())
        self.order = {name: i for i, name in enumerate(self.properties)} if fixed_order else None
        self._node_cache: dict[str, Node] = {}
        self._missing_memo: dict[frozenset, frozenset] = {}
        self._finish_memo: dict[tuple[frozenset, int], bool] = {}
        self._utf8: dict[str, bytes] = {}
        self.finite = additional.empty and not self.patterns
        self._candidates = tuple(n for n, node in self.properties.items() if not node.empty)
        self.empty = not self._satisfiable()

    def node_for(self, name: str) -> Node:
        """The schema a property's value must satisfy (``properties``, matching
        ``patternProperties``, else ``additionalProperties``)."""
        if not self.properties and not self.patterns:  # e.g. the shared any-value object: nothing to cache
            return self.additional
        node = self._node_cache.get(name)
        if node is None:
            nodes = [self.properties[name]] if name in self.properties else []
            nodes += [n for rx, _, n in self.patterns if rx.search(name)]
            node = self.additional if not nodes else nodes[0] if len(nodes) == 1 else AllOfNode(nodes)
            self._node_cache[name] = node
        return node

    def _name_allowed(self, name: str) -> bool:
        if self.node_for(name).empty:
            return False
        return self.names is None or _node_accepts_string(self.names, name)

    def _satisfiable(self) -> bool:
        if self.max_props is not None and self.max_props < self.min_props:
            return False
        if not self.required and not self.min_props:
            return True  # the empty object (the usual case, decided without the memos)
        try:
            return self._can_finish(frozenset(), -1)
        except Unresolved:  # propertyNames refers back to a schema still being compiled
            return True  # assumed satisfiable; reading decides exactly

    def missing(self, seen: frozenset) -> frozenset:
        """Required keys not yet seen, including dependentRequired ones (transitively).
        Memoised per set of seen keys (asked at every byte of a key)."""
        out = self._missing_memo.get(seen)
        if out is None:
            if len(self._missing_memo) >= _MEMO_LIMIT:
                self._missing_memo.clear()
            out = self._missing_memo[seen] = self._find_missing(seen)
        return out

    def _find_missing(self, seen: frozenset) -> frozenset:
        needed = set(self.required)
        frontier = list(needed | seen)
        while frontier:
            for dep in self.dep_required.get(frontier.pop(), ()):
                if dep not in needed:
                    needed.add(dep)
                    frontier.append(dep)
        return frozenset(needed - seen)

    def _can_finish(self, seen: frozenset, last: int) -> bool:
        """Can keys still be added so that the object closes validly? (Memoised: a key's
        every byte asks it of each candidate name.)"""
        key = (seen, last)
        out = self._finish_memo.get(key)
        if out is None:
            if len(self._finish_memo) >= _MEMO_LIMIT:
                self._finish_memo.clear()
            out = self._finish_memo[key] = self._find_can_finish(seen, last)
        return out

    def _find_can_finish(self, seen: frozenset, last: int) -> bool:
        missing = self.missing(seen)
        if not all(self._name_allowed(m) for m in missing):
            return False
        if self.order is not None and any(self.order.get(m, 1 << 30) < last for m in missing):
            return False
        room = None if self.max_props is None else self.max_props - len(seen)
        want = max(self.min_props - len(seen), len(missing))
        if room is not None and want > room:
            return False
        if self.finite:
            available = [c for c in self._candidates if c not in seen and self._order_ok(c, last) and self._name_allowed(c)]
            return len(available) >= want
        return True

    def _order_ok(self, name: str, last: int) -> bool:
        return self.order is None or name not in self.order or self.order[name] > last

    def key_viable(self, seen: frozenset, last: int, text: str, closed: bool, partial: bytes = b"", escape: Any = None) -> bool:
        """Can the key being read (``text`` so far, then the ``partial`` bytes of an unfinished
        character, or an escape begun that can still stand for the code points ``escape``)
        become a key of a valid object, after the keys ``seen`` (the last declared one, in
        fixed key order, at index ``last``)?"""
        if closed:
            if text in seen or not self._order_ok(text, last) or not self._name_allowed(text):
                return False
            return self._can_finish(seen | {text}, self.order.get(text, last) if self.order else last)
        room = None if self.max_props is None else self.max_props - len(seen)
        if room is not None and room <= 0:
            return False
        missing = self.missing(seen)
        prefix = text.encode("utf-8", "surrogatepass") + partial
        if self.finite or (room is not None and room == len(missing)):
            pool = missing if (room is not None and room == len(missing)) else self._candidates
            return any(
                self._bytes(n).startswith(prefix)
                and _continues(n, text, escape)
                and n not in seen
                and self._order_ok(n, last)
                and self._name_allowed(n)
                and self._can_finish(seen | {n}, self.order.get(n, last) if self.order else last)
                for n in pool
            )
        if self.additional.empty:  # a declared name, or a name some patternProperties pattern can match
            return any(
                self._bytes(n).startswith(prefix) and _continues(n, text, escape) and n not in seen for n in self._candidates
            ) or any(self._pattern_viable(pattern, prefix, escape) for _, pattern, node in self.patterns if not node.empty)
        return True  # an open set of names: the text can always grow into a fresh one

    def _bytes(self, name: str) -> bytes:
        """A key's UTF-8 bytes (memoised: compared with the key read so far at every byte)."""
        out = self._utf8.get(name)
        if out is None:
            out = self._utf8[name] = name.encode("utf-8", "surrogatepass")
        return out

    def _pattern_viable(self, pattern: str, prefix: bytes, escape: Any) -> bool:
        """Can a name that starts with ``prefix`` (then, when ``escape`` is given, a character
        with a code point in those ranges) come to contain a match of ``pattern``? Exact when
        the pattern compiles to a DFA; with an escape begun and no DFA, the escape is assumed
        to fit."""
        checker = self._prefix_checker(pattern)
        if escape is None or checker.dfa is None:
            return checker.accepts_prefix(prefix)
        state = checker.walk(prefix)
        return state is not None and StringSpec(eager_dfa=checker.dfa).chars_fit(state, 0, escape)

    def _prefix_checker(self, pattern: str):
        """An awrs Regex whose prefix check says whether a name can still come to contain a
        match of ``pattern`` (built the first time a key needs it)."""
        checker = self._prefix_checkers.get(pattern)
        if checker is None:
            from awrs.constraints.regex import ECMA_262, Regex

            checker = self._prefix_checkers[pattern] = Regex(search_pattern(pattern), ECMA_262)
        return checker

    def counts_ok(self, seen: frozenset) -> bool:
        """The keys ``seen`` hold every required key and are as many as the bounds allow."""
        if self.missing(seen) or len(seen) < self.min_props:
            return False
        return self.max_props is None or len(seen) <= self.max_props


def _continues(name: str, text: str, escape: Any) -> bool:
    """``name`` goes on after ``text`` with a character in the code point ranges ``escape``
    (always true without an escape)."""
    if escape is None:
        return True
    if len(name) <= len(text):
        return False
    cp = ord(name[len(text)])
    return any(lo <= cp <= hi for lo, hi in escape)


def _node_accepts_string(node: Node, text: str) -> bool:
    """Whether ``node`` accepts the JSON string ``text`` (as a value)."""
    import json

    st = node.start()
    for b in json.dumps(text).encode():
        st = node.feed(st, b)
        if st is None:
            return False
    return node.end(st)
