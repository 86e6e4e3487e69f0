"""The ``awrs`` command.

    awrs generate --json-schema person.json "Describe a person as JSON."
    awrs generate --regex '\\d{4}-\\d{2}-\\d{2}' --method smc --particles 8 "When did it happen?"
    awrs generate --sql-schema db.sqlite "How many singers are there?"
    awrs generate --sql-schema db.sqlite --critic executes "How many singers are there?"
    awrs check --json-schema person.json out.json
    awrs bench pattern-matching --limit 50
    awrs demo

Errors print one line (``awrs: error: ...``) and exit with status 2 (with ``--json``, a
JSON record ``{"valid": false, "error": ...}`` goes to standard output as well); an output
or text that is not valid exits with 1; Ctrl-C exits with 130. ``--traceback`` shows the
Python traceback of an error instead. JSON output is strict JSON: a weight of -inf is
``null``.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import re
import runpy
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from awrs._platform import settle_heap
from awrs._version import __version__
from awrs.errors import AwrsError
from awrs.lm.loading import BACKENDS
from awrs.result import METHODS, json_ready

if TYPE_CHECKING:
    from awrs.constraints.base import Constraint
    from awrs.lm.base import LanguageModel, Prompt
    from awrs.result import Result

__all__ = ["main"]

DEMO_PROMPT = [{"role": "user", "content": "What is the e-mail address of Jane Doe, who works at Acme?"}]
DEMO_PATTERN = r"[a-z]+(\.[a-z]+)?@acme\.com"
#: The token budget of ``generate`` when none is given.
DEFAULT_MAX_NEW_TOKENS = 256
#: ... and with ``--sql-schema``: 96 tokens (SmolLM2's tokenizer) hold 96% of the 1,034
#: Spider dev gold queries (median 26). SMC runs until its slowest particle stops, so the
#: budget bounds the call's time: about 10 s of forward passes for 5 particles on 2 CPU cores.
SQL_MAX_NEW_TOKENS = 96


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("awrs: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.traceback:
            raise
        return _fail(args, _message(exc))


def _message(exc: Exception) -> str:
    """One line saying what went wrong: the error's own first line for errors a user causes
    (AwrsError, OSError, ValueError), and its type besides for anything else."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, (AwrsError, OSError, ValueError)):
        return text or type(exc).__name__
    return f"unexpected {type(exc).__name__}: {text} (rerun with --traceback for the details, and please report it)"


