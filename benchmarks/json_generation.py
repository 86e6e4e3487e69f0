"""The AWRS paper's JSON task: generate an instance of each schema with the default model.

Schemas: the HF ``val`` split of Github_trivial, Github_easy and Github_medium (429 schemas;
``hf_split`` in ../shared/benchmarks/jsonschemabench). Methods side by side on each schema:
unconstrained, AWRS (single sequence) and token masking (``--mask-limit``: masking checks all
49,152 tokens in Python each step). Reported per method: declared coverage (the schema
compiles), empirical coverage (the output parses and validates with python-jsonschema,
formats asserted), compliance (valid outputs among those that finished), time to first
token, ms per output token and the ratio to unconstrained.

The full run is long on a 2-core CPU (up to 450 tokens x 3 methods x 429 schemas); ``--limit``
runs a deterministic slice (the first N schemas in file order).

    python benchmarks/json_generation.py [--limit N] [--mask-limit M] [--max-new-tokens 450]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED, median, print_table, run_metadata, write_json

import awrs
from awrs.errors import ConstraintError, UnsupportedSchemaError

DATA = SHARED / "benchmarks" / "jsonschemabench"
SUBSETS = ["Github_trivial", "Github_easy", "Github_medium"]
SYSTEM = "You write JSON that validates against the JSON Schema you are given. Reply with the JSON only."
EXAMPLE_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city"],
}
EXAMPLE_OUTPUT = {"city": "Lyon", "population": 513275}


def val_schemas() -> list[dict]:
    out = []
    for subset in SUBSETS:
        with (DATA / f"{subset}.jsonl").open() as f:
            out += [r for r in map(json.loads, f) if r.get("hf_split") == "val"]
    return out


def prompt_for(schema: dict) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Schema: {json.dumps(EXAMPLE_SCHEMA)}"},
        {"role": "assistant", "content": json.dumps(EXAMPLE_OUTPUT)},
        {"role": "user", "content": f"Schema: {json.dumps(schema)}"},
    ]


def validates(schema: dict, text: str) -> bool:
    import jsonschema

    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return False
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        return cls(schema, format_checker=cls.FORMAT_CHECKER).is_valid(value)
    except Exception:
        return False


def run_one(lm, record, constraint, method: str, args) -> dict:
    first: list[float] = []
    started = time.perf_counter()
    result = awrs.generate(
        lm,
        prompt_for(record["schema"]),
        constraint,
        method="lcd" if constraint is None else method,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        on_token=lambda i, token: first.append(time.perf_counter()) if not first else None,
    )
    s = result.stats
    steps = max(s.steps, 1)
    return {
        "method": "unconstrained" if constraint is None else method,
        "finished": result.particles[0].finished,
        "valid": validates(record["schema"], result.text),
        "tokens": s.tokens,
        "steps": steps,
        "ttft_ms": 1000 * ((first[0] if first else time.perf_counter()) - started),
        "ms_per_token": 1000 * (s.seconds - s.prefill_seconds) / steps,
        "checks_per_token": s.checks_per_token,
        "text": result.text[:300],
    }


def summarise(rows: list[dict], base: float | None) -> dict:
    steps = sum(r["steps"] for r in rows)
    ms = sum(r["ms_per_token"] * r["steps"] for r in rows) / steps if steps else float("nan")
    finished = [r for r in rows if r["finished"]]
    return {
        "n": len(rows),
        "empirical_coverage": sum(r["valid"] for r in rows) / len(rows) if rows else float("nan"),
        "compliance": sum(r["valid"] for r in finished) / len(finished) if finished else float("nan"),
        "ttft_p50_ms": median([r["ttft_ms"] for r in rows]),
        "ms_per_token": ms,
        "checks_per_token": median([r["checks_per_token"] for r in rows]),
        "vs_unconstrained": ms / base if base else float("nan"),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--mask-limit", type=int, default=None)
    parser.add_argument("--max-new-tokens", type=int, default=450)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    lm = awrs.load_model(args.model)
    records = val_schemas()[: args.limit] if args.limit else val_schemas()
    rows, declared = [], 0
    for i, record in enumerate(records):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                constraint = awrs.JsonSchema(record["schema"])
            declared += 1
        except (UnsupportedSchemaError, ConstraintError):
            constraint = None
        methods = [(None, "unconstrained")]
        if constraint is not None:
            methods.append((constraint, "awrs"))
            if args.mask_limit is None or i < args.mask_limit:
                methods.append((constraint, "mask"))
        for c, method in methods:
            row = run_one(lm, record, c, method, args)
            row.update(id=record["id"], subset=record["subset"], index=i)
            rows.append(row)
        print(f"[{i + 1}/{len(records)}] {record['subset']}/{record['id']}", file=sys.stderr)

    base = summarise([r for r in rows if r["method"] == "unconstrained"], None)["ms_per_token"]
    table = [{"method": m, **summarise([r for r in rows if r["method"] == m], base)} for m in ("unconstrained", "awrs", "mask")]
    print(f"declared coverage: {declared}/{len(records)} = {declared / len(records):.3f}")
    print_table(
        table,
        [
            "method",
            "n",
            "empirical_coverage",
            "compliance",
            "ttft_p50_ms",
            "ms_per_token",
            "checks_per_token",
            "vs_unconstrained",
        ],
    )
    params = {**vars(args), "schemas": len(records), "system": SYSTEM, "model_repr": repr(lm)}
    path = write_json("json_generation", run_metadata(params), {"declared": declared, "summary": table, "rows": rows}, args.out)
    print(f"wrote {path}")
    return {"summary": table, "rows": rows}


if __name__ == "__main__":
    main()
