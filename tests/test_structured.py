"""Structured output helpers, streaming and thread safety (on the mock LM)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import awrs
from awrs.lm.mock import MockLM

TOKENS = [b"{", b"}", b'"', b"a", b":", b"1", b"2", b",", b" ", b"yes", b"no", b"[", b"]", "é".encode()[:1], "é".encode()[1:]]


def lm() -> MockLM:
    return MockLM(TOKENS, np.random.default_rng(0).normal(0, 1, size=len(TOKENS) + 1))


def test_json_choice_regex_and_incomplete_outputs():
    value = awrs.json(
        lm(),
        "a",
        {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "additionalProperties": False},
        seed=0,
    )
    assert set(value) == {"a"} and isinstance(value["a"], int)
    assert awrs.choice(lm(), "a", ["yes", "no"], seed=0) in ("yes", "no")
    assert awrs.regex(lm(), "a", r"[12]{3}", seed=0) in {"".join(p) for p in __import__("itertools").product("12", repeat=3)}
    with pytest.raises(awrs.IncompleteOutputError) as info:
        awrs.regex(lm(), "a", r"1{50}", max_new_tokens=5, seed=0)
    assert not info.value.result.valid and info.value.result.stop_reason == "max_new_tokens"


def test_stream_yields_the_text_piece_by_piece():
    c = awrs.Regex(r"\[(1|2|é)(,(1|2|é)){3}\]")
    s = awrs.stream(lm(), "a", c, method="awrs", seed=3)
    pieces = list(s)
    assert "".join(pieces) == s.result.text and s.result.valid
    assert all("\ufffd" not in p for p in pieces)  # a character split over tokens comes out whole
    smc = awrs.stream(lm(), "a", c, method="smc", n_particles=4, seed=3)
    assert "".join(smc) == smc.result.text and smc.result.valid  # SMC streams what its particles agree on


def test_compiled_constraints_are_shared_safely_across_threads():
    """One compiled JsonSchema and one Grammar checked from 8 threads at once give the same
    answers as one thread (constraints are immutable; their memo tables only add entries)."""
    schema = awrs.JsonSchema(
        {"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}}}}
    )
    grammar = awrs.Grammar(awrs.grammars.load("arithmetic"))
    texts = [json.dumps({"a": ["x" * i, "y"]}) for i in range(1, 30)] + ['{"a": ["X"]}', '{"a": [1]}']
    exprs = [f"{i}*(x+{i})^2" for i in range(30)] + ["1+", "2x"]
    expected = ([schema.accepts(t) for t in texts], [grammar.accepts(e) for e in exprs] if grammar else [])
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(([schema.accepts(t) for t in texts], [grammar.accepts(e) for e in exprs] if grammar else []))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 40 and all(r == expected for r in results)