def _fail(args: argparse.Namespace, message: str) -> int:
    """Print the error line on standard error (and a JSON record on standard output when
    --json asked for JSON), and return the exit status 2."""
    print(f"awrs: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(_dumps({"valid": False, "error": message}))
    return 2


def _dumps(record: Any) -> str:
    """Strict JSON (RFC 8259): non-finite floats (a weight of -inf) become null."""
    return json.dumps(json_ready(record), allow_nan=False)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="awrs", description="Constrained generation with adaptive weighted rejection sampling.")
    parser.add_argument("--version", action="version", version=f"awrs {__version__}")
    parser.add_argument("--traceback", action="store_true", help="on an error, show the Python traceback")
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="generate text that satisfies a constraint")
    gen.add_argument("prompt", nargs="?", help="the prompt (default: --prompt-file, else standard input)")
    gen.add_argument("--prompt-file", help="read the prompt from this file")
    _constraint_options(gen)
    gen.add_argument("--method", choices=METHODS, default="smc")
    gen.add_argument("--particles", type=int, default=5, help="SMC particles (default 5)")
    gen.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help=f"token budget (default {DEFAULT_MAX_NEW_TOKENS}; {SQL_MAX_NEW_TOKENS} with --sql-schema)",
    )
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument(
        "--stop",
        action="append",
        default=[],
        help="a string that also ends generation (repeatable), e.g. '\\n' (with --sql-schema: '\\n' unless given)",
    )
    gen.add_argument(
        "--raw",
        action="store_true",
        help="send the prompt as is: no chat template, and with --sql-schema no tables or instructions added",
    )
    gen.add_argument(
        "--critic",
        choices=["executes"],
        default=None,
        help="with --sql-schema: weight SMC particles by whether their query runs on the database (read-only)",
    )
    gen.add_argument(
        "--model", default=None, help="a Hugging Face id, a local folder or a .gguf file (default: the embedded SmolLM2-135M)"
    )
    gen.add_argument("--device", default=None)
    gen.add_argument("--backend", default="auto", choices=BACKENDS, help="auto: llama.cpp for a GGUF when installed")
    gen.add_argument("-v", "--verbose", action="store_true", help="show the model's loading progress and messages")
    gen.add_argument("--json", action="store_true", help="print a JSON object with the output, weights and stats")
    gen.add_argument(
        "--think",
        action="store_true",
        help="the model reasons first, between its reasoning tags, then answers under the constraint "
        "(the reasoning goes to standard error, or into --json's record)",
    )
    gen.add_argument("--max-think-bytes", type=int, default=None, help="with --think: the most bytes of reasoning")
    gen.set_defaults(func=_generate)

    check = commands.add_parser("check", help="does a text satisfy a constraint? (exit status 0 if so, 1 if not)")
    check.add_argument("text", nargs="?", help="a file with the text, or - for standard input (default)")
    _constraint_options(check)
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check.set_defaults(func=_check)

    batch = commands.add_parser(
        "batch",
        help="constrained generation over a JSONL dataset, resumable; in-process or on a Ray cluster (docs/batch.md)",
        description="Each input line: {id, prompt, and one of json_schema, regex, grammar, choice, sql, constraint}, "
        "with optional method, n_particles, seed, max_tokens, temperature, stop. Each output line: the id, text, "
        "value, valid, stop_reason, log_weight, log_ml, stats, error. A re-run with the same output skips the ids "
        "already there.",
    )
    batch.add_argument("input", help="the items, one JSON object per line")
    batch.add_argument("output", help="the records, one JSON object per line (appended; existing ids are skipped)")
    batch.add_argument("--constraints", metavar="FILE", help="named constraints: {name: {json_schema|regex|...: ...}}")
    batch.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="run on a Ray cluster (ADDRESS, e.g. ray://host:10001 or auto; none: a local one); needs awrs[ray]",
    )
    batch.add_argument("--replicas", type=int, default=2, help="with --ray: model replicas (actors), default 2")
    batch.add_argument("--gpus-per-replica", type=float, default=0.0, help="with --ray: GPUs each replica takes")
    batch.add_argument(
        "--cpus-per-replica", type=int, default=None, help="with --ray: CPUs each replica takes (default: shared out)"
    )
    batch.add_argument("--max-batch", type=int, default=16, help="items that run in one batch (default 16)")
    batch.add_argument("--method", choices=METHODS, default="smc", help="the default method (an item may set its own)")
    batch.add_argument("--particles", type=int, default=4, help="SMC particles by default (default 4)")
    batch.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS, help="the default token budget")
    batch.add_argument("--posterior", action="store_true", help="write each item's posterior over outputs too")
    batch.add_argument("--model", default=None, help="a Hugging Face id, a local folder or a .gguf file (default: SmolLM2)")
    batch.add_argument("--device", default=None)
    batch.add_argument("--backend", default="auto", choices=BACKENDS, help="auto: llama.cpp for a GGUF when installed")
    batch.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    batch.set_defaults(func=_batch)

    bench = commands.add_parser(
        "bench", help="run a benchmark by name (in a checkout of awrs; results under ./benchmarks/results)"
    )
    bench.add_argument("name", help="e.g. pattern-matching, json-conformance, compare")
    bench.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the benchmark")
    bench.set_defaults(func=_bench)

    serve = commands.add_parser(
        "serve",
        help="an OpenAI-compatible server with a playground page (needs: pip install 'awrs[server]')",
        description="Serve one model with the OpenAI API (/v1/chat/completions, /v1/completions, /v1/models, "
        "/health) and a playground page at /. Requests from all clients share one batch (continuous batching). "
        "Constraints: response_format (json_schema, json_object), guided_json, guided_regex, guided_choice, "
        "guided_grammar, structured_outputs, sql_database; awrs's own fields method, n_particles, ess_threshold. "
        "docs/serving.md has the details and client examples.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="the address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--model", default=None, help="a Hugging Face model id or path, or a .gguf file (default: the embedded model)"
    )
    serve.add_argument("--model-name", default=None, help="the id clients name in 'model' (default: the model's name)")
    serve.add_argument("--backend", default="auto", choices=BACKENDS, help="auto: llama.cpp for a GGUF when installed")
    serve.add_argument("--device", default=None)
    serve.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: half the cores)")
    serve.add_argument(
        "--api-key",
        default=None,
        help="require 'Authorization: Bearer KEY' on /v1/* (default: $AWRS_API_KEY if set, else none; "
        "prefer the variable: other users of the machine can read command lines)",
    )
    serve.add_argument("--max-tokens", type=int, default=512, help="the default and largest max_tokens a request may ask for")
    serve.add_argument("--max-particles", type=int, default=64, help="the largest n_particles a request may ask for")
    serve.add_argument("--max-pending", type=int, default=256, help="choices held at once (queued and running); more get 503")
    serve.add_argument(
        "--sql-db",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a SQLite database requests may name in sql_database (repeatable)",
    )
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("-v", "--verbose", action="store_true", help="show the model's loading progress and messages")
    serve.set_defaults(func=_serve)

    demo = commands.add_parser("demo", help="constrained generation on the embedded default model")
    demo.add_argument("--max-new-tokens", type=int, default=24)
    demo.add_argument("--particles", type=int, default=4)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--model", default=None)
    demo.add_argument("--device", default=None)
    demo.add_argument("--backend", default="auto", choices=BACKENDS, help="auto: llama.cpp for a GGUF when installed")
    demo.add_argument("-v", "--verbose", action="store_true", help="show the model's loading progress and messages")
    demo.set_defaults(func=_demo)
    return parser


