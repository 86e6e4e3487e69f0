"""Time per generated token on every backend and dtype, at batch 1, 8 and 32, in one run, and
each one's fidelity to transformers float32 (the reference).

Backends (``--configs``): ``transformers:float32`` (the reference), ``transformers:bfloat16``,
``transformers:int8`` (dynamic int8 quantisation of the linear layers), ``llama_cpp:1`` and
``llama_cpp:2`` (the GGUF as quantised, with 1 or 2 threads), and ``generate`` (transformers'
own ``model.generate`` on float32, greedy, the drop-in baseline). Each row is greedy decoding
of ``--tokens`` tokens from one chat prompt copied to ``batch`` rows: ``decode_ms`` per step
from the first generated token to the last (the forward pass and the argmax), ``prefill_ms``
apart. Configurations are interleaved within each repeat, so drift in the machine's load hits
all alike; the median of the repeats is reported.

Fidelity: for each of a few prompts the reference decodes ``--fidelity-tokens`` tokens greedily;
every backend is then fed the same tokens (teacher forcing, step by step as generation does)
and the KL divergence KL(reference || backend) of the next-token distributions is taken at
every position. Reported: the mean and the max over prompts and positions, and how often the
backend's argmax differs from the reference's.

    python benchmarks/lm_step.py [--tokens 32] [--repeats 3] [--batches 1 8 32] [--configs ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from _common import median, print_table, run_metadata, write_json

import awrs
from awrs.lm.llama_cpp import is_available as llama_cpp_available

PROMPT = [{"role": "user", "content": "Tell me a long story about a lighthouse keeper."}]
FIDELITY_PROMPTS = [
    [{"role": "user", "content": "Tell me a long story about a lighthouse keeper."}],
    [{"role": "user", "content": "Give me a JSON object describing a person with a name and an age."}],
    [{"role": "user", "content": "Write an SQL query that counts the singers older than 30."}],
    "The capital of France is",
]
CONFIGS = ["transformers:float32", "generate", "transformers:bfloat16", "transformers:int8", "llama_cpp:1", "llama_cpp:2"]


def load(config: str):
    backend, _, option = config.partition(":")
    if backend == "generate":
        return awrs.load_model(backend="transformers", dtype="float32")
    if backend == "llama_cpp":
        return awrs.load_model(backend="llama_cpp", n_threads=int(option or 1))
    return awrs.load_model(backend="transformers", dtype=option or "float32")


class _Clock:
    """A transformers streamer that records when each new token arrives (the first put() is the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._seen_prompt = False

    def put(self, value) -> None:
        if not self._seen_prompt:
            self._seen_prompt = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def time_steps(lm, prompt: list[int], batch: int, tokens: int) -> tuple[float, float]:
    """(prefill seconds, decode seconds per token) of greedy decoding through the backend."""
    start = time.perf_counter()
    rows = lm.start([prompt], copies=batch)
    chosen = rows.logprobs().argmax(axis=1)
    first = time.perf_counter()
    for _ in range(tokens - 1):
        rows.extend(chosen.tolist())
        chosen = rows.logprobs().argmax(axis=1)
    end = time.perf_counter()
    return first - start, (end - first) / (tokens - 1)


def time_generate(lm, prompt: list[int], batch: int, tokens: int) -> tuple[float, float]:
    """(prefill seconds, decode seconds per token) of ``model.generate``; the decode clock runs
    from the first token a streamer sees (batch 1), else the prefill is not separated."""
    ids = torch.tensor([prompt] * batch, device=lm.device)
    clock = _Clock()
    start = time.perf_counter()
    with torch.inference_mode():
        out = lm.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            streamer=clock if batch == 1 else None,
            pad_token_id=lm.tokenizer.pad_token_id,
        )
    end = time.perf_counter()
    assert out.shape[1] - ids.shape[1] == tokens, "generate stopped early"
    if not clock.times:
        return float("nan"), (end - start) / tokens
    return clock.times[0] - start, (end - clock.times[0]) / (tokens - 1)


def reference_paths(lm, prompts: list, tokens: int) -> list[tuple[list[int], list[int], np.ndarray]]:
    """(prompt ids, greedy tokens, log-probabilities at each position) of the reference."""
    paths = []
    for prompt in prompts:
        ids = lm.encode_prompt(prompt)
        rows = lm.start([ids])
        chosen, lps = [], []
        for _ in range(tokens):
            lp = rows.logprobs()[0].astype(np.float64)
            lps.append(lp)
            chosen.append(int(np.argmax(lp)))
            rows.extend([chosen[-1]])
        paths.append((ids, chosen, np.stack(lps)))
    return paths


def fidelity(lm, paths) -> dict[str, float]:
    """KL(reference || backend) at every position of the reference's paths, teacher-forced."""
    kls, disagree = [], 0
    for ids, chosen, ref in paths:
        rows = lm.start([ids])
        for pos, token in enumerate(chosen):
            lp = rows.logprobs()[0].astype(np.float64)
            p = np.exp(ref[pos])
            kls.append(float(np.sum(p * (ref[pos] - lp))))
            disagree += int(np.argmax(lp) != np.argmax(ref[pos]))
            rows.extend([token])
    return {"kl_mean": float(np.mean(kls)), "kl_max": float(np.max(kls)), "argmax_differs": disagree / len(kls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--configs", nargs="+", default=CONFIGS, help=f"any of {CONFIGS}")
    parser.add_argument("--fidelity-tokens", type=int, default=32)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    models = {}
    for config in args.configs:
        if config.startswith("llama_cpp") and not llama_cpp_available():
            print(f"skipping {config}: llama-cpp-python is not installed (pip install 'awrs[llama-cpp]')")
            continue
        models[config] = load(config)
    lm0 = next(iter(models.values()))
    prompt = lm0.encode_prompt(PROMPT)
    for config, lm in models.items():  # warm-up: first-call allocations
        (time_generate if config == "generate" else time_steps)(lm, prompt, 1, 4)

    samples: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for batch in args.batches:
        for _ in range(args.repeats):
            for config, lm in models.items():
                timer = time_generate if config == "generate" else time_steps
                samples.setdefault((config, batch), []).append(timer(lm, prompt, batch, args.tokens))
                gc.collect()

    reference = models.get("transformers:float32") or load("transformers:float32")
    paths = reference_paths(reference, FIDELITY_PROMPTS, args.fidelity_tokens)
    quality = {config: fidelity(lm, paths) for config, lm in models.items() if config != "generate"}

    rows = []
    base = {
        b: median([d for _, d in samples[("transformers:float32", b)]])
        for b in args.batches
        if ("transformers:float32", b) in samples
    }
    for (config, batch), s in samples.items():
        decode = median([d for _, d in s])
        row = {
            "config": config,
            "batch": batch,
            "decode_ms": 1000 * decode,
            "prefill_ms": 1000 * median([p for p, _ in s]),
            "speedup_vs_float32": base[batch] / decode if batch in base else float("nan"),
        }
        row.update(quality.get(config, {"kl_mean": float("nan"), "kl_max": float("nan"), "argmax_differs": float("nan")}))
        rows.append(row)
    print_table(rows, ["config", "batch", "decode_ms", "prefill_ms", "speedup_vs_float32", "kl_mean", "kl_max", "argmax_differs"])
    params = {
        **vars(args),
        "prompt": PROMPT,
        "fidelity_prompts": FIDELITY_PROMPTS,
        "models": {c: repr(m) for c, m in models.items()},
    }
    path = write_json("lm_step", run_metadata(params), rows, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
