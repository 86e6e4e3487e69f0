"""Spider text-to-SQL with the default model: unconstrained vs AWRS vs masking under SQL(schema).

Each dev question is asked with a few-shot prompt that lists the database's tables and
columns; output ends at EOS or a newline (max 100 tokens). Reported per method: share of
outputs that parse (sql.lark), share that pass the schema check (SQL(schema): names exist and
SQLite resolves them), median and p90 constraint checks per token, median time per check,
ms per token and the ratio to unconstrained. Masking runs on the first ``--mask-limit``
questions (it checks 49,152 tokens per step against the grammar).

    python benchmarks/text_to_sql.py [--limit N] [--mask-limit M] [--max-new-tokens 100]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED, median, percentile, print_table, run_metadata, write_json

import awrs
from awrs.constraints.sql import schema_tables

SPIDER = SHARED / "benchmarks" / "spider"
SYSTEM = "You translate questions into SQLite queries. Reply with one SQL query on one line, nothing else."
EXAMPLE = (
    "Tables: singer(singer_id, name, age)",
    "How many singers are older than 30?",
    "SELECT count(*) FROM singer WHERE age > 30",
)


def prompt_for(tables: dict[str, list[str]], question: str) -> list[dict[str, str]]:
    listing = "; ".join(f"{t}({', '.join(cols)})" for t, cols in tables.items())
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"{EXAMPLE[0]}\nQuestion: {EXAMPLE[1]}"},
        {"role": "assistant", "content": EXAMPLE[2]},
        {"role": "user", "content": f"Tables: {listing}\nQuestion: {question}"},
    ]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--mask-limit", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--greedy", action="store_true", help="greedy decoding (default: sampling at temperature 1)")
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    lm = awrs.load_model(args.model)
    examples = json.loads((SPIDER / "dev.json").read_text())
    examples = examples[: args.limit] if args.limit else examples
    tables = {t["db_id"]: t for t in json.loads((SPIDER / "tables.json").read_text())}
    plain = awrs.SQL(None)
    per_db: dict[str, awrs.SQL] = {}
    rows = []
    for i, ex in enumerate(examples):
        db = ex["db_id"]
        if db not in per_db:
            per_db[db] = awrs.SQL(tables[db])
        c = per_db[db]
        prompt = prompt_for(schema_tables(tables[db]), ex["question"])
        methods = [(None, "unconstrained"), (c, "awrs")] + ([(c, "mask")] if i < args.mask_limit else [])
        for constraint, method in methods:
            r = awrs.generate(
                lm,
                prompt,
                constraint,
                method="lcd" if constraint is None else method,
                max_new_tokens=args.max_new_tokens,
                stop=["\n"],
                seed=args.seed,
                greedy=args.greedy,
            )
            s = r.stats
            steps = max(s.steps, 1)
            rows.append(
                {
                    "index": i,
                    "db": db,
                    "method": method,
                    "text": r.text,
                    "parses": plain.accepts(r.text),
                    "schema_ok": c.accepts(r.text),
                    "finished": r.particles[0].finished,
                    "steps": steps,
                    "checks_per_token": s.constraint_checks / steps,
                    "us_per_check": 1e6 * s.sampling_seconds / max(s.constraint_checks, 1),
                    "ms_per_token": 1000 * (s.seconds - s.prefill_seconds) / steps,
                }
            )
        print(f"[{i + 1}/{len(examples)}] {db}", file=sys.stderr)

    def ms(chosen):
        steps = sum(r["steps"] for r in chosen)
        return sum(r["ms_per_token"] * r["steps"] for r in chosen) / steps if steps else float("nan")

    base = ms([r for r in rows if r["method"] == "unconstrained"])
    table = []
    for method in ("unconstrained", "awrs", "mask"):
        chosen = [r for r in rows if r["method"] == method]
        if not chosen:
            continue
        finished = [r for r in chosen if r["finished"]]
        table.append(
            {
                "method": method,
                "n": len(chosen),
                "parses": sum(r["parses"] for r in chosen) / len(chosen),
                "schema_ok": sum(r["schema_ok"] for r in chosen) / len(chosen),
                "finished_schema_ok": sum(r["schema_ok"] for r in finished) / len(finished) if finished else float("nan"),
                "checks_med": median([r["checks_per_token"] for r in chosen]),
                "checks_p90": percentile([r["checks_per_token"] for r in chosen], 90),
                "us_per_check": median([r["us_per_check"] for r in chosen]),
                "ms_per_token": ms(chosen),
                "vs_unconstrained": ms(chosen) / base,
            }
        )
    print_table(
        table,
        [
            "method",
            "n",
            "parses",
            "schema_ok",
            "finished_schema_ok",
            "checks_med",
            "checks_p90",
            "us_per_check",
            "ms_per_token",
            "vs_unconstrained",
        ],
    )
    path = write_json(
        "text_to_sql",
        run_metadata({**vars(args), "system": SYSTEM, "model_repr": repr(lm)}),
        {"summary": table, "rows": rows},
        args.out,
    )
    print(f"wrote {path}")
    return {"summary": table}


if __name__ == "__main__":
    main()
