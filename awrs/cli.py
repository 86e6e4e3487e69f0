"""The ``awrs`` command. Errors print one line and exit non-zero."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from awrs._version import __version__
from awrs.errors import AwrsError

__all__ = ["main"]

DEMO_PROMPT = [{"role": "user", "content": "What is the e-mail address of Jane Doe, who works at Acme?"}]
DEMO_PATTERN = r"[a-z]+(\.[a-z]+)?@acme\.com"


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
    demo.add_argument("--max-new-tokens", type=int, default=24)
    demo.add_argument("--particles", type=int, default=4)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--model", default=None, help="a Hugging Face id or local path (default: embedded SmolLM2-135M)")
    demo.add_argument("--device", default=None)
    demo.set_defaults(func=_demo)
    return parser


def _demo(args: argparse.Namespace) -> int:
    """Constrained generation on the default model: the output, its weight and the cost."""
    from awrs.constraints.regex import Regex
    from awrs.generate import generate
    from awrs.lm.loading import load_model

    started = time.perf_counter()
    lm = load_model(args.model, device=args.device)
    print(f"model: {lm} (loaded in {time.perf_counter() - started:.1f} s)")
    constraint = Regex(DEMO_PATTERN)
    print(f"prompt: {DEMO_PROMPT[0]['content']}")
    print(f"constraint: {constraint}")
    result = generate(
        lm, DEMO_PROMPT, constraint, method="smc", n_particles=args.particles,
        max_new_tokens=args.max_new_tokens, seed=args.seed,
    )
    print(f"output: {result.text}")
    print(f"valid: {result.valid} ({result.stop_reason})")
    print(f"log weight (log P(valid) estimate): {result.log_ml:.3f}")
    for text, prob in list(result.posterior.items())[:5]:
        print(f"  posterior {prob:.3f}  {text}")
    s = result.stats
    print(f"tokens/s: {s.tokens_per_second:.1f} ({args.particles} particles, {s.tokens} tokens in {s.seconds:.1f} s)")
    print(f"constraint checks per token: {s.checks_per_token:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
