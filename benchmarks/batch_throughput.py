"""``awrs batch`` throughput: items/s and tokens/s in-process for max-batch 1, 8 and 32, and on a
local Ray cluster with 1 and 2 replicas, over the same items (the default model unless
``--model``). The Ray rows against the in-process row of the same max-batch give Ray's overhead.

On a 2-core machine two replicas share the two cores, so they do not double throughput: the
numbers say what the machinery costs, not what a cluster gives.

    python benchmarks/batch_throughput.py [--items 48] [--max-tokens 16] [--ray-batch 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import print_table, run_metadata, write_json

import awrs
from awrs import batch

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string", "maxLength": 12}, "age": {"type": "integer", "minimum": 0, "maximum": 120}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def items(n: int, max_tokens: int) -> list[dict]:
    """A mix: JSON objects, dates, choices (a third each), SMC with 2 particles."""
    out = []
    for i in range(n):
        item: dict = {"id": f"i{i}", "max_tokens": max_tokens}
        if i % 3 == 0:
            item.update(prompt=f"Describe person number {i} as JSON.", json_schema=PERSON)
        elif i % 3 == 1:
            item.update(prompt=f"Give a date in year {1900 + i}.", regex=r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
        else:
            item.update(prompt=f"Is {i} even? Answer yes or no.", choice=["yes", "no"])
        out.append(item)
    return out


def measure(name: str, run, folder: Path) -> dict:
    out = folder / f"{name}.jsonl"
    summary = run(out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    return {
        "run": name,
        "items": summary.written,
        "seconds": summary.seconds,
        "startup_s": summary.startup_seconds,
        "items_per_s": summary.written / summary.seconds,
        "items_per_s_after_startup": summary.written / (summary.seconds - summary.startup_seconds),
        "tokens_per_s": summary.tokens / summary.seconds,
        "valid": sum(r["valid"] for r in records),
        "errors": summary.errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--ray-batch", type=int, default=8)
    parser.add_argument("--model", default=None)
    parser.add_argument("--backend", default="transformers")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    data = items(args.items, args.max_tokens)
    defaults = {"method": "smc", "n_particles": 2, "max_new_tokens": args.max_tokens}
    lm = awrs.load_model(args.model, backend=args.backend)
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for b in args.batches:
            found.append(
                measure(
                    f"local, max-batch {b}",
                    lambda out, b=b: batch.run_local(lm, list(data), out, max_batch=b, defaults=defaults, progress=False),
                    folder,
                )
            )
            print(found[-1], file=sys.stderr, flush=True)
        if not args.no_ray:
            import ray

            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            for replicas in (1, 2):
                found.append(
                    measure(
                        f"ray, {replicas} replica{'s' if replicas > 1 else ''}, max-batch {args.ray_batch}",
                        lambda out, r=replicas: batch.run_ray(
                            args.model,
                            list(data),
                            out,
                            replicas=r,
                            max_batch=args.ray_batch,
                            load={"backend": args.backend},
                            defaults=defaults,
                            progress=False,
                        ),
                        folder,
                    )
                )
                print(found[-1], file=sys.stderr, flush=True)
            ray.shutdown()
    base = next((r for r in found if r["run"] == f"local, max-batch {args.ray_batch}"), None)
    for r in found:
        r["vs_local_same_batch"] = r["items_per_s"] / base["items_per_s"] if base else float("nan")
        r["after_startup_vs_local"] = r["items_per_s_after_startup"] / base["items_per_s"] if base else float("nan")
    columns = ["run", "items", "seconds", "startup_s", "items_per_s", "items_per_s_after_startup", "tokens_per_s", "valid"]
    print_table(found, [*columns, "errors", "vs_local_same_batch", "after_startup_vs_local"])
    print(f"\nwrote {write_json('batch_throughput', run_metadata(vars(args)), found, args.out)}")


if __name__ == "__main__":
    main()
