"""The AWRS paper's 402 patterns (../shared/benchmarks/awrs-pattern-matching)."""

from __future__ import annotations

import csv

import numpy as np
import regex

from awrs.constraints.regex import Regex
from tests.conftest import SHARED

PATTERNS_CSV = SHARED / "benchmarks" / "awrs-pattern-matching" / "patterns_awrs_colm2025.csv"


def load_patterns():
    with PATTERNS_CSV.open(newline="") as f:
        return [row["regex"] for row in csv.DictReader(f)]


def sample_from_dfa(dfa, rng, max_len=40):
    """A random accepted byte string: walk live transitions, stop at accepting states by coin flip."""
    state, out = 0, bytearray()
    for _ in range(max_len):
        if dfa.final[state] and (rng.random() < 0.3 or not (dfa.table[state] >= 0).any()):
            return bytes(out)
        choices = np.flatnonzero(dfa.table[state] >= 0)
        b = int(rng.choice(choices))
        out.append(b)
        state = int(dfa.table[state, b])
    return bytes(out) if dfa.final[state] else None


def test_all_402_patterns_compile_and_report_their_engine():
    patterns = load_patterns()
    assert len(patterns) == 402
    engines = [Regex(p).engine for p in patterns]
    assert engines.count("dfa") >= 40  # the ratchet: patterns the DFA engine takes today


def test_dfa_samples_fully_match_under_the_regex_module():
    rng = np.random.default_rng(0)
    checked = 0
    for p in load_patterns():
        c = Regex(p)
        if c.engine != "dfa":
            continue
        compiled = regex.compile(p, flags=regex.VERSION0)  # awrs.Regex's default: Unicode classes
        for _ in range(30):
            s = sample_from_dfa(c.dfa, rng)
            if s is None:
                continue
            text = s.decode("utf-8")
            assert compiled.fullmatch(text), (p, text)
            checked += 1
    assert checked > 500
