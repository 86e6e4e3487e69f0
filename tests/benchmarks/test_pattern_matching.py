"""The pattern-matching benchmark on a 10-pattern slice (the full run is benchmarks/pattern_matching.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.model
def test_ten_patterns_all_finished_awrs_outputs_match(tmp_path, default_lm, monkeypatch):
    bench = load_benchmark("pattern_matching")
    monkeypatch.setattr(bench.awrs, "load_model", lambda *a, **k: default_lm)
    out = tmp_path / "pm.json"
    bench.main(["--limit", "10", "--mask-limit", "3", "--max-new-tokens", "8", "--out", str(out)])
    data = json.loads(out.read_text())
    rows = data["results"]["rows"]
    assert {r["method"] for r in rows} == {"unconstrained", "awrs", "mask"}
    awrs_rows = [r for r in rows if r["method"] == "awrs"]
    assert len(awrs_rows) == 10
    assert all(r["match"] for r in awrs_rows if r["finished"])
    assert data["versions"]["awrs"] and data["parameters"]["limit"] == 10
