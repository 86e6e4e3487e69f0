"""awrs's own time per SMC step at N = 1 … 256 particles, the model taken out.

A synthetic model returns fixed, realistic log-probability rows at no cost: rows recorded once
from the default model (SmolLM2-135M-Instruct, its 49,152-token vocabulary) while it writes a
JSON object, cached in the awrs cache directory, and handed out as views: at step t every
particle sees recorded row t. So the numbers measure awrs alone: the sampler's steps (the kept
distribution, the without-replacement draws, the constraint checks), resampling, and the
engine's bookkeeping. A particle that leaves the model's own answer still sees rows of that
answer, which fit its text worse than a real model's would: more rejections, narrowings and
restarts than real runs (pessimistic for the checks). Twins (particles with the same text,
docs/sampler.md "Twins") share their work as they would on a real model; the table gives the
distinct texts per step. Reported per constraint (JSON Schema, a DFA regex, the SQL grammar)
and N: sampler milliseconds per step and particle-steps per second, for the steps made one
particle at a time (the structure before issue 26: each kept distribution, then each walk in
Python; the kept passes themselves are this tree's, float32 weights included) and
for the batched path (``Proposal.propose_rows``: the kept distributions beside the walks, the
walks in one kernel call), in one run.

    python benchmarks/particle_throughput.py [--particles 1 4 16 64 256] [--tokens 24]

With ``--device`` (cuda), the rows are handed out as torch tensors on that device instead, so
the steps take the device path (awrs.sampler.device: each row's first candidates drawn there,
only those copied to the host), and the table sets it against the host path of the same run.
``--folder`` reads the recorded rows and the vocabulary from a folder (``make gpu-pack`` makes
one, with benchmarks/_random_model.py's tokenizer files) where the default model is absent.

    python benchmarks/particle_throughput.py --device cuda --folder .gpu/model
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import print_table, run_metadata, write_json

import awrs
from awrs._cache import cache_root
from awrs.lm.base import log_softmax
from awrs.sampler import proposal


def _walks_module() -> Any:
    """The module of the walks in one kernel call: ``_kernel_walks``, ``_dfa_walks`` in an awrs
    from before it walked every constraint, None in one from before them (PYTHONPATH=<older
    checkout>)."""
    for name in ("_kernel_walks", "_dfa_walks"):
        try:
            return importlib.import_module(f"awrs.sampler.{name}")
        except ImportError:
            continue
    return None


_kernel_walks = _walks_module()

RECORD_TOKENS = 64
PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}},
    "required": ["name", "age", "city"],
}
#: What each kind of row is recorded from: a prompt and the constraint the model answers under.
RECORDINGS = {
    "json": (
        [{"role": "user", "content": "Describe three people as a JSON list of objects with a name, an age and a city."}],
        lambda: awrs.JsonSchema({"type": "array", "items": PERSON}),
    ),
    "sql": (
        None,  # awrs.sql.prompt over Spider's concert_singer tables
        lambda: awrs.SQL(),
    ),
}


def rows_path(kind: str, vocab_size: int, folder: Path | None = None) -> Path:
    """The recorded rows' file: in ``folder``, else in the cache's benchmarks folder."""
    return (cache_root() / "benchmarks" if folder is None else folder) / f"rows-{kind}-{vocab_size}-{RECORD_TOKENS}.npy"


def recorded_rows(kind: str, refresh: bool = False, folder: Path | None = None) -> tuple[np.ndarray, awrs.Vocabulary]:
    """[RECORD_TOKENS, V] float32 log-probabilities of the default model along its greedy answer
    under the ``kind`` recording, recorded once and cached; and the model's vocabulary. From
    ``folder`` (its rows file and tokenizer files) when given: no model is loaded."""
    if folder is not None:
        from _random_model import vocabulary

        vocab = vocabulary(folder)
        path = rows_path(kind, len(vocab), folder)
        if not path.exists():
            raise SystemExit(f"{path} is missing: make gpu-pack copies the recorded rows there")
        return np.load(path), vocab
    lm = awrs.load_model(backend="llama_cpp" if _has_llama() else "transformers")
    path = rows_path(kind, len(lm.vocab))
    if path.exists() and not refresh:
        return np.load(path), lm.vocab
    prompt, make = RECORDINGS[kind]
    if prompt is None:
        prompt = awrs.sql.prompt(
            {"singer": ["singer_id", "name", "country", "age"], "concert": ["concert_id", "theme", "year"]},
            "How many singers are older than 30?",
        )
    result = awrs.generate(lm, prompt, make(), method="lcd", greedy=True, max_new_tokens=RECORD_TOKENS)
    tokens = list(result.particles[0].token_ids) or [lm.vocab.eos_ids[0]]
    batch = lm.start([lm.encode_prompt(prompt)])
    rows = []
    for t in (tokens + [tokens[-1]] * RECORD_TOKENS)[:RECORD_TOKENS]:
        rows.append(batch.logprobs()[0].astype(np.float32))
        batch.extend([t])
    out = np.stack(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out, lm.vocab


def _has_llama() -> bool:
    from awrs.lm.llama_cpp import is_available

    return is_available()


class FixedRows:
    """A language model over ``vocab`` whose rows are recorded ones (no forward pass): at step
    t every row is recorded row t (the model's distribution after t tokens of its own answer,
    as particles that follow it see), handed out as a model hands its rows out: one
    C-contiguous [N, V] float32 array (each row a copy, made before the step's sampling
    clock starts, so it counts as the model's time). Until 8f53a7c the rows were one broadcast
    view (no copy), which no model gives: every row the same 196 KB, always in cache, and
    the kernels read it unvectorised or copied it first."""

    def __init__(self, rows: np.ndarray, vocab: awrs.Vocabulary, device: str | None = None):
        self._vocab = vocab
        self._rows = rows
        self._device_rows = None
        if device is not None:  # the device path: rows as tensors there (_DeviceBatch)
            import torch

            self._device_rows = torch.from_numpy(rows).to(device)

    @property
    def vocab(self) -> awrs.Vocabulary:
        return self._vocab

    @property
    def max_length(self) -> int | None:
        return None

    def encode_prompt(self, prompt) -> list[int]:  # the prompt is never read: rows are fixed
        return [0]

    def start(self, prompts, copies: int = 1) -> _FixedBatch:
        if self._device_rows is not None:
            return _DeviceBatch(self, len(prompts) * copies)
        return _FixedBatch(self, len(prompts) * copies)


class _FixedBatch:
    def __init__(self, lm: FixedRows, size: int):
        self._lm = lm
        self._generated: list[list[int]] = [[] for _ in range(size)]
        self._t = 0

    @property
    def size(self) -> int:
        return len(self._generated)

    @property
    def generated(self) -> list[list[int]]:
        return [list(g) for g in self._generated]

    def logprobs(self, temperature: float = 1.0) -> np.ndarray:
        row = self._lm._rows[min(self._t, len(self._lm._rows) - 1)]
        rows = np.empty((self.size, len(row)), dtype=row.dtype)
        rows[:] = row
        return rows if temperature == 1.0 else log_softmax(rows, temperature)

    def select(self, rows) -> None:
        self._generated = [list(self._generated[r]) for r in rows]

    def extend(self, tokens) -> None:
        for g, t in zip(self._generated, tokens):
            g.append(int(t))
        self._t += 1


class _DeviceBatch(_FixedBatch):
    """The rows as a model on a device hands them to the device path (``logprobs_tensor``):
    an [N, V] float32 tensor there, each row a copy, made and waited for before the step's
    sampling clock starts (the model's time)."""

    @property
    def device(self):
        return self._lm._device_rows.device

    def logprobs_tensor(self, temperature: float = 1.0):
        import torch

        recorded = self._lm._device_rows
        rows = recorded[min(self._t, len(recorded) - 1)].expand(self.size, -1).clone()
        if temperature != 1.0:
            rows = torch.log_softmax(rows / temperature, dim=-1)
        if rows.device.type == "cuda":
            torch.cuda.synchronize(rows.device)
        return rows


def constraints() -> dict[str, tuple[str, awrs.Constraint]]:
    """Each measured constraint and the rows it runs on."""
    return {
        "json": ("json", awrs.JsonSchema({"type": "array", "items": PERSON, "minItems": 3})),
        "regex": (
            "json",
            awrs.Regex(r'\[\s*(\{\s*"name": "[A-Za-z ]+",\s*"age": [0-9]+,\s*"city": "[A-Za-z ]+"\s*\},?\s*){3,}\]'),
        ),
        "sql": ("sql", awrs.SQL()),
    }


def measure(lm: FixedRows, constraint: awrs.Constraint, n: int, tokens: int, seed: int) -> dict[str, float]:
    families: list[int] = []
    propose_rows = proposal.AwrsProposal.propose_rows
    takes_twins = "twins" in inspect.signature(propose_rows).parameters  # an awrs from before twins has none

    def counted(self, rows, checkers, rng, twins=None):
        families.append(len(checkers) if twins is None else len(set(twins)))
        return propose_rows(self, rows, checkers, rng, twins) if takes_twins else propose_rows(self, rows, checkers, rng)

    proposal.AwrsProposal.propose_rows = counted
    recent = getattr(constraint, "_recent", None)
    if recent is not None:  # a grammar: no Earley column kept from the run before
        recent.clear()
    try:
        result = awrs.generate(lm, "x", constraint, method="smc", n_particles=n, max_new_tokens=tokens, seed=seed)
    finally:
        proposal.AwrsProposal.propose_rows = propose_rows
    s = result.stats
    steps = max(s.steps // max(n, 1), 1)
    return {
        "sampler_ms_per_step": 1000 * s.sampling_seconds / max(s.forward_passes - 1, 1),
        "particle_steps_per_s": s.steps / s.sampling_seconds if s.sampling_seconds else float("nan"),
        "checks_per_token": s.checks_per_token,
        "particle_steps": s.steps,
        "steps": steps,
        "resamples": s.n_resamples,
        "distinct_texts_per_step": float(np.mean(families)) if families else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--particles", type=int, nargs="+", default=[1, 4, 16, 64, 256])
    parser.add_argument("--tokens", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=2, help="runs per cell; the least time is kept")
    parser.add_argument("--only", nargs="+", default=None, help="constraints to run (json, regex, sql)")
    parser.add_argument("--refresh", action="store_true", help="record the model's rows again")
    parser.add_argument("--device", default=None, help="the device path against the host path, rows on this device (cuda)")
    parser.add_argument("--folder", default=None, help="the recorded rows and tokenizer files (make gpu-pack), no model loaded")
    parser.add_argument("--helpers", type=int, default=None, help="threads making kept distributions beside the walks")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    folder = Path(args.folder) if args.folder else None
    if args.helpers is not None:  # (default: every core but the walking thread's, proposal.KEPT_HELPERS)
        proposal.KEPT_HELPERS = args.helpers
    args.helpers = getattr(proposal, "KEPT_HELPERS", 1)  # recorded with the parameters
    if args.device is not None:
        _device_table(args, folder)
    else:
        _host_table(args, folder)


def _constraints_run(args: argparse.Namespace, folder: Path | None) -> Iterator[tuple[str, awrs.Constraint, np.ndarray, Any]]:
    """(name, constraint, recorded rows, vocabulary) of each constraint ``--only`` keeps, each
    kind of rows read once."""
    recorded: dict[str, tuple[np.ndarray, Any]] = {}
    for name, (kind, constraint) in constraints().items():
        if args.only and name not in args.only:
            continue
        if kind not in recorded:
            recorded[kind] = recorded_rows(kind, args.refresh, folder)
        yield name, constraint, *recorded[kind]


def _least(lm: FixedRows, constraint: awrs.Constraint, n: int, args: argparse.Namespace) -> dict[str, float]:
    """The run of least sampler time per step over ``args.repeats`` seeds."""
    runs = [measure(lm, constraint, n, args.tokens, seed) for seed in range(args.repeats)]
    return min(runs, key=lambda r: r["sampler_ms_per_step"])


def _host_table(args: argparse.Namespace, folder: Path | None) -> None:
    """Each constraint and N: the steps one particle at a time (structured as before issue 26) and the
    batched steps, in one run, least of the repeats."""
    found = []
    for name, constraint, rows, vocab in _constraints_run(args, folder):
        lm = FixedRows(rows, vocab)
        measure(lm, constraint, 16, args.tokens, 99)  # warm-up: compile the kernels, fill the memo tables
        for n in args.particles:
            started = time.perf_counter()
            best = {}
            for path, parallel_rows in (("one_by_one", 10**9), ("batched", getattr(proposal, "PARALLEL_ROWS", None))):
                if parallel_rows is None:  # an awrs from before propose_rows (PYTHONPATH=<older checkout>): one path
                    best[path] = best["one_by_one"]
                    continue
                default, proposal.PARALLEL_ROWS = getattr(proposal, "PARALLEL_ROWS", None), parallel_rows
                ahead = getattr(proposal, "AHEAD_ROWS", None)  # kept distributions beside the walks (none one by one)
                kernel = getattr(_kernel_walks, "KERNEL_ROWS", None)  # walks in one call (none one by one)
                if path == "one_by_one":
                    if ahead is not None:
                        proposal.AHEAD_ROWS = 10**9
                    if kernel is not None:
                        _kernel_walks.KERNEL_ROWS = 10**9
                try:
                    best[path] = _least(lm, constraint, n, args)
                finally:
                    proposal.PARALLEL_ROWS = default
                    if ahead is not None:
                        proposal.AHEAD_ROWS = ahead
                    if kernel is not None:
                        _kernel_walks.KERNEL_ROWS = kernel
            row = {"constraint": name, "particles": n, **best["batched"]}
            row["one_by_one_ms_per_step"] = best["one_by_one"]["sampler_ms_per_step"]
            row["speedup"] = row["one_by_one_ms_per_step"] / row["sampler_ms_per_step"]
            found.append({**row, "wall_s": time.perf_counter() - started})
            print(f"{name} N={n}: {row['sampler_ms_per_step']:.2f} ms/step ({row['speedup']:.2f}x)", file=sys.stderr, flush=True)
    columns = ["constraint", "particles", "one_by_one_ms_per_step", "sampler_ms_per_step", "speedup", "particle_steps_per_s"]
    columns += ["distinct_texts_per_step", "checks_per_token", "steps", "resamples"]
    print_table(found, columns)
    parameters = {
        **vars(args),
        "recorded_rows": RECORD_TOKENS,
        "recordings": {k: v[1]().__class__.__name__ for k, v in RECORDINGS.items()},
    }
    print(f"\nwrote {write_json('particle_throughput', run_metadata(parameters), found, args.out)}")


def _device_table(args: argparse.Namespace, folder: Path | None) -> None:
    """Each constraint and N: the host path (the batched steps on the rows as arrays) and the
    device path (the rows as tensors on ``args.device``), in one run, least of the repeats."""
    from awrs.sampler import device as device_path

    mode = device_path.MODE
    device_path.MODE = "auto" if args.device.startswith("cuda") else "always"  # "always": a CPU tensor takes it too
    found = []
    try:
        for name, constraint, rows, vocab in _constraints_run(args, folder):
            host, on_device = FixedRows(rows, vocab), FixedRows(rows, vocab, args.device)
            for lm in (host, on_device):
                measure(lm, constraint, 16, args.tokens, 99)  # warm-up: kernels compiled, memo tables filled
            for n in args.particles:
                best = {path: _least(lm, constraint, n, args) for path, lm in (("host", host), ("device", on_device))}
                row = {"constraint": name, "particles": n, "device": args.device, **best["device"]}
                row["host_ms_per_step"] = best["host"]["sampler_ms_per_step"]
                row["host_vs_device"] = row["host_ms_per_step"] / row["sampler_ms_per_step"]
                found.append(row)
                print(
                    f"{name} N={n}: device {row['sampler_ms_per_step']:.2f} ms/step, host {row['host_ms_per_step']:.2f}",
                    file=sys.stderr,
                )
    finally:
        device_path.MODE = mode
    columns = ["constraint", "particles", "host_ms_per_step", "sampler_ms_per_step", "host_vs_device", "particle_steps_per_s"]
    columns += ["distinct_texts_per_step", "checks_per_token", "steps", "resamples"]
    print_table(found, columns)
    parameters = {**vars(args), "recorded_rows": RECORD_TOKENS}
    print(f"\nwrote {write_json('particle_throughput_device', run_metadata(parameters), found, args.out)}")


if __name__ == "__main__":
    main()
