"""Running the external JSON Schema conformance data through awrs.JsonSchema, and the
ratchet baselines that hold what passes.

The ratchet itself is tests/ratchet.py.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from awrs.constraints.json_schema import JsonSchema
from awrs.errors import ConstraintError, UnsupportedSchemaError
from tests.conftest import SHARED

SUITE = SHARED / "benchmarks" / "json-schema-test-suite"
BENCH = SHARED / "benchmarks" / "jsonschemabench"
DRAFTS = {"draft2020-12": 2020, "draft7": 7}


def remotes() -> dict:
    """The suite's remote documents, under the URIs its tests use (nothing is fetched)."""
    root = SUITE / "remotes"
    return {f"http://localhost:1234/{p.relative_to(root).as_posix()}": json.loads(p.read_text()) for p in root.rglob("*.json")}


def suite_files(draft: str, part: str) -> list[Path]:
    base = SUITE / "tests" / draft
    return sorted(base.glob("*.json")) if part == "required" else sorted((base / "optional" / "format").glob("*.json"))


def accepted_with_every_prefix(c: JsonSchema, text: str) -> bool:
    """The whole text is accepted and no byte along the way was rejected."""
    return c.first_violation(text) is None


def run_suite(draft: str, part: str) -> dict[str, str]:
    """case id -> "pass" | "fail" | "unsupported" for every test of one part of the suite.

    Required tests run with ``formats="annotate"`` (JSON Schema's default: format is an
    annotation there); the format tests run with ``formats="assert"``.
    """
    registry = remotes()
    results: dict[str, str] = {}
    for path in suite_files(draft, part):
        for group in json.loads(path.read_text()):
            ids = [f"{draft}/{part}/{path.name}::{group['description']}::{t['description']}" for t in group["tests"]]
            try:
                c = JsonSchema(
                    group["schema"],
                    registry=registry,
                    draft=DRAFTS[draft],
                    formats="annotate" if part == "required" else "assert",
                )
            except UnsupportedSchemaError:
                results.update(dict.fromkeys(ids, "unsupported"))
                continue
            except ConstraintError as exc:
                # An empty language is refused at compile time: right exactly when nothing is valid.
                empty_ok = "empty" in str(exc)
                for cid, t in zip(ids, group["tests"]):
                    results[cid] = "pass" if empty_ok and not t["valid"] else "unsupported" if not empty_ok else "fail"
                continue
            for cid, t in zip(ids, group["tests"]):
                text = json.dumps(t["data"])
                ok = accepted_with_every_prefix(c, text) if t["valid"] else not c.accepts(text)
                results[cid] = "pass" if ok else "fail"
    return results


def bench_records(subset: str, limit: int | None = None):
    with (BENCH / f"{subset}.jsonl").open() as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                return
            yield json.loads(line)


def check_bench_record(record: dict) -> dict:
    """{"status": "pass" | "unsupported" | "error", "validation": n, "invalidation": n}."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = JsonSchema(record["schema"])
    except UnsupportedSchemaError:
        return {"status": "unsupported", "validation": 0, "invalidation": 0}
    except (ConstraintError, RecursionError):
        return {"status": "error", "validation": 0, "invalidation": 0}
    validation = invalidation = 0
    for t in record["tests"]:
        text = json.dumps(t["data"])
        if t["valid"] and not accepted_with_every_prefix(c, text):
            validation += 1
        if not t["valid"] and c.accepts(text):
            invalidation += 1
    status = "pass" if validation == 0 and invalidation == 0 else "error"
    return {"status": status, "validation": validation, "invalidation": invalidation}
