"""Turn a compare.py result file into docs/benchmarks.md and its plots.

    python benchmarks/report.py [benchmarks/results/compare.json] [--docs docs]

The page holds the run's versions, machine and date, the summary table, the labelled-instance
conformance, the distribution fidelity, the peers that did not run (with the reason), the
issue's targets checked against the numbers, and four plots (matplotlib PNGs under
docs/benchmarks/): time per token, compile time distributions, validity, and checks per token
of AWRS against masking. Nothing is measured here; every number comes from the file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS, ROOT, median, vs_unconstrained

OURS = ("awrs", "awrs-smc", "mask")
NOT_PEERS = ("unconstrained", *OURS, "genlm-control")


def missing(value) -> bool:
    """No number: None or NaN (a method that did not run, or nothing to measure)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt(value, digits: int = 3) -> str:
    if missing(value):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    head = "| " + " | ".join(title for _, title in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(fmt(r.get(key)) for key, _ in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def targets(summary: list[dict], rows: list[dict] | None = None) -> list[dict]:
    """The issue's targets, each checked per task and mode from the summary (awrs against
    masking on the items masking ran, when the rows are given)."""
    out = []
    cells = sorted({(r["task"], r["mode"]) for r in summary})
    for task, mode in cells:
        here = {r["method"]: r for r in summary if (r["task"], r["mode"]) == (task, mode)}
        awrs = here.get("awrs")
        if not awrs:
            continue
        peers = {m: r for m, r in here.items() if m not in NOT_PEERS and r["coverage"] > 0}
        best = min(peers.items(), key=lambda kv: kv[1]["ms_per_token"], default=(None, None))
        if best[0]:
            same = _ms_per_token_on(rows, task, mode, "awrs", _items(rows, task, mode, best[0])) if rows else awrs["ms_per_token"]
            out.append(_check(task, mode, "ms/token ≤ best peer's (same items)", same, best[1]["ms_per_token"], best[0]))
        fastest = min(peers.items(), key=lambda kv: _num(kv[1].get("overhead_ms_per_token")), default=(None, None))
        if fastest[0]:
            same = (
                _ms_per_token_on(rows, task, mode, "awrs", _items(rows, task, mode, fastest[0]), "overhead_s")
                if rows
                else awrs["overhead_ms_per_token"]
            )
            out.append(
                _check(
                    task,
                    mode,
                    "overhead ms/token ≤ best peer's (same items)",
                    same,
                    fastest[1]["overhead_ms_per_token"],
                    fastest[0],
                )
            )
        out.append(_check(task, mode, "ms/token ≤ 1.10× unconstrained", awrs["vs_unconstrained"], 1.10, "unconstrained"))
        if mode == summary[0]["mode"]:
            for name, r in sorted(peers.items()):
                same = (
                    _compile_p50_on(rows, task, mode, "awrs", _items(rows, task, mode, name)) if rows else awrs["compile_p50_ms"]
                )
                out.append(_check(task, mode, "compile p50 ≤ peer's (same items)", same, r["compile_p50_ms"], name))
        out.append(_check(task, mode, "compliance = 100% (valid among finished)", awrs["compliance"], 1.0, "", higher=True))
        mask = here.get("mask")
        if mask:
            ratio = mask["checks_per_token"] / awrs["checks_per_token"] if awrs["checks_per_token"] else float("inf")
            out.append(_check(task, mode, "≥ 50× fewer checks than masking", ratio, 50.0, "mask", higher=True))
            same = _ms_per_token_on(rows, task, mode, "awrs", _items(rows, task, mode, "mask")) if rows else awrs["ms_per_token"]
            out.append(_check(task, mode, "faster per token than masking (same items)", same, mask["ms_per_token"], "mask"))
    return out


def _done(r: dict, task: str, mode: str | None, method: str) -> bool:
    """A row of ``method`` on ``task`` in ``mode`` that ran (compile-only rows have no mode,
    and ran when they have a compile time)."""
    return (r["task"], r.get("mode"), r["method"]) == (task, mode, method) and r.get("supported", "compile_s" in r)


def _items(rows: list[dict], task: str, mode: str | None, method: str) -> set[str]:
    return {r["id"] for r in rows if _done(r, task, mode, method)}


def _rows_on(rows: list[dict], task: str, mode: str | None, method: str, items: set[str]) -> list[dict]:
    return [r for r in rows if _done(r, task, mode, method) and r["id"] in items]


def rows_have(res: dict, key: str) -> bool:
    """Whether the run recorded ``key`` for any decoded row (older runs lack newer fields)."""
    return any(key in r for r in res.get("rows", ()))


def _ms_per_token_on(rows: list[dict], task: str, mode: str, method: str, items: set[str], seconds: str = "decode_s") -> float:
    """``method``'s milliseconds per token (of ``seconds``: decoding, or the overhead) on ``items``."""
    done = _rows_on(rows, task, mode, method, items)
    steps = sum(r["steps"] for r in done)
    return 1000 * sum(r[seconds] for r in done) / steps if steps else float("nan")


def _compile_p50_on(rows: list[dict], task: str, mode: str | None, method: str, items: set[str]) -> float:
    return median([1000 * r["compile_s"] for r in _rows_on(rows, task, mode, method, items) if r.get("compile_s") is not None])


def _num(x) -> float:
    return float("inf") if missing(x) else x


def _check(task, mode, what, value, bound, against, higher=False) -> dict:
    met = "n/a (nothing to measure)" if missing(value) else "yes" if (value >= bound if higher else value <= bound) else "**no**"
    return {"task": task, "mode": mode, "target": what, "against": against, "awrs": value, "bound": bound, "met": met}


def plots(data: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    summary, rows = data["results"]["summary"], data["results"]["rows"]
    methods = []
    for r in summary:
        if r["method"] not in methods and r["coverage"] > 0:
            methods.append(r["method"])
    cells = sorted({(r["task"], r["mode"]) for r in summary})
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(methods)}
    names = []

    def grouped(key: str, title: str, ylabel: str, filename: str, log: bool, only=None) -> None:
        chosen = [m for m in methods if only is None or m in only]
        fig, ax = plt.subplots(figsize=(11, 4.2))
        width = 0.8 / max(len(chosen), 1)
        for i, m in enumerate(chosen):
            ys = []
            for cell in cells:
                r = next((r for r in summary if (r["task"], r["mode"], r["method"]) == (*cell, m)), None)
                ys.append(r[key] if r and r["coverage"] > 0 and not missing(r[key]) else 0)
            ax.bar([x + i * width for x in range(len(cells))], ys, width, label=m, color=colours[m])
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(cells))], [f"{t}\n{m}" for t, m in cells])
        if log:
            ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=8, ncol=3)
        fig.tight_layout()
        fig.savefig(out / filename, dpi=90)
        plt.close(fig)
        names.append(filename)

    grouped("ms_per_token", "Time per output token (lower is better; log scale)", "ms / token", "time_per_token.png", True)
    grouped("validity", "Validity of the outputs (share valid and finished)", "share", "validity.png", False)
    grouped(
        "checks_per_token",
        "Constraint checks per token: AWRS against full-vocabulary masking (log)",
        "checks / token",
        "checks_per_token.png",
        True,
        only=OURS,
    )

    tasks = sorted({r["task"] for r in rows})
    first_mode = data["parameters"]["modes"][0]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        series, labels = [], []
        for m in methods:
            ms = [
                1000 * r["compile_s"]
                for r in rows
                if r["task"] == task
                and r["method"] == m
                and r["mode"] == first_mode
                and r.get("supported")
                and r.get("compile_s")
            ]
            if ms and m not in ("unconstrained", "awrs-smc", "mask"):
                series.append(ms)
                labels.append(m)
        if series:
            ax.boxplot(series, tick_labels=labels)
            ax.set_yscale("log")
            ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.set_title(f"compile time, {task}")
        ax.set_ylabel("ms (log)")
    fig.tight_layout()
    fig.savefig(out / "compile_times.png", dpi=90)
    plt.close(fig)
    names.append("compile_times.png")
    return names


