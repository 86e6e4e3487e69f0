"""``Node.feed_many``: a token's bytes run through the inside of a string, number, key or
container without going back up the document for every byte. The runs must leave exactly the
states that feeding one byte at a time leaves, at every token boundary: checked here on the
external conformance data (every schema of the JSON-Schema-Test-Suite's draft 2020-12 tests
that awrs compiles, and a JSONSchemaBench slice), valid and invalid instances, compact and
indented, cut into tokens of random lengths (fixed seed)."""

from __future__ import annotations

import json
import random

from awrs.constraints.json_schema import JsonSchema, combinators, nodes
from awrs.constraints.json_schema.arrays import ArraySpec
from awrs.constraints.json_schema.objects import ObjectSpec
from awrs.errors import AwrsError
from tests.constraints.json_schema.conformance import BENCH, remotes, suite_files

_RUNNERS = (nodes.TypedNode, combinators.RefNode, ObjectSpec, ArraySpec)


def _cases() -> list[tuple[str, dict, list[str]]]:
    """(name, schema, texts): the suite's draft 2020-12 groups, then 60 JSONSchemaBench schemas."""
    out = []
    for path in suite_files("draft2020-12", "required"):
        for group in json.loads(path.read_text()):
            out.append((f"{path.stem}::{group['description']}", group["schema"], [t["data"] for t in group["tests"]]))
    for name in ("Github_easy", "Github_medium", "Github_hard"):
        with open(BENCH / f"{name}.jsonl") as f:
            for line in list(f)[:20]:
                row = json.loads(line)
                out.append((f"{name}::{row['id']}", row["schema"], [t["data"] for t in row.get("tests", [])]))
    return out


def _texts(data: list) -> list[bytes]:
    """Each instance compact, indented (whitespace between tokens) and with its last
    character changed (often invalid part-way)."""
    out = []
    for value in data:
        for text in (json.dumps(value, separators=(",", ":")), json.dumps(value, indent=1, ensure_ascii=False)):
            out.append(text.encode())
        out.append((text[:-1] + ("x" if text[-1:] != "x" else "y")).encode())
    return out


def _one_byte_at_a_time(monkeypatch) -> None:
    for cls in _RUNNERS:
        monkeypatch.setattr(cls, "feed_many", lambda self, state, data, i: (state, i))


def _states_by_byte(c: JsonSchema, text: bytes) -> list:
    states, state = [c.initial()], c.initial()
    for b in text:
        state = None if state is None else c.advance(state, bytes([b]))
        states.append(state)
    return states


def test_runs_leave_the_states_of_byte_by_byte_feeding(monkeypatch):
    registry = remotes()
    rng = random.Random(0)
    compiled, checked, differences = 0, 0, []
    for name, schema, data in _cases():
        try:
            c = JsonSchema(schema, registry=registry, formats="assert")
        except (AwrsError, RecursionError):
            continue
        compiled += 1
        for text in _texts(data):
            with monkeypatch.context() as m:
                _one_byte_at_a_time(m)
                expected = _states_by_byte(c, text)
            state, at = c.initial(), 0
            while at < len(text) and state is not None:
                size = rng.choice((1, 2, 3, 4, 6, 9, 16))
                state, at = c.advance(state, text[at : at + size]), min(at + size, len(text))
                checked += 1
                if state != expected[at]:
                    differences.append((name, text[:at]))
                    break
    assert compiled >= 300, compiled  # the data was found and compiled
    assert checked >= 50_000, checked
    assert not differences, differences[:5]


def test_the_runs_are_taken(monkeypatch):
    """The fast path is what advance uses: a token inside a string value, a key and a number
    runs through feed_many (so the test above compares two different code paths)."""
    calls = []
    original = nodes.TypedNode.feed_many

    def spy(self, state, data, i):
        out = original(self, state, data, i)
        calls.append(out[1] - i)
        return out

    monkeypatch.setattr(nodes.TypedNode, "feed_many", spy)
    c = JsonSchema({"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}}})
    state = c.advance(c.initial(), b'{"name": "ab')
    assert state is not None and max(calls) >= 2
    assert c.advance(state, b'cdef", "n": 12345}') is not None
    assert max(calls) >= 4
