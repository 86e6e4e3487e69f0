"""``awrs batch``: constrained generation over a dataset, resumable, in-process or on a Ray
cluster (docs/batch.md).

Input: JSONL, one item per line — ``id``, ``prompt`` (a string or chat messages) and one
constraint: ``json_schema`` (an object or JSON text), ``regex``, ``grammar`` (Lark text or a
shipped grammar's name), ``choice`` (a list of strings), ``sql`` (a SQLite database path), or
``constraint`` (a name in the constraints file: ``{name: {"json_schema": ...}, ...}``); none
means free text. Optional per item: ``method``, ``n_particles``, ``seed``, ``max_tokens``,
``temperature``, ``stop``. An item without a seed gets one from its id, so a run is
reproducible and the same wherever its items run.

Output: JSONL, one record per input item — the id, the text, the parsed value, valid and stop
reason, the chosen particle's log weight, ``log_ml``, the posterior (with ``posterior``), stats,
and ``error`` (its type and message) for an item that failed; a bad item never stops the run.
Records are appended as items finish, each line with one ``write``; the output file is its own
manifest: a re-run skips the ids it holds and first cuts a torn last line (a run killed
mid-write), so every id appears exactly once.

Items run in chunks of ``max_batch``: a chunk's requests join one engine batch at once (one
prefill, one forward pass a step for all of them). The chunks are the same in-process and on
Ray, and so are the batches each item runs in, hence the records (:func:`chunks`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from awrs._platform import settle_heap
from awrs.errors import AwrsError
from awrs.result import json_ready

__all__ = ["CONSTRAINT_FIELDS", "Output", "Summary", "chunks", "read_items", "run_chunk", "run_local", "run_ray"]

#: The fields that give an item its constraint (at most one).
CONSTRAINT_FIELDS = ("json_schema", "regex", "grammar", "choice", "sql", "constraint")
_SETTINGS = {"method", "n_particles", "seed", "max_tokens", "temperature", "stop"}
_KNOWN = {"id", "prompt", *CONSTRAINT_FIELDS, *_SETTINGS}


def read_items(path: str | Path) -> Iterator[dict[str, Any]]:
    """The items of a JSONL file, in order. A line that is not a JSON object becomes an item
    whose record will be its error (id ``line N``), so the run goes on."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                yield {"id": f"line {n}", "_error": f"line {n} is not JSON: {exc}"}
                continue
            if not isinstance(item, dict):
                yield {"id": f"line {n}", "_error": f"line {n} is not a JSON object"}
                continue
            if "id" not in item:
                item = {**item, "_error": f"line {n} has no id"}
                item["id"] = f"line {n}"
            item["id"] = str(item["id"])
            yield item