def per_item_ratios(res: dict) -> None:
    """*vs unc.* from the rows, item by item (``_common.vs_unconstrained``; runs before it
    divided whole tasks, so a method that decoded long on costly items and short on cheap ones
    looked slower than unconstrained decoding of the same tokens)."""
    rows = res.get("rows")
    if rows:
        for s in res["summary"]:
            s["vs_unconstrained"] = vs_unconstrained(rows, s["task"], s["mode"], s["method"])


_POOLED = (
    " **ms/token pools the forward passes**: step t's forward pass is the same computation in every"
    " single-sequence method of an item (the same prompt and a cache of the prompt plus t tokens; the token fed"
    " does not change it), so each method's ms/token is its own time around the model (its mask or walk,"
    " and the sampling, by one clock for all; each step's least over the repeats) plus, for each of its"
    " steps, the least time any of them took for that forward pass. A method then ranks by its own work"
    " and the length of its output, not by the slow spells of the shared machine its run met (with the"
    " same tokens, the measured per-step least still differed by up to 10% between methods);"
    " *measured ms/token* is the time as measured. awrs-smc (five rows) and genlm-control are not pooled."
)

_MATCHED = (
    " **ms/token is at matched model time**: the forward pass is the same computation in every"
    " single-sequence method (the same model, prompt and KV cache; the token fed does not change it), so every"
    " such method of a task and mode is charged the same model time per step, the mean over the items of"
    " each item's median pooled forward pass (the least time any of them took at each step position), plus its own"
    " time around the model (its mask or walk, and the sampling, by one clock for all; each step's least over"
    " the repeats). Methods then differ in ms/token exactly by what they do per token; where each sampled output"
    " happens to stop does not move the comparison. *pooled ms/token* charges each method the pooled forward"
    " passes of its own step positions instead, the measure of earlier runs: it also moves with output length,"
    " because a run of k tokens and an end has k timed forward passes for k + 1 steps (the first step reads the"
    " untimed prefill's logits), positions that more runs reach have their least taken over more samples, a long output on a slow"
    " item weighs more, and a slow spell of the machine lands on whichever positions few runs reach;"
    " *measured ms/token* is the time as measured. awrs-smc (five rows) and genlm-control are not charged so:"
    " theirs is as measured."
)


