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


def decoded(method, item, mode, ms, own, *, compile_s=0.001, valid=True, finished=True, checks=None, repeats=None):
    """A decoded row of compare.py: ``steps`` tokens at ``ms`` and ``own`` ms per token."""
    r = row(method, item, 10, ms / 100, own / 100, compile_s if mode == "greedy" else None)
    r.update(mode=mode, valid=valid, finished=finished)
    if checks is not None:
        r.update(checks=checks * 10, checked_tokens=10)
    if repeats is not None:
        r["repeat_decode_s"] = repeats
    return r


def small_run(with_rows=True):
    """Two JSON items, greedy and sampled: awrs on both, a peer on item 0 only, masking on both."""
    rows = []
    for mode in ("greedy", "sampled"):
        for item in ("0", "1"):
            rows.append(decoded("awrs", item, mode, 50.0, 0.5, checks=2.0, repeats=[0.5, 0.55, 0.6]))
            rows.append(decoded("mask", item, mode, 150.0, 100.0, checks=1000.0))
            rows.append(decoded("unconstrained", item, mode, 50.0, 0.25, compile_s=0.0, valid=False))
        rows.append(decoded("peer", "0", mode, 51.0, 1.5, compile_s=0.004, valid=False))
        rows.append({**decoded("peer", "1", mode, 0, 0), "supported": False, "reason": "unsupported  keyword"})
    summary = []
    for mode in ("greedy", "sampled"):
        for method, coverage, validity, ms, own, checks in (
            ("unconstrained", 1.0, 0.0, 50.0, 0.25, None),
            ("awrs", 1.0, 1.0, 50.0, 0.5, 2.0),
            ("mask", 1.0, 1.0, 150.0, 100.0, 1000.0),
            ("peer", 0.5, 0.0, 51.0, 1.5, None),
        ):
            summary.append(
                {
                    **summary_row(method, ms, own, 4.0 if method == "peer" else 1.0, coverage),
                    "mode": mode,
                    "items": 2,
                    "validity": validity,
                    "finished": 1.0,
                    "compliance": validity,
                    "checks_per_token": checks,
                    "compile_p95_ms": 5.0,
                }
            )
    results = {"summary": summary, "rows": rows} if with_rows else {"summary": summary, "row_keys": ["model_s"]}
    return {
        "date": "2026-01-01T00:00:00+00:00",
        "commit": {"sha": "0" * 40},
        "parameters": {
            "json": 2,
            "regex": 0,
            "patterns": 0,
            "sql": 0,
            "max_new_tokens": 8,
            "seed": 0,
            "modes": ["greedy", "sampled"],
            "mask_limit": 2,
            "genlm_limit": 0,
            "repeats": 3,
            "fidelity_samples": 0,
        },
        "versions": {"awrs": "0.1.0"},
        "machine": {"processor": "x86_64", "cpu_count": 2},
        "results": results,
    }


def headline(data):
    report = load_benchmark("report")
    return {r["against"]: r for r in report.headline_rows(data["results"])}


def test_the_summary_compares_item_by_item_on_the_items_both_methods_ran():
    rows = headline(small_run())
    peer = rows["peer"]
    assert peer["units"] == 2  # item 0 in both modes; the peer refused item 1
    assert peer["own"] == "3.00× (3.00–3.00×, n=2)"  # 1.5 ms against awrs's 0.5 on the same item
    assert peer["ms"] == "1.02× (1.02–1.02×, n=2)"
    assert peer["compile"] == "4.00× (n=1)"  # compile is timed in the first mode only
    assert peer["compliance"] == "2/2 · 0/2"
    mask = rows["token masking (awrs's checker)"]
    assert (mask["units"], mask["checks"], mask["compile"]) == (4, "500× (500–500×, n=4)", "–")
    unconstrained = rows["unconstrained decoding"]
    assert unconstrained["own"] == "0.50× (0.50–0.50×, n=4)" and unconstrained["compile"] == "–"


