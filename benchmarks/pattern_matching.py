"""The AWRS paper's pattern-matching task: generate a string that a pattern fully matches.

For each pattern of ../shared/benchmarks/awrs-pattern-matching (402 in the paper's set), the
default model is prompted as upstream (a system prompt and three few-shot pairs); output ends
at EOS or a newline. Methods run side by side on each pattern: unconstrained, AWRS and token
masking (masking may run on the first ``--mask-limit`` patterns only: on non-regular patterns
it costs one partial-match call per vocabulary token per step).

Reported per method (and per engine: DFA vs partial matching): share of outputs that fully
match (scored with ``regex.fullmatch`` as upstream), median and p90 constraint checks per
token, ms per token, and the ratio to unconstrained time per token.

    python benchmarks/pattern_matching.py [--limit N] [--mask-limit M] [--max-new-tokens 100]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import regex
from _common import SHARED, median, percentile, print_table, run_metadata, write_json

import awrs

PATTERNS = SHARED / "benchmarks" / "awrs-pattern-matching" / "patterns_awrs_colm2025.csv"
SYSTEM = (
    "You are a helpful assistant that writes strings matching regular expressions. "
    "Reply with only the matching string, on one line, with no explanation."
)
FEW_SHOT = [("(ab)+", "ab"), ("(ab|cd)+", "cd"), ("[a-z]+", "hello")]


def load_patterns(limit: int | None) -> list[str]:
    with PATTERNS.open(newline="") as f:
        patterns = [row["regex"] for row in csv.DictReader(f)]
    return patterns[:limit] if limit else patterns


def prompt_for(pattern: str) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": SYSTEM}]
    for p, answer in FEW_SHOT:
        messages += [{"role": "user", "content": f"Pattern: {p}"}, {"role": "assistant", "content": answer}]
    messages.append({"role": "user", "content": f"Pattern: {pattern}"})
    return messages


def upstream_match(pattern: str, text: str) -> bool:
    """Upstream scoring: the regex module's default mode, a full match."""
    try:
        return regex.fullmatch(pattern, text) is not None
    except regex.error:
        return False


def run_one(lm, pattern: str, constraint, method: str, args) -> dict:
    started = time.perf_counter()
    result = awrs.generate(
        lm,
        prompt_for(pattern),
        constraint,
        method="lcd" if constraint is None else method,
        max_new_tokens=args.max_new_tokens,
        stop=["\n"],
        seed=args.seed,
        temperature=args.temperature,
        greedy=args.greedy,
    )
    seconds = time.perf_counter() - started
    stats = result.stats
    steps = max(stats.steps, 1)
    return {
        "method": "unconstrained" if constraint is None else method,
        "text": result.text,
        "finished": result.particles[0].finished,
        "match": upstream_match(pattern, result.text),
        "valid": result.valid,
        "tokens": stats.tokens,
        "steps": steps,
        "checks_per_token": stats.constraint_checks / steps,
        # decode time per token step: the prompt's prefill is left out (it does not depend on the method)
        "ms_per_token": 1000 * (stats.seconds - stats.prefill_seconds) / steps,
        "sampling_ms_per_token": 1000 * stats.sampling_seconds / steps,
        "seconds": seconds,
    }


def _per_step(rows: list[dict], key: str) -> float:
    """Total over rows / total token steps (long outputs weigh more, as in a real workload)."""
    steps = sum(r["steps"] for r in rows)
    return sum(r[key] * r["steps"] for r in rows) / steps if steps else float("nan")


def summarise(rows: list[dict], base_ms: float | None) -> dict:
    ms = _per_step(rows, "ms_per_token")
    finished = [r for r in rows if r["finished"]]
    return {
        "n": len(rows),
        "match": sum(r["match"] for r in rows) / len(rows) if rows else float("nan"),
        "finished_match": sum(r["match"] for r in finished) / len(finished) if finished else float("nan"),
        "checks_med": median([r["checks_per_token"] for r in rows]),
        "checks_p90": percentile([r["checks_per_token"] for r in rows], 90),
        "ms_per_token": ms,
        "sampling_ms": _per_step(rows, "sampling_ms_per_token"),
        "vs_unconstrained": ms / base_ms if base_ms else float("nan"),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N patterns (deterministic slice)")
    parser.add_argument("--mask-limit", type=int, default=None, help="run masking on the first M patterns only")
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--greedy", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["unconstrained", "awrs", "mask"],
        choices=["unconstrained", "awrs", "mask"],
        help="a subset, e.g. --methods awrs to re-check AWRS's outputs alone (no ratios then)",
    )
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    lm = awrs.load_model(args.model)
    patterns = load_patterns(args.limit)
    rows: list[dict] = []
    compile_ms: list[float] = []
    for i, pattern in enumerate(patterns):
        started = time.perf_counter()
        constraint = awrs.Regex(pattern)
        compile_ms.append(1000 * (time.perf_counter() - started))
        methods = [(None, "unconstrained"), (constraint, "awrs")]
        if args.mask_limit is None or i < args.mask_limit:
            methods.append((constraint, "mask"))
        methods = [(c, m) for c, m in methods if m in args.methods]
        for c, method in methods:
            row = run_one(lm, pattern, c, method, args)
            row.update(pattern=pattern, engine=constraint.engine, index=i)
            rows.append(row)
        print(f"[{i + 1}/{len(patterns)}] {constraint.engine:7s} {pattern[:60]!r}", file=sys.stderr)

    table = []
    for engine in ("all", "dfa", "partial"):
        subset = [r for r in rows if engine == "all" or r["engine"] == engine]
        unconstrained = [r for r in subset if r["method"] == "unconstrained"]
        base = summarise(unconstrained, None)["ms_per_token"] if unconstrained else None
        for method in ("unconstrained", "awrs", "mask"):
            chosen = [r for r in subset if r["method"] == method]
            if chosen:
                table.append({"patterns": engine, "method": method, **summarise(chosen, base)})
    # Masking vs AWRS per token on the same patterns (only those masking ran on).
    masked = {r["index"] for r in rows if r["method"] == "mask"}
    for engine in ("dfa", "partial"):
        same = [r for r in rows if r["index"] in masked and r["engine"] == engine]
        if not same:
            continue
        a = summarise([r for r in same if r["method"] == "awrs"], None)
        m = summarise([r for r in same if r["method"] == "mask"], None)
        table.append(
            {
                "patterns": f"{engine} (masked subset)",
                "method": "mask / awrs",
                "ms_per_token": m["ms_per_token"] / a["ms_per_token"],
                "sampling_ms": m["sampling_ms"] / a["sampling_ms"],
            }
        )
    print_table(
        table,
        [
            "patterns",
            "method",
            "n",
            "match",
            "finished_match",
            "checks_med",
            "checks_p90",
            "ms_per_token",
            "sampling_ms",
            "vs_unconstrained",
        ],
    )
    print(f"regex compile: median {median(compile_ms):.2f} ms, p95 {percentile(compile_ms, 95):.2f} ms")
    params = {k: v for k, v in vars(args).items()}
    params.update(n_patterns=len(patterns), prompt_system=SYSTEM, few_shot=FEW_SHOT, model_repr=repr(lm))
    path = write_json(
        "pattern_matching", run_metadata(params), {"summary": table, "rows": rows, "compile_ms": compile_ms}, args.out
    )
    print(f"wrote {path}")
    return {"summary": table, "rows": rows}


if __name__ == "__main__":
    main()
