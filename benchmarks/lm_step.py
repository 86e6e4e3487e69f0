"""Time per generated token: the awrs backend against ``model.generate``, greedy, same model,
prompt and number of tokens, at batch 1 and 8, in one run.

Both sides do one forward pass per token (a prefill, then one step per further token). The
decode time per token is measured from the first generated token to the last, so the
prefill (which ``generate`` repeats for every row of a batch, and awrs runs once and copies)
is reported apart from it.

    python benchmarks/lm_step.py [--tokens 64] [--repeats 3] [--batches 1 8] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from _common import median, print_table, run_metadata, write_json

import awrs

PROMPT = [{"role": "user", "content": "Tell me a long story about a lighthouse keeper."}]


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


def time_awrs(lm, prompt: list[int], batch: int, tokens: int) -> tuple[float, float]:
    start = time.perf_counter()
    rows = lm.start([prompt], copies=batch)
    first = None
    for i in range(tokens):
        chosen = rows.logprobs().argmax(axis=1)
        if first is None:
            first = time.perf_counter()
        if i < tokens - 1:
            rows.extend(chosen.tolist())
    end = time.perf_counter()
    return (end - start) / tokens, (end - first) / (tokens - 1)


def time_generate(lm, prompt: list[int], batch: int, tokens: int) -> tuple[float, float]:
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
    decode = (end - clock.times[0]) / (tokens - 1) if clock.times else float("nan")
    return (end - start) / tokens, decode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    lm = awrs.load_model(args.model, device=args.device)
    prompt = lm.encode_prompt(PROMPT)
    time_awrs(lm, prompt, 1, 4)  # warm-up: first-call allocations
    time_generate(lm, prompt, 1, 4)

    rows = []
    for batch in args.batches:
        samples = {"awrs": [], "generate": []}
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
            samples["awrs"].append(time_awrs(lm, prompt, batch, args.tokens))
            samples["generate"].append(time_generate(lm, prompt, batch, args.tokens))
        for name, s in samples.items():
            rows.append(
                {
                    "method": name,
                    "batch": batch,
                    "ms_per_token": 1000 * median([t for t, _ in s]),
                    "decode_ms_per_token": 1000 * median([d for _, d in s]),
                }
            )
    base = {(r["method"], r["batch"]): r["ms_per_token"] for r in rows}
    for r in rows:
        r["vs_generate"] = r["ms_per_token"] / base[("generate", r["batch"])]
        r["vs_batch1"] = r["ms_per_token"] / base[(r["method"], args.batches[0])]
    print_table(rows, ["method", "batch", "ms_per_token", "decode_ms_per_token", "vs_generate", "vs_batch1"])
    params = {**vars(args), "prompt": PROMPT, "model_repr": repr(lm), "greedy": True}
    path = write_json("lm_step", run_metadata(params), rows, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
