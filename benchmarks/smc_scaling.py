"""Time per SMC step for N = 1, 2, 4, 8, 16 particles, as the ratio to N = 1, in one run.

Every particle runs the whole budget (the constraint asks for more text than the budget
allows), so each step is one batched forward pass over N rows plus N AWRS steps. Reported:
ms per step (all of it), of which the sampling part (proposals, constraint checks,
resampling: awrs's own time) and the rest (the model's forward pass and its
log-probabilities), and the ratio of the step time to N = 1. On a GPU (``--device cuda``) try N up to 64.

``--shape`` times a model of that shape with random weights instead (benchmarks/_random_model.py:
``smollm2-135m``, ``llama-1b``), with the tokenizer of ``--folder`` (default: the default
model's); a forward pass costs the same whatever the weights, so a GPU needs no trained
checkpoint of that size (and no model hub) for these timings.

    python benchmarks/smc_scaling.py [--particles 1 2 4 8 16] [--tokens 32] [--repeats 2]
    python benchmarks/smc_scaling.py --shape llama-1b --device cuda --dtype bfloat16 --particles 1 4 16 64
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median, print_table, run_metadata, write_json
from _random_model import SHAPES, random_model, tokenizer_folder

import awrs
from awrs._cache import cache_root

PROMPT = [{"role": "user", "content": "Write a long, calm paragraph about the sea, in lowercase."}]
PATTERN = r"[a-z ,.]{400}"  # longer than any budget here: no particle ends early


def time_steps(lm, n: int, tokens: int, seed: int) -> tuple[float, float]:
    result = awrs.generate(
        lm,
        PROMPT,
        awrs.Regex(PATTERN),
        method="smc",
        n_particles=n,
        ess_threshold=0.5,
        max_new_tokens=tokens,
        seed=seed,
    )
    s = result.stats
    steps = max(s.forward_passes - 1, 1)
    return 1000 * (s.seconds - s.prefill_seconds) / steps, 1000 * s.sampling_seconds / steps


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--particles", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--backend", default="auto", choices=["auto", "transformers", "llama_cpp"])
    parser.add_argument("--shape", default=None, choices=sorted(SHAPES), help="random weights of this shape (no --model)")
    parser.add_argument(
        "--folder", default=None, help="the tokenizer and config files for --shape (default: the default model's)"
    )
    parser.add_argument("--dtype", default="float32", help="the random model's dtype (float32, bfloat16, float16)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    if args.shape is not None:
        folder = Path(args.folder) if args.folder else tokenizer_folder(cache_root() / "benchmarks" / "tokenizer")
        lm = random_model(args.shape, folder, device=args.device, dtype=args.dtype)
    else:
        lm = awrs.load_model(args.model, device=args.device, backend=args.backend)
    time_steps(lm, 1, 4, 0)  # warm-up
    samples: dict[int, list[tuple[float, float]]] = {n: [] for n in args.particles}
    for r in range(args.repeats):  # interleaved so machine load drifts hit every N alike
        for n in args.particles:
            samples[n].append(time_steps(lm, n, args.tokens, seed=r))
    base = median([t for t, _ in samples[args.particles[0]]])
    rows = []
    for n in args.particles:
        ms = median([t for t, _ in samples[n]])
        sampling = median([s for _, s in samples[n]])
        rows.append({"particles": n, "ms_per_step": ms, "sampling_ms": sampling, "model_ms": ms - sampling, "vs_n1": ms / base})
    print_table(rows, ["particles", "ms_per_step", "model_ms", "sampling_ms", "vs_n1"])
    params = {**vars(args), "prompt": PROMPT, "pattern": PATTERN, "model_repr": repr(lm)}
    path = write_json("smc_scaling", run_metadata(params), rows, args.out)
    print(f"wrote {path}")
    return {"rows": rows}


if __name__ == "__main__":
    main()