def render(data: dict, images: list[str], image_dir: str) -> str:
    p = data["parameters"]
    res = data["results"]
    machine = data["machine"]
    peers = ", ".join(f"{k} {v}" for k, v in sorted(p.get("peers", {}).items()))
    lines = [
        "# Benchmarks: awrs against token masking and the peer libraries",
        "",
        "Generated by `benchmarks/report.py` from the result of `benchmarks/compare.py` (`make bench-compare`);"
        " do not edit by hand. Every method decodes with the same model, prompts, KV-cached forward passes and"
        " sampler: a peer supplies only its mask of allowed tokens each step, so the differences per token are"
        " the constraint machinery and nothing else.",
        "",
        f"- **Date** {data['date']}; commit `{(data.get('commit') or {}).get('sha', '')[:10]}`"
        f"{' (uncommitted changes)' if (data.get('commit') or {}).get('dirty') else ''}",
        f"- **Machine** {machine.get('processor')}, {machine.get('cpu_count')} CPUs, torch threads {machine.get('torch_threads')},"
        f" {machine.get('gpu', 'no GPU')}; {machine.get('platform')}; Python {machine.get('python')}",
        f"- **Model** {p.get('model') or 'the default model (SmolLM2-135M-Instruct)'}",
        "- **Versions** "
        + ", ".join(f"{k} {v}" for k, v in data["versions"].items() if v)
        + (f"; peers: {peers}" if peers else ""),
        f"- **Tasks** JSON: first {p['json']} JSONSchemaBench `val` schemas; regex: first {p['regex']} regular patterns of the"
        f" AWRS pattern set; pattern: its first {p.get('patterns', 0)} non-regular patterns (back-references, look-arounds,"
        " recursion: awrs and genlm-control, whose byte potential uses the regex module's partial matching as in the"
        f" paper; the DFA peers are tried and their refusals listed); SQL: first {p['sql']} Spider dev questions (`sql.lark` restricted to the database;"
        f" peers get it without look-arounds). Max {p['max_new_tokens']} new tokens, seed {p['seed']}, modes {', '.join(p['modes'])}."
        f" Full-vocabulary masking with awrs's checker on the first {p['mask_limit']} items per task (all regex items);"
        f" genlm-control (its own SMC with AWRS, 5 particles) on the first {p['genlm_limit']}, sampled only."
        + (
            f" {', '.join(p.get('timed_once', ['mask', 'genlm-control']))} ran once per item; every other method decoded each item {p['repeats']} times, interleaved (the same seed decodes the same"
            " tokens each time), keeping "
            + (
                "for each decoding step its least time over the repeats (step t is the same"
                " computation every time; the machine's slow spells are shorter than a run)"
                if rows_have(res, "decode_total_s")
                else "the least time"
            )
            + "; overhead is the least over the repeats."
            if p.get("repeats", 1) > 1
            else ""
        )
        + (_MATCHED if rows_have(res, "model_s") else _POOLED if rows_have(res, "decode_measured_s") else ""),
        "",
        "Columns: *coverage* = share of items the method accepts; *validity* = share of its outputs that finished and"
        " validate (python-jsonschema / the pattern / the SQL grammar with the schema); *finished* = share that ended"
        " within the token budget (the rest are flagged, not returned as valid); *compliance* = validity among the"
        " finished ones; *compile* is timed cold in the"
        " first mode"
        + (", after each method's untimed first call (see *First calls*)" if res.get("first_calls") else "")
        + "; *ms/token* is decoding time per output token (forward pass + constraint), for awrs-smc per"
        " batched step of all 5 particles; *vs unc.* divides by unconstrained decoding of as many tokens in the same run,"
        " item by item (the model time charged for the method's own forward passes plus unconstrained decoding's time"
        " around the model per step, so neither the mix of items nor the output lengths move it);"
        " *overhead ms/token* is the part of it that is not the model's forward pass (masks or checks, and sampling): the"
        " model's forward pass is the same for every method, so this is where methods differ;"
        " *checks/token* counts constraint checks (awrs's own); *mem* is the peak Python memory of compiling"
        " (tracemalloc; native memory of Rust/C++ peers is not seen).",
        "",
    ]
    for task in sorted({r["task"] for r in res["summary"]}):
        lines += [f"## {task}", ""]
        lines.append(
            table(
                [r for r in res["summary"] if r["task"] == task],
                [
                    ("mode", "mode"),
                    ("method", "method"),
                    ("coverage", "coverage"),
                    ("validity", "validity"),
                    ("finished", "finished"),
                    ("compliance", "compliance"),
                    ("compile_p50_ms", "compile p50 ms"),
                    ("compile_p95_ms", "compile p95 ms"),
                    ("ms_per_token", "ms/token"),
                ]
                + ([("ms_per_token_pooled", "pooled ms/token")] if rows_have(res, "model_s") else [])
                + ([("ms_per_token_measured", "measured ms/token")] if rows_have(res, "decode_measured_s") else [])
                + [
                    ("vs_unconstrained", "vs unc."),
                    ("overhead_ms_per_token", "overhead ms/token"),
                    ("checks_per_token", "checks/token"),
                    ("compile_mem_mib", "mem MiB"),
                ],
            )
        )
        lines.append("")
    if res.get("conformance"):
        lines += [
            "## Conformance on the labelled instances",
            "",
            "JSONSchemaBench's labelled valid and invalid instances of the JSON slice, checked by each method's"
            " own checker (a peer walks the instance's tokens through its masks). A validation error rejects a"
            " valid instance; an invalidation error accepts an invalid one.",
            "",
        ]
        lines.append(
            table(
                res["conformance"],
                [
                    ("method", "method"),
                    ("schemas", "schemas"),
                    ("instances", "instances"),
                    ("validation_errors", "validation errors"),
                    ("invalidation_errors", "invalidation errors"),
                ],
            )
        )
        lines.append("")
    if res.get("fidelity"):
        lines += [
            "## Distribution fidelity",
            "",
            "The exact distribution of the model conditioned on the constraint (every tokenisation of every"
            f" allowed string enumerated) against each method's {p['fidelity_samples']} samples: total variation"
            " (TV) and KL(empirical ‖ exact). Token masking, whatever library computes the mask, samples the"
            " locally constrained distribution; awrs-smc corrects it.",
            "",
        ]
        lines.append(table(res["fidelity"], [("task", "task"), ("method", "method"), ("tv", "TV"), ("kl", "KL")]))
        lines.append("")
        for task in sorted({r["task"] for r in res["fidelity"]}):
            exact = next(r["exact"] for r in res["fidelity"] if r["task"] == task)
            lines.append(
                f"- exact `{task}`: " + ", ".join(f"{k!r} {v:.3f}" for k, v in sorted(exact.items(), key=lambda kv: -kv[1]))
            )
        lines.append("")
    if res.get("first_calls"):
        lines += ["## First calls", "", FIRST_CALLS, ""]
        lines.append(
            table(
                [r for r in res["first_calls"] if "first_call_ms" in r],
                [("task", "task"), ("method", "method"), ("first_call_ms", "first-call compile ms")],
            )
        )
        lines.append("")
    checks = targets(res["summary"], res["rows"])
    if checks:
        lines += ["## The targets, checked", ""]
        lines.append(
            table(
                checks,
                [
                    ("task", "task"),
                    ("mode", "mode"),
                    ("target", "target"),
                    ("against", "against"),
                    ("awrs", "awrs"),
                    ("bound", "bound"),
                    ("met", "met"),
                ],
            )
        )
        lines.append("")
    missing = p.get("unavailable") or {}
    if missing:
        lines += ["## Peers that did not run", ""]
        lines += [f"- **{name}**: {why}" for name, why in sorted(missing.items())]
        lines.append("")
    reasons = {}
    for r in res["rows"]:
        if not r.get("supported") and r.get("reason"):
            reasons.setdefault((r["method"], r["task"]), " ".join(r["reason"].split()))
    if reasons:
        lines += ["## Items a method refused (first reason per method and task)", ""]
        lines += [f"- {m}, {t}: {why}" for (m, t), why in sorted(reasons.items())]
        lines.append("")
    lines += ["## Plots", ""] + [f"![{name[:-4].replace('_', ' ')}]({image_dir}/{name})" for name in images] + [""]
    return "\n".join(lines)


