"""What every benchmark shares: run metadata (versions, machine, commit), a table printer and
the JSON writer. Each benchmark script measures one thing and imports only this helper."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Results go under the directory the benchmark is run from (the checkout's root for the
#: Makefile's targets), never into the scripts' own folder or the installed package.
RESULTS = Path.cwd() / "benchmarks" / "results"
SHARED = ROOT.parent / "shared"

_PACKAGES = ("awrs", "torch", "transformers", "numpy", "numba", "lark", "regex", "llama-cpp-python")


def run_metadata(parameters: dict[str, Any]) -> dict[str, Any]:
    """Parameters, package versions, machine and commit for a result file."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "parameters": parameters,
        "versions": versions,
        "machine": _machine(),
        "commit": _commit(),
    }


def _machine() -> dict[str, Any]:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def _commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {"sha": git("rev-parse", "HEAD") or None, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def least_by_step(series: Sequence[Sequence[float]]) -> list[float]:
    """Position by position, the least value of the series that reach it (the forward passes
    of one item's single-row methods: step t is the same computation in all of them)."""
    longest = max((len(f) for f in series), default=0)
    return [min(f[t] for f in series if len(f) > t) for t in range(longest)]


#: Rows whose forward passes are not one row's (SMC's five) or not timed by awrs's clock.
_NOT_POOLED = ("awrs-smc", "genlm-control")


def vs_unconstrained(rows: Sequence[dict[str, Any]], task: str, mode: str, method: str) -> float:
    """``method``'s decoding time over what unconstrained decoding takes for the same tokens:
    on each item, the model time of the method's own forward passes plus unconstrained
    decoding's own time around the model per step. The model time is what the row was charged
    (``model_s``: compare.py charges every single-row method of a cell the same time per
    step) or, for rows not charged so (SMC's batched steps), the least time any
    single-row method took for each of its steps. Neither the mix of items nor the output
    lengths move the ratio (an unconstrained run that stops at once has one forward pass for
    two steps: dividing whole runs compared a 65-token output with it). Rows without per-step
    times fall back to unconstrained's time per token on the item."""
    cell = [r for r in rows if r["task"] == task and r["mode"] == mode and r.get("supported")]
    unc = {r["id"]: r for r in cell if r["method"] == "unconstrained" and r.get("steps")}
    num = den = 0.0
    for r in cell:
        base = unc.get(r["id"])
        if r["method"] != method or base is None:
            continue
        if "model_s" in r and "overhead_s" in base:  # charged the cell's model time (compare.py)
            den += r["model_s"] + r["steps"] * base["overhead_s"] / base["steps"]
        elif "forward_s" in r and "forward_s" in base:
            pool = [x["forward_s"] for x in cell if x["id"] == r["id"] and x["method"] not in _NOT_POOLED and "forward_s" in x]
            pooled = least_by_step(pool)
            n = len(r["forward_s"])  # SMC may run past every single-row method: their mean beyond
            forward = sum(pooled[:n]) + max(n - len(pooled), 0) * (sum(pooled) / len(pooled) if pooled else 0.0)
            den += forward + r["steps"] * base["overhead_s"] / base["steps"]
        else:
            den += r["steps"] * base["decode_s"] / base["steps"]
        num += r["decode_s"]
    return num / den if den else float("nan")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """A Markdown table, so the output can be pasted into notes and docs as is."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    body = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(b[i]) for b in body)) if body else len(c) for i, c in enumerate(columns)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for b in body:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(b, widths)) + " |")


def write_json(name: str, metadata: dict[str, Any], results: Any, out: str | None = None) -> Path:
    """Write ``{**metadata, "results": results}`` to ``out`` or ./benchmarks/results/<name>.json
    (under the current directory)."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, **metadata, "results": results}, indent=2, default=str))
    return path
