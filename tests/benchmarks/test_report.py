"""benchmarks/report.py's target checks on a hand-made summary (no model, no peers)."""

from __future__ import annotations

import pytest

from tests.benchmarks.test_pattern_matching import load_benchmark


def row(method, item, steps, decode_s, overhead_s, compile_s):
    return {
        "task": "json",
        "mode": "greedy",
        "method": method,
        "id": item,
        "supported": True,
        "steps": steps,
        "decode_s": decode_s,
        "overhead_s": overhead_s,
        "compile_s": compile_s,
    }


def summary_row(method, ms, overhead, compile_ms, coverage=1.0):
    return {
        "task": "json",
        "mode": "greedy",
        "method": method,
        "coverage": coverage,
        "ms_per_token": ms,
        "overhead_ms_per_token": overhead,
        "vs_unconstrained": 1.0,
        "compile_p50_ms": compile_ms,
        "compliance": 1.0,
    }


def test_awrs_is_compared_with_the_best_peer_on_the_items_the_peer_ran():
    report = load_benchmark("report")
    # awrs: item 0 is slow (a long output, a big schema), item 1 fast; the peer only ran item 1.
    rows = [
        row("awrs", "0", 10, 1.0, 0.01, 0.005),
        row("awrs", "1", 10, 0.5, 0.004, 0.001),
        row("peer", "1", 10, 0.6, 0.005, 0.002),
    ]
    summary = [summary_row("awrs", 75.0, 0.7, 3.0), summary_row("peer", 60.0, 0.5, 2.0, coverage=0.5)]
    checks = {c["target"]: c for c in report.targets(summary, rows)}
    speed = checks["ms/token ≤ best peer's (same items)"]
    assert (speed["awrs"], speed["bound"], speed["met"]) == (50.0, 60.0, "yes")
    overhead = checks["overhead ms/token ≤ best peer's (same items)"]
    assert overhead["awrs"] == pytest.approx(0.4) and (overhead["bound"], overhead["met"]) == (0.5, "yes")
    compile_ = checks["compile p50 ≤ peer's (same items)"]
    assert (compile_["awrs"], compile_["bound"], compile_["met"]) == (1.0, 2.0, "yes")
    # Without rows, the whole-task numbers are compared (and here they miss the bound).
    checks = {c["target"]: c for c in report.targets(summary)}
    assert checks["ms/token ≤ best peer's (same items)"]["met"] == "**no**"
    assert checks["compile p50 ≤ peer's (same items)"]["met"] == "**no**"


def test_the_compile_section_gives_awrs_p50_on_each_peers_items():
    report = load_benchmark("report")
    rows = [{"task": "json", "id": i, "method": "awrs", "compile_s": s} for i, s in (("a", 0.001), ("b", 0.002), ("c", 0.009))]
    rows += [
        {"task": "json", "id": "a", "method": "peer", "compile_s": 0.0015},
        {"task": "json", "id": "b", "method": "peer", "compile_s": 0.0025},
        {"task": "json", "id": "c", "method": "peer", "reason": "unsupported"},
    ]
    summary = [
        {"task": "json", "method": "awrs", "items": 3, "compiled": 3, "compile_p50_ms": 2.0, "compile_p95_ms": 8.0},
        {"task": "json", "method": "peer", "items": 3, "compiled": 2, "compile_p50_ms": 2.0, "compile_p95_ms": 2.5},
    ]
    data = {
        "parameters": {"json": 3, "regex": 0, "patterns": 0, "sql": 0},
        "date": "d",
        "commit": {"sha": "abc"},
        "results": {"summary": summary, "rows": rows},
    }
    text = report.render_compile(data)
    peer_line = next(line for line in text.splitlines() if line.startswith("| json | peer"))
    assert peer_line.endswith("| 1.5 |")  # awrs on a and b only: 1 and 2 ms


def test_first_calls_get_their_own_column_and_section():
    report = load_benchmark("report")
    rows = [{"task": "json", "id": "a", "method": "awrs", "compile_s": 0.001}]
    summary = [
        {
            "task": "json",
            "method": "awrs",
            "items": 1,
            "compiled": 1,
            "compile_p50_ms": 1.0,
            "compile_p95_ms": 1.0,
            "first_call_ms": 7.5,
        }
    ]
    data = {
        "parameters": {"json": 1, "regex": 0, "patterns": 0, "sql": 0},
        "date": "d",
        "commit": {"sha": "abc"},
        "results": {"summary": summary, "rows": rows, "first_calls": [{"task": "json", "method": "awrs", "first_call_ms": 7.5}]},
    }
    text = report.render_compile(data)
    assert "first call ms" in text and "outside the timed slices" in text
    assert next(line for line in text.splitlines() if line.startswith("| json | awrs")).endswith("| 7.5 |")
    del data["results"]["first_calls"]
    assert "first call" not in report.render_compile(data)
