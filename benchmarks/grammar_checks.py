"""Time per token check on the SQL grammar (no LM forward passes).

Each Spider dev gold query is cut into the default model's tokens; each token is checked
once from the state the previous tokens led to (so a check that ends a SQL token pays the
Earley scan, as during generation). Reported for the plain grammar and for SQL(schema):
p50/p99 microseconds per check for tokens of at most 16 bytes, and the compile time.

    python benchmarks/grammar_checks.py [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED, median, percentile, print_table, run_metadata, write_json
from awrs.grammars import load

from awrs.constraints.grammar import Grammar
from awrs.constraints.sql import SQL

SPIDER = SHARED / "benchmarks" / "spider"


def token_pieces(queries: list[str]) -> list[list[bytes]]:
    from transformers import AutoTokenizer

    from awrs.lm.default_model import default_checkpoint
    from awrs.lm.token_bytes import vocabulary_from_tokenizer

    tok = AutoTokenizer.from_pretrained(default_checkpoint())
    vocab = vocabulary_from_tokenizer(tok)
    return [[vocab.tokens[i] for i in tok.encode(q, add_special_tokens=False)] for q in queries]


def time_checks(constraint, pieces: list[bytes]) -> list[float]:
    out = []
    state = constraint.initial()
    for piece in pieces:
        t0 = time.perf_counter()
        nxt = constraint.advance(state, piece)
        elapsed = time.perf_counter() - t0
        if len(piece) <= 16:
            out.append(1e6 * elapsed)
        if nxt is None:
            break
        state = nxt
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    rows = [line.split("\t") for line in (SPIDER / "dev_gold.sql").read_text().splitlines() if line.strip()]
    rows = rows[: args.limit] if args.limit else rows
    tables = {t["db_id"]: t for t in json.loads((SPIDER / "tables.json").read_text())}
    pieces = token_pieces([q for q, _ in rows])

    t0 = time.perf_counter()
    plain = Grammar(load("sql"))
    plain_ms = 1000 * (time.perf_counter() - t0)
    compile_ms, per_db = [], {}
    for _, db in rows:
        if db not in per_db:
            t0 = time.perf_counter()
            per_db[db] = SQL(tables[db])
            compile_ms.append(1000 * (time.perf_counter() - t0))

    results = []
    for name, get in (("sql.lark", lambda db: plain), ("SQL(schema)", lambda db: per_db[db])):
        times = [t for (q, db), p in zip(rows, pieces) for t in time_checks(get(db), p)]
        results.append(
            {
                "grammar": name,
                "checks": len(times),
                "check_p50_us": median(times),
                "check_p99_us": percentile(times, 99),
                "compile_ms": plain_ms if name == "sql.lark" else median(compile_ms),
            }
        )
    print_table(results, ["grammar", "checks", "check_p50_us", "check_p99_us", "compile_ms"])
    path = write_json("grammar_checks", run_metadata({**vars(args), "queries": len(rows)}), results, args.out)
    print(f"wrote {path}")
    return {"results": results}


if __name__ == "__main__":
    main()