def _constraint_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--regex", help="a regular expression the output must fully match")
    group.add_argument("--json-schema", metavar="FILE", help="a JSON Schema file (or inline JSON)")
    group.add_argument(
        "--grammar", metavar="FILE", help="a Lark grammar file, or the name of a shipped grammar (sql, json, arithmetic)"
    )
    group.add_argument(
        "--sql-schema",
        metavar="DB",
        help="a SQLite database file (read-only); the output is one line of SQL over its tables, "
        "and the prompt, a question, is sent with the tables and an example",
    )
    group.add_argument("--choice", nargs="+", metavar="OPTION", help="the output is one of these strings")
    group.add_argument(
        "--tools",
        metavar="FILE",
        help="tools (OpenAI format, a JSON list; a file or inline): free text with tool calls that match them",
    )
    p.add_argument("--start", default="start", help="the grammar's start rule (with --grammar)")


def _constraint(args: argparse.Namespace) -> Constraint | None:
    import awrs

    if args.regex is not None:
        return awrs.Regex(args.regex)
    if args.json_schema is not None:
        text = args.json_schema
        return awrs.JsonSchema(Path(text).read_text() if not text.lstrip().startswith("{") else text)
    if args.grammar is not None:
        from awrs import grammars

        text = grammars.load(args.grammar) if args.grammar in grammars.names() else Path(args.grammar).read_text()
        return awrs.Grammar(text, start=args.start)
    if args.sql_schema is not None:
        return awrs.SQL(args.sql_schema)
    if args.choice is not None:
        return awrs.Choice(args.choice)
    if getattr(args, "tools", None) is not None:
        text = args.tools
        try:
            tools = json.loads(text if text.lstrip().startswith("[") else Path(text).read_text())
        except ValueError as exc:
            raise AwrsError(f"--tools: not a JSON list of tools: {exc}") from None
        return awrs.ToolCalls(tools)
    return None


def _read_prompt(args: argparse.Namespace) -> str:
    if args.prompt is not None:
        prompt: str = args.prompt  # argparse gives a str argument as str
        return prompt
    if args.prompt_file is not None:
        return Path(args.prompt_file).read_text()
    if sys.stdin.isatty():
        raise AwrsError("no prompt: give it as an argument, with --prompt-file, or on standard input")
    return sys.stdin.read()


def _generate(args: argparse.Namespace) -> int:
    from awrs.generate import generate
    from awrs.lm.loading import load_model

    constraint = _constraint(args)
    critic = _critic(args)
    text = _read_prompt(args)
    stop = [_unescape(s) for s in args.stop] or (["\n"] if args.sql_schema is not None else [])
    max_new_tokens = args.max_new_tokens
    if max_new_tokens is None:
        max_new_tokens = SQL_MAX_NEW_TOKENS if args.sql_schema is not None else DEFAULT_MAX_NEW_TOKENS
    lm = load_model(args.model, backend=args.backend, device=args.device, verbose=args.verbose)
    prompt = _prompt(args, lm, text, constraint)
    if args.think or args.max_think_bytes is not None:
        from awrs.constraints import Unconstrained
        from awrs.structured import thinking

        constraint = thinking(lm, prompt, constraint or Unconstrained(), True, args.max_think_bytes)
    progress = _progress(max_new_tokens * (args.particles if args.method == "smc" else 1))

    def count(particle: int, token: int) -> None:
        if progress is not None:
            progress.update(1)

    try:
        result = generate(
            lm,
            prompt,
            constraint,
            method=args.method,
            n_particles=args.particles,
            max_new_tokens=max_new_tokens,
            temperature=args.temperature,
            seed=args.seed,
            stop=stop,
            critic=critic,
            on_token=count if progress is not None else None,
        )
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        print(_dumps(_record(result)))
    else:
        if result.reasoning is not None:
            print(f"awrs: reasoning: {result.reasoning}", file=sys.stderr)
        print(result.text)
        if not result.valid:
            print(f"awrs: warning: the output is not valid ({result.stop_reason})", file=sys.stderr)
    return 0 if result.valid else 1


