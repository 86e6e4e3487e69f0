"""The tables of docs/benchmarks.md: number formatting, the per-task results split into narrow
tables, and the issue's targets checked against a compare.py result. Nothing is measured here."""

from __future__ import annotations

import math

from _common import median

OURS = ("awrs", "awrs-smc", "mask")
NOT_PEERS = ("unconstrained", *OURS, "genlm-control")


def missing(value) -> bool:
    """No number: None or NaN (a method that did not run, or nothing to measure)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value, digits: int = 3) -> str:
    """A cell: three significant digits below 1000, a whole number above, a dash for no number."""
    if missing(value):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """A Markdown table of ``rows``: ``columns`` are (key, title) pairs."""
    head = "| " + " | ".join(title for _, title in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(fmt(r.get(key)) for key, _ in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def section(title: str, *parts: str) -> str:
    """A page section: its heading, then each part (paragraphs, tables) as its own block."""
    return "\n".join([f"## {title}", "", *(line for part in parts for line in (part, ""))])


def rows_have(res: dict, key: str) -> bool:
    """Whether the run recorded ``key`` for any decoded row (older runs lack newer fields). A
    result whose rows were not kept lists the fields they had under ``row_keys``."""
    if res.get("rows"):
        return any(key in r for r in res["rows"])
    return key in res.get("row_keys", ())


# --- per-task results, three narrow tables each ---------------------------------------------

OUTCOMES = [
    ("mode", "mode"),
    ("method", "method"),
    ("coverage", "coverage"),
    ("validity", "validity"),
    ("finished", "finished"),
    ("compliance", "compliance"),
]
COST = [
    ("mode", "mode"),
    ("method", "method"),
    ("checks_per_token", "checks/token"),
    ("compile_p50_ms", "compile p50 ms"),
    ("compile_p95_ms", "compile p95 ms"),
    ("compile_mem_mib", "mem MiB"),
]


def time_columns(res: dict) -> list[tuple[str, str]]:
    """Time per token: the charged time, the other measures the run recorded, and the overhead."""
    return (
        [("mode", "mode"), ("method", "method"), ("ms_per_token", "ms/token")]
        + ([("ms_per_token_pooled", "pooled ms/token")] if rows_have(res, "model_s") else [])
        + ([("ms_per_token_measured", "measured ms/token")] if rows_have(res, "decode_measured_s") else [])
        + [("vs_unconstrained", "vs unc."), ("overhead_ms_per_token", "overhead ms/token")]
    )


def task_section(res: dict, task: str) -> list[str]:
    """One task's results: what each method produced, its time per token, and its checks and
    compile cost (methods that accepted no item appear in the first table only)."""
    rows = [r for r in res["summary"] if r["task"] == task]
    ran = [r for r in rows if r["coverage"] > 0]
    costed = [r for r in ran if any(not missing(r.get(key)) for key, _ in COST[2:])]
    lines = [f"### {task}", "", "Outputs:", "", table(rows, OUTCOMES), "", "Time per token:", ""]
    lines += [table(ran, time_columns(res)), ""]
    if costed:
        lines += ["Checks and compile (checks are awrs's own count; compile is timed in one mode):", ""]
        lines += [table(costed, COST), ""]
    return lines


# --- the targets ---------------------------------------------------------------------


def targets(summary: list[dict], rows: list[dict] | None = None) -> list[dict]:
    """The issue's targets, each checked per task and mode from the summary (awrs against
    masking on the items masking ran, when the rows are given)."""
    out = []
    for task, mode in sorted({(r["task"], r["mode"]) for r in summary}):
        here = {r["method"]: r for r in summary if (r["task"], r["mode"]) == (task, mode)}
        if "awrs" in here:
            out += _cell_targets(task, mode, here, rows, first_mode=mode == summary[0]["mode"])
    return out


def _cell_targets(task: str, mode: str, here: dict[str, dict], rows: list[dict] | None, first_mode: bool) -> list[dict]:
    awrs = here["awrs"]
    peers = {m: r for m, r in here.items() if m not in NOT_PEERS and r["coverage"] > 0}

    def on(method: str, key: str, seconds: str = "decode_s") -> float:
        """awrs's ``key`` on the items ``method`` ran (the whole task without rows)."""
        if not rows:
            return awrs[key]
        return _ms_per_token_on(rows, task, mode, "awrs", _items(rows, task, mode, method), seconds)

    out = []
    best = min(peers.items(), key=lambda kv: kv[1]["ms_per_token"], default=None)
    if best:
        what = "ms/token ≤ best peer's (same items)"
        out.append(_check(task, mode, what, on(best[0], "ms_per_token"), best[1]["ms_per_token"], best[0]))
    fastest = min(peers.items(), key=lambda kv: _num(kv[1].get("overhead_ms_per_token")), default=None)
    if fastest:
        what = "overhead ms/token ≤ best peer's (same items)"
        same = on(fastest[0], "overhead_ms_per_token", "overhead_s")
        out.append(_check(task, mode, what, same, fastest[1]["overhead_ms_per_token"], fastest[0]))
    out.append(_check(task, mode, "ms/token ≤ 1.10× unconstrained", awrs["vs_unconstrained"], 1.10, "unconstrained"))
    if first_mode:
        for name, r in sorted(peers.items()):
            same = _compile_p50_on(rows, task, mode, "awrs", _items(rows, task, mode, name)) if rows else awrs["compile_p50_ms"]
            out.append(_check(task, mode, "compile p50 ≤ peer's (same items)", same, r["compile_p50_ms"], name))
    out.append(_check(task, mode, "compliance = 100% (valid among finished)", awrs["compliance"], 1.0, "", higher=True))
    mask = here.get("mask")
    if mask:
        ratio = mask["checks_per_token"] / awrs["checks_per_token"] if awrs["checks_per_token"] else float("inf")
        out.append(_check(task, mode, "≥ 50× fewer checks than masking", ratio, 50.0, "mask", higher=True))
        what = "faster per token than masking (same items)"
        out.append(_check(task, mode, what, on("mask", "ms_per_token"), mask["ms_per_token"], "mask"))
    return out


