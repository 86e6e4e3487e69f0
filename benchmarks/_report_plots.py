"""The plots of docs/benchmarks.md (matplotlib, the `bench` extra), written as PNGs. Every value
comes from a compare.py result's summary; nothing is measured here."""

from __future__ import annotations

from pathlib import Path

from _report_tables import OURS, missing

#: Not on the per-token plots of the summary figure: awrs-smc's step is five particles' work,
#: and genlm-control's time is its whole run (no split into the model and its own time).
NOT_SINGLE_ROW = ("awrs-smc", "genlm-control")
DPI = 90


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _methods(summary: list[dict]) -> list[str]:
    """The methods that accepted some item, in the run's order."""
    return list(dict.fromkeys(r["method"] for r in summary if r["coverage"] > 0))


def _value(rows: list[dict], cell: tuple[str, ...], method: str, key: str) -> float:
    """``method``'s ``key`` in a cell, (task, mode) or (task,); 0 when it has none."""
    r = next((r for r in rows if r["method"] == method and (r["task"], r.get("mode"))[: len(cell)] == cell), None)
    return r[key] if r and r.get("coverage", 1) > 0 and not missing(r.get(key)) else 0.0


def _bars(ax, summary, key, methods, cells, colours, log: bool, errors: str | None = None) -> None:
    """Grouped bars: one group per cell, one bar per method (a missing value draws nothing);
    with ``errors``, a whisker from each bar up to that key's value."""
    width = 0.8 / max(len(methods), 1)
    for i, m in enumerate(methods):
        xs = [x + i * width for x in range(len(cells))]
        ys = [_value(summary, cell, m, key) for cell in cells]
        ax.bar(xs, ys, width, label=m, color=colours[m])
        if errors:
            tops = [max(_value(summary, cell, m, errors) - y, 0.0) if y else 0.0 for cell, y in zip(cells, ys)]
            ax.errorbar(xs, ys, yerr=[[0.0] * len(ys), tops], fmt="none", ecolor="black", elinewidth=0.8, capsize=2)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(cells))], ["\n".join(c) for c in cells])
    if log:
        ax.set_yscale("log")


def summary_figure(data: dict, compile_data: dict | None, out: Path, colours: dict) -> str:
    """Two panels: each method's own time per token around the model (where methods differ: the
    forward pass is the same for all), and its compile time, median with a whisker to p95 (from
    the compile-only run when there is one: more items)."""
    plt = _pyplot()
    summary = data["results"]["summary"]
    methods = [m for m in _methods(summary) if m not in NOT_SINGLE_ROW]
    cells = sorted({(r["task"], r["mode"]) for r in summary})
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [3, 2]})
    _bars(left, summary, "overhead_ms_per_token", methods, cells, colours, log=True)
    left.set_title("Own time per token, around the model's forward pass (lower is better)")
    left.set_ylabel("ms / token (log)")
    if compile_data:
        timed, source = compile_data["results"]["summary"], "compile-only run"
    else:
        first = data["parameters"]["modes"][0]
        timed, source = [r for r in summary if r["mode"] == first], f"{first} mode"
    compilers = [m for m in methods if m not in ("unconstrained", "mask")]
    tasks = sorted({(r["task"],) for r in timed})
    _bars(right, timed, "compile_p50_ms", compilers, tasks, colours, log=True, errors="compile_p95_ms")
    right.set_title(f"Compile time, median and p95 ({source})")
    right.set_ylabel("ms (log)")
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(out / "summary.png", dpi=DPI)
    plt.close(fig)
    return "summary.png"


def detail_figures(data: dict, out: Path, colours: dict) -> list[str]:
    """Time per token, validity, and checks per token of AWRS against masking, by task and mode."""
    plt = _pyplot()
    summary = data["results"]["summary"]
    cells = sorted({(r["task"], r["mode"]) for r in summary})
    names = []
    for key, title, ylabel, filename, log, only in (
        ("ms_per_token", "Time per output token (lower is better; log scale)", "ms / token", "time_per_token.png", True, None),
        ("validity", "Validity of the outputs (share valid and finished)", "share", "validity.png", False, None),
        (
            "checks_per_token",
            "Constraint checks per token: AWRS against full-vocabulary masking (log)",
            "checks / token",
            "checks_per_token.png",
            True,
            OURS,
        ),
    ):
        fig, ax = plt.subplots(figsize=(11, 4.2))
        methods = [m for m in _methods(summary) if only is None or m in only]
        _bars(ax, summary, key, methods, cells, colours, log)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=8, ncol=3)
        fig.tight_layout()
        fig.savefig(out / filename, dpi=DPI)
        plt.close(fig)
        names.append(filename)
    return names


def plots(data: dict, out: Path, compile_data: dict | None = None) -> tuple[str, list[str]]:
    """Write the summary figure and the detail plots under ``out``; their file names."""
    plt = _pyplot()
    out.mkdir(parents=True, exist_ok=True)
    methods = _methods(data["results"]["summary"])
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(methods)}
    return summary_figure(data, compile_data, out, colours), detail_figures(data, out, colours)