def test_without_rows_the_summary_compares_cells_and_says_so():
    data = small_run(with_rows=False)
    rows = headline(data)
    assert rows["peer"]["units"] == 2  # the greedy and sampled cells
    assert rows["peer"]["compliance"] == "4/4 · 0/2"  # awrs on both items, the peer on one
    report = load_benchmark("report")
    note = report.noise_note(data["results"], repeats=3)
    assert "task × mode cells" in note and "not in the result file" in note


def test_the_noise_across_repeats_is_reported_when_the_rows_record_it():
    data = small_run()
    report = load_benchmark("report")
    assert report.repeat_spread(data["results"]["rows"]) == pytest.approx((0.2, 0.2))  # 0.6 against 0.5
    assert "by a median 20%" in report.noise_note(data["results"], repeats=3)
    for r in data["results"]["rows"]:
        r.pop("repeat_decode_s", None)
    assert "not in the result file" in report.noise_note(data["results"], repeats=3)


def tables(text):
    """Every Markdown table of ``text`` as (heading above it, header cells)."""
    out, heading = [], None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("#"):
            heading = line
        if line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|")):
            out.append((heading, [c.strip() for c in line.strip("|").split("|")]))
    return out


def test_the_page_opens_with_the_summary_and_ends_with_the_method_notes():
    report = load_benchmark("report")
    data = small_run()
    report.per_item_ratios(data["results"])
    page = report.render(data, ("summary.png", ["validity.png"]), "benchmarks")
    found = tables(page)
    assert found[0][0] == "## Summary" and found[0][1][0] == "awrs against"
    assert all(len(header) <= 7 for _, header in found), [h for h in found if len(h[1]) > 7]
    before = page.split("## Summary")[0]
    assert len(before.split()) < 120  # provenance only: the numbers come first
    assert page.index("![") < page.index("## How it was measured") < page.index("## Results by task")
    assert page.rstrip().splitlines()[-1].startswith("- *mem*")  # the method notes close the page
    assert "- peer, json: unsupported keyword" in page  # the first reason, its spaces collapsed


def test_the_backend_sections_show_speed_fidelity_and_own_time_against_awrs():
    load_benchmark("report")  # puts benchmarks/ on the path for its helpers
    backends = load_benchmark("_report_backends")
    render_backend_compare, render_lm_step = backends.render_backend_compare, backends.render_lm_step

    meta = {"date": "2026-12-05", "commit": {"sha": "abc"}, "machine": {"cpu_count": 2, "torch_threads": 2}}
    lm_rows = [
        {
            "config": c,
            "batch": b,
            "decode_ms": d,
            "prefill_ms": 1.0,
            "speedup_vs_float32": s,
            "kl_mean": k,
            "kl_max": k,
            "argmax_differs": 0.0,
        }
        for c, b, d, s, k in [
            ("transformers:float32", 1, 50.0, 1.0, 0.0),
            ("llama_cpp:1", 1, 10.0, 5.0, 0.003),
            ("llama_cpp:1", 8, 60.0, 1.5, 0.003),
        ]
    ]
    params = {"tokens": 32, "repeats": 3, "fidelity_tokens": 32, "fidelity_prompts": ["a", "b"]}
    text = render_lm_step({**meta, "parameters": params, "results": lm_rows})
    assert "| llama_cpp:1 | 8 | 60 |" in text and "| llama_cpp:1 | 0.003 |" in text
    assert text.count("| llama_cpp:1 |") == 3  # two speed rows, one fidelity row (batch 1 only)
    summary = [summary_row("awrs", 12.0, 0.25, 1.0), summary_row("llguidance", 12.0, 0.5, 1.0, coverage=0.7)]
    p = {"backend": "llama_cpp", "json": 10, "regex": 10, "sql": 10, "max_new_tokens": 128, "repeats": 2}
    text = render_backend_compare({**meta, "parameters": p, "results": {"summary": summary}})
    assert "| json | greedy | llguidance | 12 | 0.5 | 2 |" in text