def _done(r: dict, task: str, mode: str | None, method: str) -> bool:
    """A row of ``method`` on ``task`` in ``mode`` that ran (compile-only rows have no mode,
    and ran when they have a compile time)."""
    return (r["task"], r.get("mode"), r["method"]) == (task, mode, method) and r.get("supported", "compile_s" in r)


def _items(rows: list[dict], task: str, mode: str | None, method: str) -> set[str]:
    return {r["id"] for r in rows if _done(r, task, mode, method)}


def _rows_on(rows: list[dict], task: str, mode: str | None, method: str, items: set[str]) -> list[dict]:
    return [r for r in rows if _done(r, task, mode, method) and r["id"] in items]


def _ms_per_token_on(rows: list[dict], task: str, mode: str, method: str, items: set[str], seconds: str = "decode_s") -> float:
    """``method``'s milliseconds per token (of ``seconds``: decoding, or the overhead) on ``items``."""
    done = _rows_on(rows, task, mode, method, items)
    steps = sum(r["steps"] for r in done)
    return 1000 * sum(r[seconds] for r in done) / steps if steps else float("nan")


def _compile_p50_on(rows: list[dict], task: str, mode: str | None, method: str, items: set[str]) -> float:
    return median([1000 * r["compile_s"] for r in _rows_on(rows, task, mode, method, items) if r.get("compile_s") is not None])


def awrs_compile_p50_on_items_of(rows: list[dict], task: str, method: str) -> float:
    """awrs's median compile time in ms on the items ``method`` compiled (a compile-only run)."""
    return _compile_p50_on(rows, task, None, "awrs", _items(rows, task, None, method))


def _num(x) -> float:
    return float("inf") if missing(x) else x


def _check(task, mode, what, value, bound, against, higher=False) -> dict:
    met = "n/a (nothing to measure)" if missing(value) else "yes" if (value >= bound if higher else value <= bound) else "**no**"
    return {"task": task, "mode": mode, "target": what, "against": against, "awrs": value, "bound": bound, "met": met}


TARGET_COLUMNS = [
    ("task", "task"),
    ("mode", "mode"),
    ("target", "target"),
    ("against", "against"),
    ("awrs", "awrs"),
    ("bound", "bound"),
    ("met", "met"),
]


def refusals(res: dict) -> list[dict]:
    """The first reason each method gave for refusing an item, per task (from the rows, or as
    recorded when the rows were not kept)."""
    if not res.get("rows"):
        return res.get("refusals", [])
    first: dict[tuple[str, str], str] = {}
    for r in res["rows"]:
        if not r.get("supported") and r.get("reason"):
            first.setdefault((r["method"], r["task"]), " ".join(r["reason"].split()))
    return [{"method": m, "task": t, "reason": why} for (m, t), why in sorted(first.items())]


def provenance_line(data: dict) -> str:
    """When and at which commit a result file was made (dirty when the tree had changes)."""
    commit = data.get("commit") or {}
    return f"Run {data['date']}, commit `{commit.get('sha', '')[:10]}`" + (
        " (uncommitted changes)" if commit.get("dirty") else ""
    )
