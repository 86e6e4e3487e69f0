"""JSON Schema conformance on JSONSchemaBench (no LM), in the manner of the field's MaskBench.

For every staged schema (../shared/benchmarks/jsonschemabench/*.jsonl) and its labelled
instances: declared coverage (compiles without UnsupportedSchemaError), validation errors (a
valid instance rejected at some prefix), invalidation errors (an invalid instance accepted as
complete), compile time p50/p95/p99 and time per token check p50/p99 (each instance is cut
into 4-byte chunks, the typical size of a token, and each chunk is one check).

    python benchmarks/json_conformance.py [--subsets Github_easy ...] [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED, median, percentile, print_table, run_metadata, write_json

from awrs.constraints.json_schema import JsonSchema
from awrs.errors import ConstraintError, UnsupportedSchemaError

DATA = SHARED / "benchmarks" / "jsonschemabench"
SUBSETS = [
    "Github_trivial",
    "Github_easy",
    "Github_medium",
    "Github_hard",
    "Github_ultra",
    "Glaiveai2K",
    "JsonSchemaStore",
    "Kubernetes",
    "Snowplow",
    "WashingtonPost",
]
CHUNK = 4  # bytes per simulated token


def records(subset: str, limit: int | None = None):
    with (DATA / f"{subset}.jsonl").open() as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                return
            yield json.loads(line)


def check_record(record: dict) -> dict:
    """Compile one schema and check its labelled instances."""
    out = {
        "id": record["id"],
        "subset": record["subset"],
        "status": "ok",
        "validation_errors": 0,
        "invalidation_errors": 0,
        "tests": len(record["tests"]),
    }
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = JsonSchema(record["schema"])
    except UnsupportedSchemaError as exc:
        out.update(status="unsupported", reason=f"{exc.keyword} at {exc.pointer}")
        return out
    except ConstraintError as exc:
        out.update(status="compile_error", reason=str(exc)[:200])
        return out
    except RecursionError:
        out.update(status="compile_error", reason="recursion")
        return out
    out["compile_ms"] = 1000 * (time.perf_counter() - started)
    check_us = []
    for test in record["tests"]:
        data = json.dumps(test["data"]).encode()
        state, rejected_at = c.initial(), None
        for i in range(0, len(data), CHUNK):
            t0 = time.perf_counter()
            state = c.advance(state, data[i : i + CHUNK])
            check_us.append(1e6 * (time.perf_counter() - t0))
            if state is None:
                rejected_at = i
                break
        accepted = state is not None and c.is_complete(state)
        if test["valid"] and not accepted:
            out["validation_errors"] += 1
            out.setdefault("examples", []).append(
                {"valid": True, "rejected_at": rejected_at, "data": data[:200].decode(errors="replace")}
            )
        if not test["valid"] and accepted:
            out["invalidation_errors"] += 1
            out.setdefault("examples", []).append({"valid": False, "data": data[:200].decode(errors="replace")})
    out["check_us"] = check_us
    return out


def summarise(rows: list[dict]) -> dict:
    supported = [r for r in rows if r["status"] == "ok"]
    compile_ms = [r["compile_ms"] for r in supported]
    checks = [x for r in supported for x in r["check_us"]]
    clean = [r for r in supported if r["validation_errors"] == 0 and r["invalidation_errors"] == 0]
    return {
        "schemas": len(rows),
        "coverage": len(supported) / len(rows) if rows else float("nan"),
        "no_error": len(clean) / len(rows) if rows else float("nan"),
        "validation_errors": sum(r["validation_errors"] for r in supported),
        "invalidation_errors": sum(r["invalidation_errors"] for r in supported),
        "compile_p50_ms": median(compile_ms),
        "compile_p95_ms": percentile(compile_ms, 95),
        "compile_p99_ms": percentile(compile_ms, 99),
        "check_p50_us": median(checks),
        "check_p99_us": percentile(checks, 99),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subsets", nargs="+", default=SUBSETS)
    parser.add_argument("--limit", type=int, default=None, help="first N schemas of each subset")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    rows = []
    for subset in args.subsets:
        for record in records(subset, args.limit):
            rows.append(check_record(record))
    table = [{"subset": s, **summarise([r for r in rows if r["subset"] == s])} for s in args.subsets]
    table.append({"subset": "all", **summarise(rows)})
    print_table(
        table,
        [
            "subset",
            "schemas",
            "coverage",
            "no_error",
            "validation_errors",
            "invalidation_errors",
            "compile_p50_ms",
            "compile_p95_ms",
            "compile_p99_ms",
            "check_p50_us",
            "check_p99_us",
        ],
    )
    unsupported: dict[str, int] = {}
    for r in rows:
        if r["status"] == "unsupported":
            key = r["reason"].split(" at ")[0]
            unsupported[key] = unsupported.get(key, 0) + 1
    print("unsupported keywords:", dict(sorted(unsupported.items(), key=lambda kv: -kv[1])))
    for r in rows:
        r.pop("check_us", None)
    path = write_json("json_conformance", run_metadata(vars(args)), {"summary": table, "rows": rows}, args.out)
    print(f"wrote {path}")
    return {"summary": table, "rows": rows}


if __name__ == "__main__":
    main()