def _provenance(data: dict) -> str:
    commit = data.get("commit") or {}
    return f"Run {data['date']}, commit `{commit.get('sha', '')[:10]}`" + (
        " (uncommitted changes)" if commit.get("dirty") else ""
    )


def _section(title: str, text: str, rows: list[dict], columns: list[tuple[str, str]]) -> str:
    return "\n".join([f"## {title}", "", text, "", table(rows, columns), ""])


FIRST_CALLS = (
    "Before any timed compile, every method compiled one item per task from outside the timed slices (the"
    " smallest schema, pattern and Spider question of the rest of each set, as JSON text), once. A library's first compile in a process pays"
    " one-time costs (imports, tables, the interpreter's warm-up of its Python code); that first call is reported"
    " here on its own, and the timed compiles do not include it. genlm-control compiles inside its own runs."
)


def render_compile(data: dict) -> str:
    """The compare.py --compile-only run as a section, with awrs's p50 on each peer's items."""
    p = data["parameters"]
    rows = data["results"].get("rows", [])
    summary = []
    for r in data["results"]["summary"]:
        if not r["compiled"]:
            continue
        r = dict(r)
        if r["method"] != "awrs" and rows:
            r["awrs_same_p50_ms"] = _compile_p50_on(rows, r["task"], None, "awrs", _items(rows, r["task"], None, r["method"]))
        summary.append(r)
    return _section(
        "Compile time, every method on every item (`compare.py --compile-only`)",
        f"Cold compiles, no decoding: JSON {p['json']}, regex {p['regex']}, pattern {p['patterns']}, SQL {p['sql']} items;"
        f" one process with every peer loaded; the methods' order rotates from item to item. {_provenance(data)}."
        " *compiled* counts the items the method accepted (the p50/p95 are over those); *awrs p50 on these items* is"
        " awrs's p50 over the same items, the like-for-like comparison"
        + (
            "; *first call* is the method's untimed first compile of the task (below)."
            if data["results"].get("first_calls")
            else "."
        )
        + ("\n\n" + FIRST_CALLS if data["results"].get("first_calls") else ""),
        summary,
        [
            ("task", "task"),
            ("method", "method"),
            ("items", "items"),
            ("compiled", "compiled"),
            ("compile_p50_ms", "compile p50 ms"),
            ("compile_p95_ms", "compile p95 ms"),
            ("awrs_same_p50_ms", "awrs p50 on these items"),
        ]
        + ([("first_call_ms", "first call ms")] if data["results"].get("first_calls") else []),
    )


