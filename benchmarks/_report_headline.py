"""The summary table that opens docs/benchmarks.md: awrs against unconstrained decoding, token
masking and each peer library, as ratios with their sample size and spread.

A ratio is the other method's number over awrs's, so above 1 means awrs is faster, compiles
faster or checks less. It is taken per unit and summarised by the median and the range over
the units: a unit is an item both methods decoded (from the result's rows), or a task-and-mode
cell when the rows were not kept (then each side's number is its mean over its own items).
Nothing is measured here; every number comes from the result file."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from _report_tables import NOT_PEERS, missing, table


@dataclass(frozen=True)
class Comparison:
    """awrs's method ``ours`` set against the method ``theirs`` of the same run."""

    theirs: str
    label: str
    ours: str = "awrs"
    #: Measures that mean nothing here: unconstrained decoding compiles and checks nothing, and
    #: masking compiles awrs's own checker.
    skip: tuple[str, ...] = ()


#: The measures compared, as (unit key, column title). Compile is timed in the first mode only.
MEASURES = (
    ("ms", "time per token"),
    ("own", "own time per token"),
    ("compile", "compile p50"),
    ("checks", "checks per token"),
)


def comparisons(summary: list[dict]) -> list[Comparison]:
    """Unconstrained decoding, token masking, each peer that accepted some item (in the run's
    order), and genlm-control against awrs's own SMC (both run particles with AWRS)."""
    ran = [r["method"] for r in summary if r["coverage"] > 0]
    out = [
        Comparison("unconstrained", "unconstrained decoding", skip=("compile", "checks")),
        Comparison("mask", "token masking (awrs's checker)", skip=("compile",)),
    ]
    out += [Comparison(m, m) for m in dict.fromkeys(ran) if m not in NOT_PEERS]
    if "genlm-control" in ran:
        out.append(Comparison("genlm-control", "genlm-control (vs awrs-smc)", ours="awrs-smc"))
    return [c for c in out if c.theirs in ran and c.ours in ran]


def units(res: dict, c: Comparison) -> list[tuple[dict, dict]]:
    """(ours, theirs) pairs of measures, one per unit both methods ran: an item when the rows
    were kept, else a task-and-mode cell."""
    if res.get("rows"):
        return _item_units(res["rows"], c, first_mode=res["summary"][0]["mode"])
    return _cell_units(res["summary"], c)


def _cell_units(summary: list[dict], c: Comparison) -> list[tuple[dict, dict]]:
    by_key = {(r["task"], r["mode"], r["method"]): r for r in summary if r["coverage"] > 0}
    cells = sorted({(t, m) for t, m, _ in by_key})
    return [
        (_from_summary(by_key[(t, m, c.ours)]), _from_summary(by_key[(t, m, c.theirs)]))
        for t, m in cells
        if (t, m, c.ours) in by_key and (t, m, c.theirs) in by_key
    ]


def _from_summary(r: dict) -> dict:
    """A cell's measures; the output counts need ``items`` (how many items the method ran)."""
    decoded = round(r["coverage"] * r["items"]) if r.get("items") else None
    return {
        "ms": r.get("ms_per_token"),
        "own": r.get("overhead_ms_per_token"),
        "compile": r.get("compile_p50_ms"),
        "checks": r.get("checks_per_token"),
        "valid": None if decoded is None or missing(r.get("validity")) else round(r["validity"] * decoded),
        "finished": None if decoded is None or missing(r.get("finished")) else round(r["finished"] * decoded),
    }


def _item_units(rows: list[dict], c: Comparison, first_mode: str) -> list[tuple[dict, dict]]:
    done = {(r["task"], r["mode"], r["id"], r["method"]): r for r in rows if r.get("supported") and r.get("steps")}
    keys = sorted({k[:3] for k in done})
    return [
        (_from_row(done[(*k, c.ours)], k[1] == first_mode), _from_row(done[(*k, c.theirs)], k[1] == first_mode))
        for k in keys
        if (*k, c.ours) in done and (*k, c.theirs) in done
    ]