def _batch(args: argparse.Namespace) -> int:
    from awrs import batch

    if args.max_batch < 1 or args.replicas < 1 or args.particles < 1:
        raise AwrsError("--max-batch, --replicas and --particles must be positive")
    named = None
    if args.constraints is not None:
        try:
            named = json.loads(Path(args.constraints).read_text())
        except ValueError as exc:
            raise AwrsError(f"--constraints: {args.constraints} is not JSON: {exc}") from None
        if not isinstance(named, dict):
            raise AwrsError("--constraints must hold a JSON object {name: {json_schema|regex|grammar|choice|sql: ...}}")
    if not Path(args.input).is_file():
        raise AwrsError(f"no such input file: {args.input}")
    defaults = {"method": args.method, "n_particles": args.particles, "max_new_tokens": args.max_new_tokens}
    items = batch.read_items(args.input)
    options = {"max_batch": args.max_batch, "named": named, "defaults": defaults, "posterior": args.posterior}
    load = {"backend": args.backend, "device": args.device}
    if args.ray is not None:
        summary = batch.run_ray(
            args.model,
            items,
            args.output,
            address=args.ray or None,
            replicas=args.replicas,
            gpus_per_replica=args.gpus_per_replica,
            cpus_per_replica=args.cpus_per_replica,
            load=load,
            progress=not args.quiet,
            **options,
        )
    else:
        from awrs.lm.loading import load_model

        lm = load_model(args.model, **load)
        settle_heap()  # a long job: the model and the imports out of the collector's full passes
        summary = batch.run_local(lm, items, args.output, progress=not args.quiet, **options)
    print(f"awrs batch: {summary.line()}", file=sys.stderr)
    return 0


def _critic(args: argparse.Namespace) -> Callable[[str], float] | None:
    if args.critic is None:
        return None
    if args.sql_schema is None:
        raise AwrsError("--critic executes runs each query on the database of --sql-schema: give --sql-schema DB")
    from awrs.sql import executes

    return executes(args.sql_schema)


def _prompt(args: argparse.Namespace, lm: LanguageModel, text: str, constraint: Constraint | None) -> Prompt:
    """The prompt as the model gets it: chat messages when its tokenizer has a chat template,
    and with --sql-schema the question with the tables and an example (unless --raw)."""
    has_template = bool(getattr(getattr(lm, "tokenizer", None), "chat_template", None))
    if args.raw:
        return text
    if args.sql_schema is not None:
        from awrs.sql import SQL
        from awrs.sql import prompt as sql_prompt

        assert isinstance(constraint, SQL), "--sql-schema makes an SQL constraint"
        return sql_prompt(constraint, text, chat=has_template)
    return [{"role": "user", "content": text}] if has_template else text


def _record(result: Result) -> dict[str, Any]:
    """The --json record of a generation (also when its output is not valid)."""
    s = result.stats
    return {
        "text": result.text,
        "valid": result.valid,
        "stop_reason": result.stop_reason,
        "log_ml": result.log_ml,
        "posterior": result.posterior,
        "method": result.method,
        "reasoning": result.reasoning,
        "tool_calls": result.tool_calls,
        "particles": [{"text": p.text, "log_weight": p.log_weight, "valid": p.valid} for p in result.particles],
        "stats": {
            "tokens": s.tokens,
            "constraint_checks": s.constraint_checks,
            "checks_per_token": s.checks_per_token,
            "seconds": s.seconds,
            "tokens_per_second": s.tokens_per_second,
        },
    }


_ESCAPE = re.compile(r"\\(?:[\\nrt0]|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4})")


def _unescape(text: str) -> str:
    """--stop's backslash escapes (\\n, \\t, \\r, \\0, \\\\, \\xNN, \\uNNNN); every other
    character stays as typed, non-ASCII ones included."""
    return _ESCAPE.sub(lambda m: codecs.decode(m.group(0), "unicode_escape"), text)


class _Counter(Protocol):
    """What the CLI uses of a tqdm progress bar."""

    def update(self, n: int = 1) -> object: ...

    def close(self) -> None: ...