def render_patterns(data: dict) -> str:
    """The pattern_matching.py run (all patterns of the AWRS set) as a section."""
    p = data["parameters"]
    return _section(
        "Pattern matching: the AWRS paper's pattern set (`benchmarks/pattern_matching.py`)",
        f"{p['n_patterns']} patterns, max {p['max_new_tokens']} new tokens, seed {p['seed']}, temperature {p['temperature']};"
        f" masking on the first {p['mask_limit'] or p['n_patterns']} patterns. {_provenance(data)}. *checks* are per token,"
        " median and p90 over patterns; *sampling* is the time per token spent outside the model (checks, pruning,"
        " drawing); the *mask / awrs* rows are ratios on the patterns both ran.",
        data["results"]["summary"],
        [
            ("patterns", "patterns"),
            ("method", "method"),
            ("n", "n"),
            ("match", "match"),
            ("finished_match", "finished that match"),
            ("checks_med", "checks med"),
            ("checks_p90", "checks p90"),
            ("ms_per_token", "ms/token"),
            ("sampling_ms", "sampling ms/token"),
            ("vs_unconstrained", "vs unconstrained"),
        ],
    )


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", nargs="?", default=str(RESULTS / "compare.json"))
    parser.add_argument("--docs", default=str(ROOT / "docs"))
    parser.add_argument(
        "--patterns",
        default=str(RESULTS / "pattern_matching.json"),
        help="a pattern_matching.py result to add as a section (skipped when the file is missing)",
    )
    parser.add_argument(
        "--compile",
        default=str(RESULTS / "compare_compile.json"),
        help="a compare.py --compile-only result to add as a section (skipped when missing)",
    )
    args = parser.parse_args(argv)
    data = json.loads(Path(args.result).read_text())
    per_item_ratios(data["results"])
    docs = Path(args.docs)
    images = plots(data, docs / "benchmarks")
    page = docs / "benchmarks.md"
    text = render(data, images, "benchmarks")
    if Path(args.compile).is_file():
        text += "\n" + render_compile(json.loads(Path(args.compile).read_text()))
    if Path(args.patterns).is_file():
        text += "\n" + render_patterns(json.loads(Path(args.patterns).read_text()))
    page.write_text(text)
    print(f"wrote {page} and {len(images)} plots")
    return page


if __name__ == "__main__":
    main()
