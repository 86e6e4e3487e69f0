"""The ``awrs`` command. Errors print one line and exit non-zero."""

from __future__ import annotations

import argparse
import codecs
import sys
import time
from collections.abc import Sequence

import numpy as np

from awrs._version import __version__
from awrs.errors import AwrsError

__all__ = ["main"]

DEMO_PROMPT = [{"role": "user", "content": "Write one sentence about the sea."}]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AwrsError as exc:
        print(f"awrs: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("awrs: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="awrs", description="Constrained generation with adaptive weighted rejection sampling.")
    parser.add_argument("--version", action="version", version=f"awrs {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the main job on the embedded default model")
    demo.add_argument("--max-new-tokens", type=int, default=48)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--model", default=None, help="a Hugging Face id or local path (default: embedded SmolLM2-135M)")
    demo.add_argument("--device", default=None)
    demo.set_defaults(func=_demo)
    return parser


def _demo(args: argparse.Namespace) -> int:
    """Stream a sampled answer from the default model and report tokens per second."""
    from awrs.lm.loading import load_model

    started = time.perf_counter()
    lm = load_model(args.model, device=args.device)
    print(f"model: {lm} (loaded in {time.perf_counter() - started:.1f} s)")
    print(f"prompt: {DEMO_PROMPT[0]['content']}")
    rng = np.random.default_rng(args.seed)
    batch = lm.start([lm.encode_prompt(DEMO_PROMPT)])
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    vocab = lm.vocab
    started = time.perf_counter()
    n = 0
    sys.stdout.write("output: ")
    for n in range(1, args.max_new_tokens + 1):
        probs = np.exp(batch.logprobs()[0].astype(np.float64))
        token = int(rng.choice(len(probs), p=probs / probs.sum()))
        if token in vocab.eos_ids:
            break
        sys.stdout.write(decoder.decode(vocab.tokens[token]))
        sys.stdout.flush()
        batch.extend([token])
    elapsed = time.perf_counter() - started
    print(decoder.decode(b"", final=True))
    print(f"tokens: {n}, {n / elapsed:.1f} tokens/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