def _from_row(r: dict, compiled_here: bool) -> dict:
    steps = r["steps"]
    return {
        "ms": 1000 * r["decode_s"] / steps,
        "own": 1000 * r["overhead_s"] / steps if "overhead_s" in r else None,
        "compile": 1000 * r["compile_s"] if compiled_here and r.get("compile_s") is not None else None,
        "checks": r["checks"] / r["checked_tokens"] if r.get("checked_tokens") else None,
        "valid": int(bool(r.get("valid")) and bool(r.get("finished"))),
        "finished": int(bool(r.get("finished"))),
    }


def ratio_cell(pairs: list[tuple[dict, dict]], key: str) -> str:
    """``<median>x (<min>-<max>x, n=<k>)`` of theirs over ours, over the units where both have a positive
    number (unconstrained decoding's compile time is zero: there is nothing to compile)."""
    ratios = [t[key] / o[key] for o, t in pairs if not missing(o[key]) and not missing(t[key]) and o[key] > 0 and t[key] > 0]
    if not ratios:
        return "–"
    mid = statistics.median(ratios)
    if len(ratios) == 1:
        return f"{_x(mid)} (n=1)"
    return f"{_x(mid)} ({_x(min(ratios), times=False)}–{_x(max(ratios))}, n={len(ratios)})"


def _x(value: float, times: bool = True) -> str:
    text = f"{value:.2f}" if value < 10 else f"{value:,.0f}"
    return text + ("×" if times else "")


def compliance_cell(pairs: list[tuple[dict, dict]]) -> str:
    """Valid among finished outputs, awrs's and theirs, pooled over the units: ``a/b · c/d``."""
    counts = []
    for side in (0, 1):
        valid = [p[side]["valid"] for p in pairs]
        finished = [p[side]["finished"] for p in pairs]
        if any(v is None for v in valid + finished):
            return "–"
        counts.append(f"{sum(valid)}/{sum(finished)}")
    return " · ".join(counts)


def headline_rows(res: dict) -> list[dict]:
    """One row per comparison: each measure's ratio and the compliance of both sides."""
    out = []
    for c in comparisons(res["summary"]):
        pairs = units(res, c)
        row = {"against": c.label, "units": len(pairs), "compliance": compliance_cell(pairs)}
        row.update({key: "–" if key in c.skip else ratio_cell(pairs, key) for key, _ in MEASURES})
        out.append(row)
    return out


def headline_table(res: dict) -> str:
    unit = "items" if res.get("rows") else "cells"
    return table(
        headline_rows(res),
        [("against", "awrs against"), ("units", unit)]
        + [(key, f"{title}, theirs ÷ awrs") for key, title in MEASURES]
        + [("compliance", "valid of finished: awrs · theirs")],
    )


def noise_note(res: dict, repeats: int) -> str:
    """What the ranges are over, and what is known of the noise across repeats."""
    if not res.get("rows"):
        over = (
            "The ranges are over task × mode cells, each side's number its mean over the items it ran"
            " (the per-item rows of this run were not kept), so a method that ran on fewer items (masking,"
            " genlm-control) is set against awrs on all of them; *The targets, checked* below compares on the"
            " same items."
        )
    else:
        over = "The ranges are over the items both methods decoded."
    spread = repeat_spread(res.get("rows") or [])
    if spread:
        noise = (
            f" Noise across repeats: awrs's whole-run decoding time varied between its fastest and slowest of"
            f" {repeats} repeats by a median {spread[0]:.0%} over items (at most {spread[1]:.0%}); the ratios use each"
            " step's least time over the repeats."
        )
    elif repeats > 1:
        noise = (
            f" The run kept each decoding step's least time over its {repeats} repeats, not the repeats themselves,"
            " so the noise across repeats is not in the result file; the spread shown is over the units."
        )
    else:
        noise = " Each item was decoded once, so the spread shown is over the units, not over repeats."
    return over + noise


def repeat_spread(rows: list[dict]) -> tuple[float, float] | None:
    """Median and largest (slowest - fastest) / fastest of awrs's whole-run times over items,
    from the rows that recorded each repeat (``repeat_decode_s``); None when none did."""
    spreads = [
        (max(r["repeat_decode_s"]) - min(r["repeat_decode_s"])) / min(r["repeat_decode_s"])
        for r in rows
        if r.get("method") == "awrs" and len(r.get("repeat_decode_s") or ()) > 1 and min(r["repeat_decode_s"]) > 0
    ]
    return (statistics.median(spreads), max(spreads)) if spreads else None
