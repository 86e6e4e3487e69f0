"""JsonSchema.next_bytes is remembered per state: the same answer as 256 one-byte advances,
computed once per state, read-only, and bounded."""

from __future__ import annotations

import numpy as np
import pytest

import awrs
from awrs.constraints import json_schema
from awrs.constraints.base import probe_next_bytes


def test_next_bytes_is_the_probe_remembered_per_state(monkeypatch):
    c = awrs.JsonSchema({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}})
    states = [c.initial()]
    for piece in [b"{", b'"a"', b": ", b'"xy', b'z"', b", ", b'"b": ', b"12"]:
        states.append(c.advance(states[-1], piece))
    for state in states:
        assert state is not None
        first = c.next_bytes(state)
        assert np.array_equal(first, probe_next_bytes(c, state))
        assert c.next_bytes(state) is first and not first.flags.writeable
    monkeypatch.setattr(json_schema, "_NEXT_BYTES_MEMO", len(c._next_bytes))
    fresh = c.advance(states[-1], b"3")
    assert np.array_equal(c.next_bytes(fresh), probe_next_bytes(c, fresh))
    assert fresh not in c._next_bytes  # full: answered, not remembered
    with pytest.raises(ValueError):
        c.next_bytes(states[0])[0] = True
