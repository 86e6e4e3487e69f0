"""Outputs for fixed seeds, and awrs's own time per token: the record a refactoring must keep.

Runs every method (smc, awrs, lcd, mask, greedy) over a regex, a JSON Schema, a grammar and a
choice on the default model, for a few seeds each, and records the texts, token ids, weights,
stop reasons and constraint checks. Two runs of the same code give identical records; a change
that claims "no behaviour change" must too (``--compare OLD.json`` prints every difference and
exits non-zero on any). Also reported: the sampling time per token (awrs's own work: proposals
and checks, the forward pass excluded), the number a refactoring must not make worse.

    python benchmarks/fixed_seeds.py [--seeds 3] [--tokens 24] [--compare results/fixed_seeds.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The checkout this script is in comes first, so that a run from a worktree measures that tree's
# awrs and not the one an editable install points at.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import median, print_table, run_metadata, write_json

import awrs

PROMPT = [{"role": "user", "content": "Give me an example."}]
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
GRAMMAR = 'start: "SELECT " NAME (", " NAME)* " FROM " NAME\nNAME: /[a-z_]+/'


def constraints() -> dict[str, awrs.Constraint]:
    return {
        "regex": awrs.Regex(r"[a-z]+@[a-z]+\.(com|org)"),
        "json": awrs.JsonSchema(SCHEMA),
        "grammar": awrs.Grammar(GRAMMAR),
        "choice": awrs.Choice(["yes", "no", "maybe later"]),
    }


RUNS = [("smc", {"n_particles": 4}), ("awrs", {}), ("lcd", {}), ("mask", {}), ("awrs", {"greedy": True})]


def record(result: awrs.Result) -> dict:
    return {
        "text": result.text,
        "valid": result.valid,
        "stop_reason": result.stop_reason,
        "log_ml": result.log_ml,
        "particles": [
            {"text": p.text, "log_weight": p.log_weight, "stop_reason": p.stop_reason, "token_ids": list(p.token_ids)}
            for p in result.particles
        ],
        "tokens": result.stats.tokens,
        "constraint_checks": result.stats.constraint_checks,
        "n_resamples": result.stats.n_resamples,
    }


def compare(old: list[dict], new: list[dict]) -> int:
    """Print each run whose output differs; the number of them."""
    before = {r["key"]: r["output"] for r in old}
    differences = 0
    for r in new:
        if before.get(r["key"]) != r["output"]:
            differences += 1
            print(f"DIFFERENT {r['key']}:\n  before {before.get(r['key'])}\n  after  {r['output']}")
    missing = set(before) - {r["key"] for r in new}
    for key in sorted(missing):
        differences += 1
        print(f"MISSING {key}")
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--model", default=None)
    parser.add_argument("--backend", default="transformers", help="the records so far are of transformers float32")
    parser.add_argument("--compare", default=None, help="an earlier run's JSON: report every output that differs")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    lm = awrs.load_model(args.model, backend=args.backend)
    outputs, rows = [], []
    chosen = constraints()
    for constraint in chosen.values():  # warm-up: compiled kernels and caches, outside the timings
        awrs.generate(lm, PROMPT, constraint, method="awrs", max_new_tokens=2, seed=0)
    for cname, constraint in chosen.items():
        for method, options in RUNS:
            label = method + ("-greedy" if options.get("greedy") else "")
            per_token = []
            for seed in range(args.seeds):
                result = awrs.generate(lm, PROMPT, constraint, method=method, max_new_tokens=args.tokens, seed=seed, **options)
                outputs.append({"key": f"{cname}/{label}/seed{seed}", "output": record(result)})
                per_token.append(1000 * result.stats.sampling_seconds / max(result.stats.tokens, 1))
            rows.append({"constraint": cname, "method": label, "sampling_ms_per_token": median(per_token)})
    print_table(rows, ["constraint", "method", "sampling_ms_per_token"])
    params = {**vars(args), "prompt": PROMPT, "schema": SCHEMA, "grammar": GRAMMAR, "model_repr": repr(lm)}
    write_json("fixed_seeds", run_metadata(params), {"timings": rows, "outputs": outputs}, args.out)
    if args.compare:
        old = json.loads(Path(args.compare).read_text())["results"]["outputs"]
        differences = compare(old, outputs)
        print(f"{differences} of {len(outputs)} outputs differ from {args.compare}")
        return 1 if differences else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