def _progress(total: int) -> _Counter | None:
    """A token counter on standard error when it is a terminal (quiet otherwise)."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    counter: _Counter = tqdm(total=total, desc="tokens", unit="tok", leave=False)
    return counter


def _check(args: argparse.Namespace) -> int:
    constraint = _constraint(args)
    if constraint is None:
        raise AwrsError("say what to check against: --regex, --json-schema, --grammar, --sql-schema or --choice")
    data = sys.stdin.buffer.read() if args.text in (None, "-") else Path(args.text).read_bytes()
    data = data.rstrip(b"\n") if not constraint.accepts(data) else data
    offset = constraint.first_violation(data)
    if args.json:
        print(_dumps({"valid": offset is None, "first_violation": offset, "complete_prefix": offset == len(data)}))
    elif offset is None:
        print("valid")
    elif offset == len(data):
        print(f"invalid: the text is a valid beginning but incomplete (after byte {offset})")
    else:
        print(
            f"invalid: the text stops being valid at byte {offset}: {data[max(0, offset - 20) : offset + 1].decode(errors='replace')!r}"
        )
    return 0 if offset is None else 1


def _bench(args: argparse.Namespace) -> int:
    """Run a benchmark script of a checkout of awrs (the scripts and their data are not in the
    wheel). Results go where the script writes them by default: under the current
    directory (``benchmarks/results/``), or to its ``--out``."""
    root = _benchmarks_folder()
    runnable = {p.stem.replace("_", "-"): p for p in root.glob("*.py") if _is_script(p)}
    script = runnable.get(args.name.replace("_", "-"))
    if script is None:
        raise AwrsError(f"no benchmark {args.name!r} in {root}; available: {', '.join(sorted(runnable)) or 'none'}")
    sys.argv = [str(script), *args.args]
    sys.path.insert(0, str(root))
    os.environ.setdefault("TQDM_DISABLE", "0" if sys.stderr.isatty() else "1")
    runpy.run_path(str(script), run_name="__main__")
    return 0


def _benchmarks_folder() -> Path:
    """The benchmarks/ folder of a checkout of awrs: the current directory's, else the one
    beside this package (an editable install). Raises AwrsError saying what to do if neither
    exists (an installed wheel has no benchmarks)."""
    here = Path(__file__).resolve().parents[1]
    for folder in (Path.cwd() / "benchmarks", here / "benchmarks"):
        if (folder / "_common.py").is_file():
            return folder
    raise AwrsError(
        "awrs bench runs the benchmark scripts of a checkout of awrs, and the installed package has none: "
        "run it from the root of a checkout (git clone the awrs repository, cd into it, then awrs bench NAME), "
        "or run python benchmarks/NAME.py there"
    )


def _is_script(path: Path) -> bool:
    """A benchmark script, not a helper module (peers.py, _common.py)."""
    return not path.stem.startswith("_") and 'if __name__ == "__main__":' in path.read_text()


def _serve(args: argparse.Namespace) -> int:
    from awrs import server
    from awrs.lm.default_model import DEFAULT_MODEL
    from awrs.lm.loading import load_model

    server._require()  # before minutes of loading, say what is missing
    databases = {}
    for item in args.sql_db:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path).is_file():
            raise AwrsError(f"--sql-db takes NAME=PATH with an existing SQLite file, got {item!r}")
        databases[name] = path
    lm = load_model(args.model, backend=args.backend, device=args.device, n_threads=args.threads, verbose=args.verbose)
    name = args.model_name or (Path(args.model).name if args.model else DEFAULT_MODEL)
    api_key = args.api_key or os.environ.get("AWRS_API_KEY") or None
    if api_key is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"awrs: warning: serving on {args.host} with no API key: anyone who can reach it can use it", file=sys.stderr)
    print(
        f"awrs {__version__}: serving {name} ({type(lm).__name__}) on http://{args.host}:{args.port}/",
        file=sys.stderr,
        flush=True,
    )
    server.serve(
        lm,
        model_name=name,
        host=args.host,
        port=args.port,
        api_key=api_key,
        max_pending=args.max_pending,
        databases=databases,
        log_level=args.log_level,
        max_tokens=args.max_tokens,
        max_particles=args.max_particles,
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    """Constrained generation on the default model: the output, its weight and the cost."""
    from awrs.constraints.regex import Regex
    from awrs.generate import generate
    from awrs.lm.loading import load_model

    started = time.perf_counter()
    lm = load_model(args.model, backend=args.backend, device=args.device, verbose=args.verbose)
    print(f"model: {lm} (loaded in {time.perf_counter() - started:.1f} s)")
    constraint = Regex(DEMO_PATTERN)
    print(f"prompt: {DEMO_PROMPT[0]['content']}")
    print(f"constraint: {constraint}")
    result = generate(
        lm, DEMO_PROMPT, constraint, method="smc", n_particles=args.particles, max_new_tokens=args.max_new_tokens, seed=args.seed
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