def chunks(items: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """The items in runs of ``size``, in order."""
    chunk: list[dict[str, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def seed_of(item: Mapping[str, Any]) -> int:
    """The item's seed, or one made from its id (stable across runs and machines)."""
    seed = item.get("seed")
    if seed is not None:
        return int(seed)
    return int.from_bytes(hashlib.sha256(str(item["id"]).encode()).digest()[:8], "big") >> 1


class _Constraints:
    """Compiled constraints, by the JSON of their field (a dataset reuses a few schemas)."""

    def __init__(self, named: Mapping[str, Any] | None):
        self.named = dict(named or {})
        self._cache: dict[str, Any] = {}

    def of(self, item: Mapping[str, Any]) -> Any:
        given = [k for k in CONSTRAINT_FIELDS if item.get(k) is not None]
        if len(given) > 1:
            raise AwrsError(f"give one constraint per item, got {', '.join(given)}")
        if not given:
            return None
        name, value = given[0], item[given[0]]
        if name == "constraint":
            if value not in self.named:
                raise AwrsError(f"constraint {value!r} is not in the constraints file (it has: {sorted(self.named) or 'none'})")
            spec = self.named[value]
            if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in CONSTRAINT_FIELDS[:-1]:
                raise AwrsError(f"constraint {value!r} must be an object with one of {', '.join(CONSTRAINT_FIELDS[:-1])}")
            ((name, value),) = spec.items()
        key = json.dumps([name, value], sort_keys=False)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = _compile(name, value)
        return found


def _compile(name: str, value: Any) -> Any:
    from awrs import grammars
    from awrs.constraints import SQL, Choice, Grammar, JsonSchema, Regex

    if name == "json_schema":
        return JsonSchema(value)
    if name == "regex":
        return Regex(value)
    if name == "choice":
        return Choice(value)
    if name == "sql":
        return SQL(value)
    return Grammar(grammars.load(value) if isinstance(value, str) and value in grammars.names() else value)


def _settings(item: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    for key in ("method", "n_particles", "temperature", "stop"):
        if item.get(key) is not None:
            out[key] = item[key]
    if item.get("max_tokens") is not None:
        out["max_new_tokens"] = item["max_tokens"]
    if out.get("method") != "smc":
        out.pop("n_particles", None)
    out["seed"] = seed_of(item)
    return out


def _record(item_id: str, result: Any, posterior: bool) -> dict[str, Any]:
    chosen = result.chosen
    value = result.value
    if value is not None and hasattr(value, "model_dump"):  # a pydantic instance
        value = value.model_dump(mode="json")
    s = result.stats
    out: dict[str, Any] = {
        "id": item_id,
        "text": result.text,
        "value": value,
        "valid": result.valid,
        "stop_reason": result.stop_reason,
        "log_weight": chosen.log_weight if chosen is not None else None,
        "log_ml": result.log_ml,
        "stats": {"tokens": s.tokens, "constraint_checks": s.constraint_checks, "seconds": round(s.seconds, 6)},
        "error": None,
    }
    if result.reasoning is not None:
        out["reasoning"] = result.reasoning
    if result.tool_calls is not None:
        out["tool_calls"] = result.tool_calls
    if posterior:
        out["posterior"] = result.posterior
    return out


def _error(item_id: str, exc: BaseException | str) -> dict[str, Any]:
    kind, message = ("InvalidItem", exc) if isinstance(exc, str) else (type(exc).__name__, str(exc))
    return {
        "id": item_id,
        "text": None,
        "value": None,
        "valid": False,
        "stop_reason": None,
        "error": {"type": kind, "message": message},
    }


def run_chunk(
    lm: Any,
    items: Sequence[Mapping[str, Any]],
    *,
    named: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    posterior: bool = False,
    constraints: _Constraints | None = None,
) -> Iterator[dict[str, Any]]:
    """The records of ``items``, each as it finishes: their requests join one engine batch
    together; an item that cannot run (a bad constraint, a prompt too long, unknown fields)
    gets its error record."""
    from awrs.generate import finish, prepare
    from awrs.smc.scheduler import Engine

    constraints = constraints or _Constraints(named)
    defaults = dict(defaults or {})
    engine = Engine(lm)
    running = []
    for item in items:
        item_id = str(item["id"])
        if "_error" in item:  # a line read_items could not make an item of
            yield _error(item_id, item["_error"])
            continue
        try:
            unknown = sorted(set(item) - _KNOWN)
            if unknown:
                raise AwrsError(f"unknown fields {unknown}: an item has {', '.join(sorted(_KNOWN))}")
            if "prompt" not in item:
                raise AwrsError("the item has no prompt")
            request = prepare(lm, item["prompt"], constraints.of(item), **_settings(item, defaults))
        except Exception as exc:  # this item only
            yield _error(item_id, exc)
            continue
        rng = np.random.default_rng(request.seed)
        running.append((item_id, request, rng, engine.submit(request.submission(rng))))
    while running:
        if engine.pending:
            engine.step()
        left = []
        for item_id, request, rng, handle in running:
            if not handle.done:
                left.append((item_id, request, rng, handle))
                continue
            try:
                yield _record(item_id, finish(request, handle.result(), rng), posterior)
            except Exception as exc:  # the item's own constraint or prompt failed while running
                yield _error(item_id, exc)
        running = left


class Output:
    """The output JSONL: appended a line per record, each line with one ``write`` and flushed
    (O_APPEND). Opening it reads the ids already there (what a re-run skips) and cuts a torn
    last line (a run killed while writing it)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.done: set[str] = set()
        if self.path.exists():
            data = self.path.read_bytes()
            end = data.rfind(b"\n") + 1
            if end < len(data):  # a torn last line: cut it (its item runs again)
                with open(self.path, "r+b") as f:
                    f.truncate(end)
            for line in data[:end].splitlines():
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    self.done.add(str(json.loads(line)["id"]))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: Mapping[str, Any]) -> bool:
        """Append ``record`` unless its id is already there; whether it was written."""
        if record["id"] in self.done:
            return False
        line = (json.dumps(json_ready(record), ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        written = os.write(self._fd, line)
        while written < len(line):  # a short write (a signal, a full disk): finish the line
            written += os.write(self._fd, line[written:])
        self.done.add(record["id"])
        return True

    def close(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)


@dataclass
class Summary:
    """What a run did: records written, by stop reason, valid, errors, skipped, time."""

    written: int = 0
    skipped: int = 0
    valid: int = 0
    errors: int = 0
    tokens: int = 0
    stop_reasons: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    startup_seconds: float = 0.0  # on Ray: until every replica had loaded its model

    def add(self, record: Mapping[str, Any]) -> None:
        self.written += 1
        self.valid += bool(record.get("valid"))
        self.errors += record.get("error") is not None
        self.tokens += (record.get("stats") or {}).get("tokens", 0)
        self.stop_reasons[str(record.get("stop_reason") or "error")] += 1

    def line(self) -> str:
        rate = self.written / self.seconds if self.seconds else 0.0
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.stop_reasons.items()))
        return (
            f"{self.written} written ({self.valid} valid, {self.errors} errors; {reasons or 'none'}), "
            f"{self.skipped} already done; {self.seconds:.1f} s, {rate:.2f} items/s, "
            f"{self.tokens / self.seconds if self.seconds else 0.0:.1f} tokens/s"
        )


class _Progress:
    """items/s, tokens/s, valid share and ETA on standard error when it is a terminal."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="item", file=sys.stderr)

    def update(self, summary: Summary) -> None:
        if self.bar is not None:
            self.bar.update(1)
            elapsed = max(time.perf_counter() - self.bar.start_t, 1e-9)
            share = summary.valid / max(summary.written, 1)
            self.bar.set_postfix(tokens_s=f"{summary.tokens / elapsed:.1f}", valid=f"{share:.0%}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _writer(
    out: Output, summary: Summary, bar: _Progress, on_record: Callable[[dict[str, Any]], None] | None
) -> Callable[[dict[str, Any]], None]:
    """Write a record (once per id), count it, show it, hand it on."""

    def written(record: dict[str, Any]) -> None:
        if out.write(record):
            summary.add(record)
            bar.update(summary)
            if on_record is not None:
                on_record(record)

    return written


def _pending(items: Iterable[dict[str, Any]], out: Output, summary: Summary) -> list[dict[str, Any]]:
    todo, seen = [], set()
    for item in items:
        if item["id"] in out.done:
            summary.skipped += 1
        elif item["id"] not in seen:  # an id twice in the input: the first one counts
            seen.add(item["id"])
            todo.append(item)
    return todo


def run_local(
    lm: Any,
    items: Iterable[dict[str, Any]],
    output: str | Path,
    *,
    max_batch: int = 16,
    named: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    posterior: bool = False,
    progress: bool = True,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> Summary:
    """Run every item not yet in ``output`` in this process, appending their records."""
    started = time.perf_counter()
    out = Output(output)
    summary = Summary()
    todo = _pending(items, out, summary)
    bar = _Progress(len(todo), progress)
    constraints = _Constraints(named)
    written = _writer(out, summary, bar, on_record)
    try:
        for chunk in chunks(todo, max_batch):
            for record in run_chunk(lm, chunk, defaults=defaults, posterior=posterior, constraints=constraints):
                written(record)
    finally:
        bar.close()
        out.close()
    summary.seconds = time.perf_counter() - started
    return summary


class _Replica:
    """One model replica on a Ray worker: its own model and engine; runs a chunk at a time."""

    def __init__(self, model: Any, load: Mapping[str, Any], named: Mapping[str, Any] | None):
        from awrs.lm.loading import load_model

        self.lm = load_model(model, **load)
        settle_heap()  # the replica's process is ours: the model out of the collector's full passes
        self.constraints = _Constraints(named)
        self.pid = os.getpid()

    def run(self, chunk: list[dict[str, Any]], defaults: Mapping[str, Any], posterior: bool) -> list[dict[str, Any]]:
        return list(run_chunk(self.lm, chunk, defaults=defaults, posterior=posterior, constraints=self.constraints))

    def process(self) -> int:
        return self.pid


def run_ray(
    model: Any,
    items: Iterable[dict[str, Any]],
    output: str | Path,
    *,
    address: str | None = None,
    replicas: int = 2,
    gpus_per_replica: float = 0.0,
    cpus_per_replica: int | None = None,
    max_batch: int = 16,
    load: Mapping[str, Any] | None = None,
    named: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    posterior: bool = False,
    progress: bool = True,
    in_flight: int = 2,
    on_record: Callable[[dict[str, Any]], None] | None = None,
    on_start: Callable[[list[Any]], None] | None = None,
) -> Summary:
    """Run every item not yet in ``output`` on a Ray cluster (``address``; None: a local one
    started here): ``replicas`` actors, each loading ``model`` and running chunks of
    ``max_batch`` items, at most ``in_flight`` chunks queued at each (backpressure). Each takes
    ``cpus_per_replica`` CPUs (default: the cluster's CPUs shared out; Ray sets the model's
    thread count to it) and ``gpus_per_replica`` GPUs. Actors are
    restarted by Ray when they die and their chunks retried (``max_restarts``,
    ``max_task_retries``); only this process writes, an id once."""
    try:
        import ray
    except ImportError:
        raise AwrsError("--ray needs Ray: pip install 'awrs[ray]'") from None
    started = time.perf_counter()
    out = Output(output)
    summary = Summary()
    todo = _pending(items, out, summary)
    bar = _Progress(len(todo), progress)
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    if cpus_per_replica is None:
        cpus_per_replica = max(1, int(ray.cluster_resources().get("CPU", 1)) // replicas)
    remote: Any = ray.remote
    actor: Any = remote(num_cpus=cpus_per_replica, num_gpus=gpus_per_replica, max_restarts=-1, max_task_retries=-1)(_Replica)
    actors: list[Any] = [actor.remote(model, dict(load or {}), named) for _ in range(replicas)]
    ray.get([a.process.remote() for a in actors])  # every replica has loaded its model
    summary.startup_seconds = time.perf_counter() - started
    if on_start is not None:
        on_start(actors)

    written = _writer(out, summary, bar, on_record)
    try:
        _dispatch(ray, actors, list(chunks(todo, max_batch)), in_flight, dict(defaults or {}), posterior, written)
    finally:
        bar.close()
        out.close()
        for replica in actors:
            with contextlib.suppress(Exception):
                ray.kill(replica)
    summary.seconds = time.perf_counter() - started
    return summary


def _dispatch(
    ray: Any,
    actors: list[Any],
    todo: list[list[dict[str, Any]]],
    in_flight: int,
    defaults: dict[str, Any],
    posterior: bool,
    written: Callable[[dict[str, Any]], None],
) -> None:
    """Every chunk of ``todo`` through the actors, at most ``in_flight`` queued at each; a
    chunk whose actor is gone for good goes back in the queue."""
    queue = list(reversed(todo))
    pending: dict[Any, tuple[int, list[dict[str, Any]]]] = {}
    load_of = [0] * len(actors)
    failures: dict[int, int] = {}
    while queue or pending:
        for k, replica in enumerate(actors):
            while queue and load_of[k] < in_flight:
                chunk = queue.pop()
                pending[replica.run.remote(chunk, defaults, posterior)] = (k, chunk)
                load_of[k] += 1
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            k, chunk = pending.pop(ref)
            load_of[k] -= 1
            try:
                records = ray.get(ref)
            except ray.exceptions.RayActorError as exc:  # restarts exhausted: the chunk runs again elsewhere
                failures[id(chunk)] = failures.get(id(chunk), 0) + 1
                if failures[id(chunk)] >= 3:
                    raise AwrsError(f"a chunk of items failed on 3 replicas (the last: {exc}); see the Ray logs") from exc
                queue.append(chunk)
                continue
            for record in records:
                written(record)
