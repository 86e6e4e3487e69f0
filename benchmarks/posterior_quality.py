"""Posterior-weighted accuracy and seconds per instance: LCD vs sample-rerank vs AWRS-SMC.

As the AWRS paper compares them, on the pattern-matching task (score: the output fully
matches the pattern, upstream's regex scorer) and the JSON task (score: the output validates
with python-jsonschema, formats asserted):

- ``lcd``: one locally constrained sequence (what token masking samples); its score;
- ``rerank``: 10 unconstrained samples, the posterior uniform over those that are valid;
- ``smc``: AWRS-SMC, 5 particles, resampling at ESS < 0.5; the score averaged under the
  posterior over particles.

    python benchmarks/posterior_quality.py [--patterns 20] [--schemas 10] [--max-new-tokens 100]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, run_metadata, write_json
from json_generation import prompt_for as json_prompt
from json_generation import val_schemas, validates
from pattern_matching import load_patterns, upstream_match
from pattern_matching import prompt_for as pattern_prompt

import awrs
from awrs.errors import AwrsError


def run_methods(lm, prompt, constraint, score, args, stop) -> list[dict]:
    rows = []
    t0 = time.perf_counter()
    r = awrs.generate(lm, prompt, constraint, method="lcd", max_new_tokens=args.max_new_tokens, stop=stop, seed=args.seed)
    rows.append({"method": "lcd", "score": float(score(r.text)) if r.valid else 0.0, "seconds": time.perf_counter() - t0})
    t0 = time.perf_counter()
    samples = [
        awrs.generate(lm, prompt, None, method="lcd", max_new_tokens=args.max_new_tokens, stop=stop, seed=args.seed + k).text
        for k in range(10)
    ]
    valid = [s for s in samples if constraint.accepts(s)]
    rows.append(
        {
            "method": "rerank",
            "score": sum(score(s) for s in valid) / len(valid) if valid else 0.0,
            "seconds": time.perf_counter() - t0,
        }
    )
    t0 = time.perf_counter()
    r = awrs.generate(
        lm,
        prompt,
        constraint,
        method="smc",
        n_particles=5,
        ess_threshold=0.5,
        max_new_tokens=args.max_new_tokens,
        stop=stop,
        seed=args.seed,
    )
    rows.append(
        {"method": "smc", "score": sum(w * score(t) for t, w in r.posterior.items()), "seconds": time.perf_counter() - t0}
    )
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patterns", type=int, default=20, help="first N patterns of the paper's set")
    parser.add_argument("--schemas", type=int, default=10, help="first N schemas of the JSON task")
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    lm = awrs.load_model(args.model)
    rows = []
    for i, pattern in enumerate(load_patterns(args.patterns)):
        c = awrs.Regex(pattern)
        for row in run_methods(lm, pattern_prompt(pattern), c, lambda t, p=pattern: upstream_match(p, t), args, ["\n"]):
            rows.append({"task": "pattern", "instance": i, **row})
        print(f"[pattern {i + 1}/{args.patterns}]", file=sys.stderr)
    for i, record in enumerate(val_schemas()[: args.schemas]):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c = awrs.JsonSchema(record["schema"])
        except AwrsError:
            continue
        for row in run_methods(lm, json_prompt(record["schema"]), c, lambda t, s=record["schema"]: validates(s, t), args, ()):
            rows.append({"task": "json", "instance": i, **row})
        print(f"[json {i + 1}/{args.schemas}]", file=sys.stderr)

    table = []
    for task in ("pattern", "json"):
        for method in ("lcd", "rerank", "smc"):
            chosen = [r for r in rows if r["task"] == task and r["method"] == method]
            if chosen:
                table.append(
                    {
                        "task": task,
                        "method": method,
                        "n": len(chosen),
                        "accuracy": sum(r["score"] for r in chosen) / len(chosen),
                        "seconds_per_instance": sum(r["seconds"] for r in chosen) / len(chosen),
                    }
                )
    print_table(table, ["task", "method", "n", "accuracy", "seconds_per_instance"])
    path = write_json(
        "posterior_quality", run_metadata({**vars(args), "model_repr": repr(lm)}), {"summary": table, "rows": rows}, args.out
    )
    print(f"wrote {path}")
    return {"summary": table}


if __name__ == "__main__":
    main()
