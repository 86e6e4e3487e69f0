"""awrs against token masking and the peer libraries, side by side on one model and machine.

Tasks (deterministic slices): JSON (JSONSchemaBench ``val`` schemas of the AWRS paper's JSON
task), regex (the regular patterns of the AWRS pattern set: most peers need a DFA), pattern
(its non-regular patterns — back-references, look-arounds, recursion — which only awrs and
genlm-control can take; the DFA peers are tried and their refusals reported) and SQL
(Spider dev questions; ``sql.lark`` restricted to each database, translated for the peers by
dropping its look-aheads, which their regex engines refuse). Methods: unconstrained, awrs
(AWRS, one sequence), awrs-smc (5 particles), mask (awrs's own checker over the whole
vocabulary), and every peer that loads (``make peers`` installs them beside awrs).

Per method and task: declared coverage, validity of the outputs, compile time p50/p95, ms per
output token and its ratio to unconstrained, checks per token, and the peak Python memory of
compiling (tracemalloc; native allocations of Rust/C++ peers are not seen). Greedy and sampled
modes. Then distribution fidelity on small enumerable tasks: the exact distribution of the
model conditioned on the constraint (every tokenisation enumerated) against each method's
empirical distribution (total variation and KL).

    python benchmarks/compare.py [--json N] [--regex N] [--patterns N] [--sql N] [--modes greedy sampled]
                                 [--fidelity-samples 100] [--max-new-tokens 128]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import SHARED, least_by_step, median, percentile, print_table, run_metadata, vs_unconstrained, write_json
from awrs.grammars import load
from json_generation import prompt_for as json_prompt
from json_generation import val_schemas, validates
from pattern_matching import load_patterns, upstream_match
from pattern_matching import prompt_for as pattern_prompt
from peers import Unsupported, decode_with_mask, load_genlm, load_peers
from text_to_sql import prompt_for as sql_prompt

import awrs
from awrs.constraints.sql import _restrict, schema_tables
from awrs.errors import AwrsError

SPIDER = SHARED / "benchmarks" / "spider"
FIDELITY = [
    ("choice", [{"role": "user", "content": "Will it rain tomorrow? Answer yes, no or maybe."}], ["yes", "no", "maybe"]),
    ("colour", [{"role": "user", "content": "Name a primary colour."}], ["red", "green", "blue", "yellow"]),
]


# --- tasks --------------------------------------------------------------------------------


def tasks(args, lm, warm_up: bool = False) -> list[dict]:
    """The timed items: the first N of each set. With ``warm_up``, one item per task from
    outside those slices instead, for the untimed first calls: the smallest (as JSON text)
    of the rest, so that no method spends minutes on it (outlines takes 200 s on some
    schemas)."""

    def pick(seq: list, n: int) -> list:
        if warm_up:
            return [min(seq[n:], key=lambda x: len(json.dumps(x)))] if n and seq[n:] else []
        return seq[:n]

    out = []
    for r in pick(val_schemas(), args.json):
        out.append(
            {
                "task": "json",
                "id": r["id"],
                "spec": r["schema"],
                "prompt": json_prompt(r["schema"]),
                "check": (lambda text, s=r["schema"]: validates(s, text)),
                "tests": r.get("tests", []),
            }
        )
    engines = [(p, awrs.Regex(p).engine) for p in load_patterns(None)]
    for task, engine, n in (("regex", "dfa", args.regex), ("pattern", "partial", args.patterns)):
        for i, p in enumerate(pick([p for p, e in engines if e == engine], n)):
            out.append(
                {
                    "task": task,
                    "id": str(i),
                    "spec": p,
                    "prompt": pattern_prompt(p),
                    "check": (lambda text, p=p: upstream_match(p, text)),
                }
            )
    examples = pick(json.loads((SPIDER / "dev.json").read_text()), args.sql)
    dbs = {t["db_id"]: t for t in json.loads((SPIDER / "tables.json").read_text())}
    for i, ex in enumerate(examples):
        c = awrs.SQL(schema_tables(dbs[ex["db_id"]]))
        tables = c.tables  # SQL drops SQLite's own tables (sqlite_sequence...)
        out.append(
            {
                "task": "sql",
                "id": str(i),
                "spec": tables,
                "prompt": sql_prompt(tables, ex["question"]),
                "check": (lambda text, c=c: c.accepts(text.strip())),
            }
        )
    return out


def peer_lark(tables: dict) -> str:
    """sql.lark for one database in the Lark dialects peers read: no look-arounds (word
    boundaries and the keyword exclusion go, so the peers' language is a little larger), and
    case-insensitive groups spelled out as character classes (xgrammar reads no (?i:...))."""
    text = _restrict(load("sql"), tables)
    text = text.replace("(?![A-Za-z0-9_])", "")
    text = re.sub(r"\(\?!\(\?i:select\|[^)]*\)\)", "", text)
    return re.sub(r"\(\?i:((?:[^()]|\((?!\?)[^()]*\))*)\)", lambda m: "(?:" + _both_cases(m.group(1)) + ")", text)


def _both_cases(body: str) -> str:
    out, escaped = [], False
    for ch in body:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        elif ch.isascii() and ch.isalpha():
            out.append(f"[{ch.lower()}{ch.upper()}]")
        else:
            out.append(ch)
    return "".join(out)


# --- one method on one task ---------------------------------------------------------------


def compile_awrs(task):
    if task["task"] == "json":
        return awrs.JsonSchema(task["spec"])  # strict: an unsupported keyword raises, nothing warns
    if task["task"] in ("regex", "pattern"):
        return awrs.Regex(task["spec"])
    return awrs.SQL(task["spec"])


def run_awrs(lm, task, method, args, greedy, seed):
    started = time.perf_counter()
    try:
        c = compile_awrs(task)
    except AwrsError as exc:
        return {"supported": False, "reason": str(exc)[:160]}
    compile_s = time.perf_counter() - started
    if method == "awrs-smc" and greedy:
        return None  # SMC samples; its greedy counterpart is "awrs" greedy
    kwargs = dict(
        method={"awrs": "awrs", "awrs-smc": "smc", "mask": "mask"}[method],
        max_new_tokens=args.max_new_tokens,
        seed=seed,
        greedy=greedy and method != "awrs-smc",
        n_particles=5,
    )
    r = awrs.generate(lm, task["prompt"], c, **kwargs)
    s = r.stats
    # SMC advances all particles in one batched step: its time per token is per step of the batch.
    steps = s.forward_passes if method == "awrs-smc" else s.steps
    return {
        "supported": True,
        "compile_s": compile_s,
        "text": r.text,
        "valid": bool(r.valid and task["check"](r.text)),
        "finished": bool(r.valid),
        "steps": max(steps, 1),
        "decode_s": s.seconds - s.prefill_seconds,
        "checks": s.constraint_checks,
        "checked_tokens": max(s.steps, 1),
        "overhead_s": s.sampling_seconds,
    }


def run_unconstrained(lm, task, args, greedy, seed):
    r = awrs.generate(lm, task["prompt"], None, method="lcd", max_new_tokens=args.max_new_tokens, seed=seed, greedy=greedy)
    s = r.stats
    return {
        "supported": True,
        "compile_s": 0.0,
        "text": r.text,
        "valid": bool(task["check"](r.text)),
        "finished": bool(r.particles[0].finished),
        "steps": max(s.steps, 1),
        "decode_s": s.seconds - s.prefill_seconds,
        "checks": 0,
        "overhead_s": s.sampling_seconds,
    }


def run_peer(lm, peer, task, args, greedy, seed):
    kind = task["task"]
    spec = peer_spec(task)
    started = time.perf_counter()
    try:
        make = peer.compile("regex" if kind == "pattern" else kind, spec)
        session = make()
    except Unsupported as exc:
        return {"supported": False, "reason": str(exc)}
    except Exception as exc:
        return {"supported": False, "reason": f"{type(exc).__name__}: {str(exc)[:160]}"}
    compile_s = time.perf_counter() - started
    out = decode_with_mask(
        lm, lm.encode_prompt(task["prompt"]), session, args.max_new_tokens, np.random.default_rng(seed), greedy
    )
    return {
        "supported": True,
        "compile_s": compile_s,
        "text": out["text"],
        "valid": bool(out["finished"] and task["check"](out["text"])),
        "finished": bool(out["finished"]),
        "steps": out["steps"],
        "decode_s": out["seconds"],
        "checks": 0,
        "overhead_s": out["overhead_seconds"],
    }


def run_genlm(lm, genlm, task, args, seed):
    kind = task["task"]
    spec = peer_spec(task)
    try:
        out = genlm.run(kind, spec, lm.encode_prompt(task["prompt"]), args.max_new_tokens, seed)
    except Unsupported as exc:
        return {"supported": False, "reason": str(exc)}
    return {
        "supported": True,
        "compile_s": out["compile_s"],
        "text": out["text"],
        "valid": bool(out["finished"] and task["check"](out["text"])),
        "finished": bool(out["finished"]),
        "steps": out["steps"],
        "decode_s": out["seconds"],
        "checks": 0,
    }


def peer_spec(task: dict):
    """The task's constraint in the form peers read: Lark without look-arounds for SQL, an
    unanchored pattern for regex (and non-regular patterns), the schema as is for JSON."""
    if task["task"] == "sql":
        return peer_lark(task["spec"])
    if task["task"] in ("regex", "pattern"):
        return strip_anchors(task["spec"])
    return task["spec"]


def strip_anchors(pattern: str) -> str:
    """A full-match pattern without ^ and $ at its ends (what DFA-based peers expect)."""
    if pattern.startswith("^"):
        pattern = pattern[1:]
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1]
    return pattern


def _record_compile_memory(rows: list[dict], task: dict, peers) -> None:
    """Peak Python memory of compiling this item, per method (a separate pass)."""
    for p in peers:
        spec = peer_spec(task)
        mem = compile_memory(lambda p=p, spec=spec: p.compile(task["task"], spec)())
        for r in rows:
            if (r["id"], r["task"], r["method"]) == (task["id"], task["task"], p.name):
                r["compile_mem_mib"] = mem
    mem = compile_memory(lambda: compile_awrs(task))
    for r in rows:
        if (r["id"], r["task"]) == (task["id"], task["task"]) and r["method"] in ("awrs", "awrs-smc", "mask"):
            r["compile_mem_mib"] = mem


def compile_memory(fn) -> float:
    """Peak Python memory (MiB) while compiling, in a separate pass (tracemalloc slows code)."""
    tracemalloc.start()
    try:
        fn()
    except (AwrsError, Unsupported):
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak / 2**20


# --- conformance on the labelled instances -------------------------------------------------


def conformance(items: list[dict], lm, peers) -> list[dict]:
    """Each method's checker against JSONSchemaBench's labelled instances of the JSON slice:
    a valid instance rejected is a validation error, an invalid one accepted an invalidation
    error. awrs checks the bytes; a peer walks the instance's tokens through its masks (each
    token must be allowed, and the end must be accepting)."""
    rows = []
    tests = [(t, json.dumps(x["data"]), x["valid"]) for t in items if t["task"] == "json" for x in t["tests"]]
    for name, accepts in [("awrs", None)] + [(p.name, p) for p in peers]:
        row = {"method": name, "schemas": 0, "instances": 0, "validation_errors": 0, "invalidation_errors": 0}
        for task in [t for t in items if t["task"] == "json"]:
            try:
                if accepts is None:
                    c = compile_awrs(task)
                    check = c.accepts
                else:
                    make = accepts.compile("json", task["spec"])
                    check = lambda text, make=make: _peer_accepts(make(), lm.tokenizer.encode(text, add_special_tokens=False))
            except (AwrsError, Unsupported):
                continue
            row["schemas"] += 1
            for _, text, valid in [x for x in tests if x[0] is task]:
                row["instances"] += 1
                ok = check(text)
                row["validation_errors"] += int(valid and not ok)
                row["invalidation_errors"] += int(ok and not valid)
                if ok != valid and len(row.setdefault("examples", [])) < 5:
                    row["examples"].append({"schema": task["id"], "valid": valid, "instance": text[:200]})
        rows.append(row)
    return rows


def _peer_accepts(session, ids: list[int]) -> bool:
    for t in ids:
        if not session.mask()[t]:
            return False
        session.advance(t)
    return bool(session.complete())


# --- fidelity -----------------------------------------------------------------------------


def exact_distribution(lm, prompt, options: list[str]) -> dict[str, float]:
    """p(text | valid) by enumerating every token sequence that spells an option."""
    c = awrs.Choice(options)
    vocab = lm.vocab
    eos = sorted(vocab.eos_ids)
    mass: dict[str, float] = {}

    def walk(ids: list[int], state, logp: float, text: bytes) -> None:
        batch = lm.start([ids])
        lp = batch.logprobs()[0].astype(np.float64)
        if c.is_complete(state):
            eos_lp = np.logaddexp.reduce(lp[eos])
            mass[text.decode()] = mass.get(text.decode(), 0.0) + math.exp(logp + eos_lp)
        allowed = np.flatnonzero(c.mask(state, vocab))
        for t in allowed:
            nxt = c.advance(state, vocab.tokens[t])
            walk([*ids, int(t)], nxt, logp + lp[t], text + vocab.tokens[t])

    walk(lm.encode_prompt(prompt), c.initial(), 0.0, b"")
    total = sum(mass.values())
    return {k: v / total for k, v in mass.items()}


def distance(emp: dict[str, float], exact: dict[str, float]) -> tuple[float, float]:
    keys = set(emp) | set(exact)
    tv = 0.5 * sum(abs(emp.get(k, 0) - exact.get(k, 0)) for k in keys)
    kl = sum(p * math.log(p / exact[k]) for k, p in emp.items() if p > 0)
    return tv, kl


def fidelity(lm, peers, args) -> list[dict]:
    rows = []
    for name, prompt, options in FIDELITY:
        exact = exact_distribution(lm, prompt, options)
        c = awrs.Choice(options)
        draws: dict[str, list[str]] = {}
        for method in ("awrs-smc", "awrs", "mask"):
            kw = {"awrs-smc": dict(method="smc", n_particles=8), "awrs": dict(method="awrs"), "mask": dict(method="mask")}[method]
            draws[method] = [
                awrs.generate(lm, prompt, c, max_new_tokens=8, seed=s, **kw).text for s in range(args.fidelity_samples)
            ]
        for peer in peers:
            try:
                make = peer.compile("regex", "|".join(re.escape(o) for o in options))
            except Unsupported:
                continue
            ids = lm.encode_prompt(prompt)
            draws[peer.name] = [
                decode_with_mask(lm, ids, make(), 8, np.random.default_rng(s), False)["text"]
                for s in range(args.fidelity_samples)
            ]
        for method, texts in draws.items():
            emp = {t: texts.count(t) / len(texts) for t in set(texts)}
            tv, kl = distance(emp, exact)
            rows.append({"task": name, "method": method, "tv": tv, "kl": kl, "exact": exact, "empirical": emp})
    return rows


# --- main ---------------------------------------------------------------------------------


def summarise(rows: list[dict]) -> list[dict]:
    table = []
    keys = sorted({(r["task"], r["mode"], r["method"]) for r in rows}, key=lambda k: (k[0], k[1], _ORDER.get(k[2], 9), k[2]))
    for task, mode, method in keys:
        chosen = [r for r in rows if (r["task"], r["mode"], r["method"]) == (task, mode, method)]
        done = [r for r in chosen if r["supported"]]
        steps = sum(r["steps"] for r in done)
        ms = 1000 * sum(r["decode_s"] for r in done) / steps if steps else float("nan")
        compile_ms = [1000 * r["compile_s"] for r in done if r.get("compile_s") is not None]
        table.append(
            {
                "task": task,
                "mode": mode,
                "method": method,
                "items": len(chosen),
                "coverage": len(done) / len(chosen),
                "validity": sum(r["valid"] for r in done) / len(done) if done else float("nan"),
                "finished": sum(r["finished"] for r in done) / len(done) if done else float("nan"),
                "compliance": _ratio(sum(r["valid"] for r in done if r["finished"]), sum(r["finished"] for r in done)),
                "compile_p50_ms": median(compile_ms),
                "compile_p95_ms": percentile(compile_ms, 95),
                "ms_per_token": ms,
                "vs_unconstrained": vs_unconstrained(rows, task, mode, method),
                "ms_per_token_pooled": 1000 * sum(r.get("decode_pooled_s", r["decode_s"]) for r in done) / steps
                if steps
                else float("nan"),
                "ms_per_token_measured": 1000 * sum(r.get("decode_measured_s", r["decode_s"]) for r in done) / steps
                if steps
                else float("nan"),
                "overhead_ms_per_token": 1000 * sum(r["overhead_s"] for r in done if "overhead_s" in r) / steps
                if steps and all("overhead_s" in r for r in done)
                else float("nan"),
                "checks_per_token": sum(r["checks"] for r in done) / sum(r["checked_tokens"] for r in done)
                if done and method in ("awrs", "awrs-smc", "mask")
                else float("nan"),
                "compile_mem_mib": median([r["compile_mem_mib"] for r in done if "compile_mem_mib" in r]),
            }
        )
    return table


def compilers(peers) -> list[tuple[str, Any, type[BaseException]]]:
    """(method, compile function of a task, the exception type of a refusal) for awrs and each peer."""
    return [("awrs", compile_awrs, AwrsError)] + [
        (
            peer.name,
            lambda task, peer=peer: peer.compile("regex" if task["task"] == "pattern" else task["task"], peer_spec(task))(),
            Exception,
        )
        for peer in peers
    ]


def timed_compile(task: dict, name: str, run, refusal: type[BaseException]) -> dict:
    """``{"compile_s": seconds}`` of one cold compile (the regex module's pattern cache purged
    first), or ``{"reason": why}`` when the method refuses the task."""
    import regex

    regex.purge()
    started = time.perf_counter()
    try:
        run(task)
    except refusal as exc:  # a refusal, reported
        return {"reason": str(exc)[:160] if name == "awrs" else f"{type(exc).__name__}: {str(exc)[:120]}"}
    return {"compile_s": time.perf_counter() - started}


def first_calls(lm, args, peers) -> list[dict]:
    """Every method compiles one item per task (from outside the timed slices) before any timed
    compile. A library's first compile in a process pays one-time costs — imports, tables, the
    interpreter's warm-up of its Python code — that the per-item times should not mix in
    (../shared/reference/PEERS.md: report first-call cost separately); this is that first call,
    reported on its own. genlm-control compiles inside its own runs and is not warmed."""
    rows = []
    for task in tasks(args, lm, warm_up=True):
        for method in compilers(peers):
            out = timed_compile(task, *method)
            if "compile_s" in out:
                out = {"first_call_ms": 1000 * out["compile_s"]}
            rows.append({"task": task["task"], "method": method[0], **out})
    print_table([r for r in rows if "first_call_ms" in r], ["task", "method", "first_call_ms"])
    return rows


def compile_only(items: list[dict], peers, missing: dict, args, first: list[dict]) -> dict:
    """Every method's cold compile time on every item (the regex module's own pattern cache is
    purged before each compile, xgrammar's before each of its own). The methods' order
    rotates from item to item, so that none always runs right after the same, heaviest,
    compile (a Python compile runs slower on caches another method has just filled)."""
    methods = compilers(peers)
    rows = []
    for k, task in enumerate(items):
        for method in methods[k % len(methods) :] + methods[: k % len(methods)]:
            rows.append({"task": task["task"], "id": task["id"], "method": method[0], **timed_compile(task, *method)})
    table = []
    for task, method in sorted({(r["task"], r["method"]) for r in rows}, key=lambda k: (k[0], _ORDER.get(k[1], 5), k[1])):
        chosen = [r for r in rows if (r["task"], r["method"]) == (task, method)]
        ms = [1000 * r["compile_s"] for r in chosen if "compile_s" in r]
        warm = [r["first_call_ms"] for r in first if (r["task"], r["method"]) == (task, method) and "first_call_ms" in r]
        table.append(
            {
                "task": task,
                "method": method,
                "items": len(chosen),
                "compiled": len(ms),
                "compile_p50_ms": median(ms),
                "compile_p95_ms": percentile(ms, 95),
                "first_call_ms": warm[0] if warm else None,
            }
        )
    print_table(table, ["task", "method", "items", "compiled", "compile_p50_ms", "compile_p95_ms", "first_call_ms"])
    path = write_json(
        "compare_compile",
        run_metadata(dict(vars(args), unavailable=missing)),
        {"summary": table, "rows": rows, "first_calls": first},
        args.out,
    )
    print(f"wrote {path}")
    return {"summary": table, "rows": rows}


#: Timed in one run only: whole-vocabulary masking and genlm-control (0.1-2 s per token), whose
#: gaps to awrs are orders of magnitude, far beyond the machine's noise; and awrs-smc, which
#: does five particles' work per step and is compared with unconstrained decoding only.
_TIMED_ONCE = ("mask", "genlm-control", "awrs-smc")


def _fastest_of(outs: list[dict | None]) -> dict | None:
    """The first run's outputs and cold compile time, with the least time over the repeats.

    Decoding time is the sum over steps of each step's least time (every repeat decodes the
    same tokens, so step t is the same computation each time; noise only adds time, and on a
    shared machine it comes in spells shorter than a run), plus the least time of the final
    step, which has no forward pass. ``decode_total_s`` keeps the least whole-run time. With
    the forward passes timed too (``forward_s``), ``choice_s`` is each step's least time
    around the model (its mask or walk and the sampling). The same seed decodes the same
    tokens each time; should a repeat not, only the first run's times are kept and the row
    says so."""
    first = outs[0]
    if first is None or not first.get("supported"):
        return first
    out = dict(first)
    if len(outs) > 1:
        if any(
            again["text"] != first["text"] or len(again.get("step_s", ())) != len(first.get("step_s", ())) for again in outs[1:]
        ):
            outs = [first]
            out["repeat_mismatch"] = True
        out["repeats"] = len(outs)
        out["repeat_decode_s"] = [o["decode_s"] for o in outs]  # each repeat's whole run: the noise across repeats
    for key in ("decode_s", "overhead_s"):
        if key in first:
            out[key] = min(o[key] for o in outs)
    if "step_s" in first:
        out["decode_total_s"] = out["decode_s"]
        steps = np.array([o["step_s"] for o in outs]).reshape(len(outs), -1)
        per_step = steps.min(axis=0)
        last = max(min(o["decode_s"] - sum(o["step_s"]) for o in outs), 0.0)
        out["decode_s"] = float(per_step.sum() + last)
        out["step_s"] = per_step.tolist()
        if "forward_s" in first:
            forwards = np.array([o["forward_s"] for o in outs]).reshape(len(outs), -1)
            out["forward_s"] = forwards.min(axis=0).tolist()
            out["choice_s"] = (steps - forwards).min(axis=0).tolist()
            out["final_s"] = last
    return out


#: Methods whose forward passes are one row each, step t the same computation in all of them
#: (one prompt, a cache of the prompt plus t tokens): the pool of the shared forward time.
_POOLED = ("unconstrained", "awrs", "mask")


def pool_forward(outs: dict[str, dict | None], peers: set[str]) -> list[float]:
    """The forward pass of decoding step t, as the least time any single-row method took for
    it in this item and mode (every repeat of every method; the token fed does not change the
    computation, only the position does). Noise only adds time, so the least is the estimate."""
    return least_by_step(
        [
            o["forward_s"]
            for name, o in outs.items()
            if o is not None and o.get("supported") and "forward_s" in o and (name in _POOLED or name in peers)
        ]
    )


def apply_pooled_forward(out: dict, pooled: list[float]) -> None:
    """``overhead_s`` becomes the method's own time around the model by the step clock (each
    step's least over the repeats, and the final step) and ``decode_s`` that plus the pooled
    forward passes for its steps; the measured time stays as ``decode_measured_s``. A method's
    ranking then depends on its own work and its output's length, not on which slow spell of
    the shared machine its run met."""
    if "choice_s" not in out or "forward_s" not in out:
        return
    n = len(out["forward_s"])
    out["decode_measured_s"] = out["decode_s"]
    if "overhead_s" in out:
        out["overhead_reported_s"] = out["overhead_s"]  # the method's own account of it
    out["overhead_s"] = float(sum(out["choice_s"]) + out["final_s"])  # one clock for every method
    out["decode_s"] = out["overhead_s"] + float(sum(pooled[:n]))
    out["model_step_s"] = float(np.median(pooled)) if pooled else 0.0  # the item's model time per step


def charge_matched_model_time(rows: list[dict]) -> None:
    """Charge every single-row method of a (task, mode) cell the same model time per step:
    the mean over the cell's items of each item's median pooled forward pass (``model_step_s``:
    the median over the step positions of the least time any run took at each).
    Every step reads the logits of one forward pass (the first step the prefill's, which
    decoding time leaves out, so a run of k tokens and an end has k timed forward passes for
    k + 1 steps); charging each step one forward pass keeps that out of the comparison.
    ``decode_s`` becomes the method's own time around the model plus that model time
    (``model_s``); the position-pooled time stays as ``decode_pooled_s``. Time per token then
    compares what a method does per token at matched model time: the forward pass is the same
    computation for every method, so where each output happens to stop does not move the
    comparison. Position-pooled times do move it: a short output had one step in k + 1
    without a forward pass, the step positions that more runs reach have their least taken
    over more samples (a run that stops early is charged the fastest positions), a long output
    on a slow item weighs more, and a slow spell of the machine lands on whichever positions
    few runs reach."""
    for task, mode in {(r["task"], r["mode"]) for r in rows}:
        cell = [r for r in rows if (r["task"], r["mode"]) == (task, mode) and "model_step_s" in r]
        per_item = {r["id"]: r["model_step_s"] for r in cell}
        if not per_item:
            continue
        step = sum(per_item.values()) / len(per_item)
        for r in cell:
            r["decode_pooled_s"] = r["decode_s"]
            r["model_s"] = step * r["steps"]
            r["decode_s"] = r["overhead_s"] + r["model_s"]


class _StepClock:
    """The end of the prefill and of every forward pass after it, while a method decodes
    (the model class's ``start`` is wrapped for the duration, and the ``extend`` of the batch
    class it returns; HFModel when no model is given): the differences are the decoding steps'
    times, model and token choice together, for every method that runs on awrs's model wrapper
    (awrs's engine and the peers' decode loop alike), on any backend."""

    def __init__(self, lm: Any = None):
        from awrs.lm.hf import HFModel

        self.marks: list[float] = []
        self.forwards: list[float] = []
        self._model_class = HFModel if lm is None else type(lm)
        self._saved: list[tuple[type, str, Any]] = []

    def __enter__(self) -> _StepClock:
        start = self._model_class.start
        marks, forwards = self.marks, self.forwards

        def timed_start(lm, *args, **kwargs):
            batch = start(lm, *args, **kwargs)
            self._wrap_extend(type(batch))
            marks.clear()
            forwards.clear()
            marks.append(time.perf_counter())
            return batch

        self._replace(self._model_class, "start", timed_start)
        return self

    def _wrap_extend(self, batch_class: type) -> None:
        if any(owner is batch_class for owner, _, _ in self._saved):
            return
        extend = batch_class.extend
        marks, forwards = self.marks, self.forwards

        def timed_extend(batch, tokens):
            started = time.perf_counter()
            extend(batch, tokens)
            marks.append(time.perf_counter())
            forwards.append(marks[-1] - started)

        self._replace(batch_class, "extend", timed_extend)

    def _replace(self, owner: type, name: str, value: Any) -> None:
        self._saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def __exit__(self, *exc) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()

    def steps(self) -> list[float]:
        return np.diff(self.marks).tolist()


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


_ORDER = {"unconstrained": 0, "awrs": 1, "awrs-smc": 2, "mask": 3, "genlm-control": 8}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=int, default=10)
    parser.add_argument("--regex", type=int, default=10)
    parser.add_argument("--patterns", type=int, default=8, help="non-regular patterns (awrs and genlm-control only)")
    parser.add_argument("--sql", type=int, default=10)
    parser.add_argument("--modes", nargs="+", default=["greedy", "sampled"], choices=["greedy", "sampled"])
    parser.add_argument(
        "--mask-limit", type=int, default=3, help="run awrs's full-vocabulary masking on the first N items of each task"
    )
    parser.add_argument(
        "--genlm-limit", type=int, default=3, help="run genlm-control (0.1-0.25 s per token) on the first N items of each task"
    )
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--fidelity-samples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="decode each item this many times per method (interleaved) and keep each step's least time; not mask, genlm-control or awrs-smc",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="decode with these methods only (unconstrained always runs: the forward passes are pooled with it)",
    )
    parser.add_argument("--model", default=None)
    parser.add_argument(
        "--backend",
        default="transformers",
        choices=["transformers", "llama_cpp", "auto"],
        help="the model every method decodes with; peers that need a transformers model (outlines, genlm-control) are unavailable on llama_cpp",
    )
    parser.add_argument("--out", default=None)
    parser.add_argument("--compile-only", action="store_true", help="time every method's compile on every item, no decoding")
    return parser


class _Decoding:
    """What every decoding of a run shares: the model, the peers by name, genlm-control (None
    when it did not load) and the arguments. (A plain class: the tests load this script
    without registering it as a module, which dataclasses need.)"""

    def __init__(self, lm: Any, by_name: dict[str, Any], genlm: Any, args: argparse.Namespace):
        self.lm, self.by_name, self.genlm, self.args = lm, by_name, genlm, args

    def run(self, name: str, task: dict, greedy: bool) -> dict | None:
        """One decoding of ``task`` by the method ``name``, with its steps timed (genlm-control,
        on its own model wrapper, has whole-run times only)."""
        args, lm = self.args, self.lm
        if name == "genlm-control":
            return run_genlm(lm, self.genlm, task, args, args.seed)
        with _StepClock(lm) as clock:
            if name == "unconstrained":
                out = run_unconstrained(lm, task, args, greedy, args.seed)
            elif name in ("awrs", "awrs-smc", "mask"):
                out = run_awrs(lm, task, name, args, greedy, args.seed)
            else:
                out = run_peer(lm, self.by_name[name], task, args, greedy, args.seed)
        if out is not None and out.get("supported"):
            out["step_s"] = clock.steps()
            out["forward_s"] = list(clock.forwards)
        return out

    def methods(self, task: dict, index_in_task: int, greedy: bool) -> list[str]:
        """The methods that decode this item in this mode: masking on the first items of each
        task (every regex item), genlm-control on the first sampled ones, as ``--methods`` allows."""
        args = self.args
        names = ["unconstrained", "awrs", "awrs-smc"]
        if index_in_task < args.mask_limit or task["task"] == "regex":
            names.append("mask")
        names += list(self.by_name)
        if self.genlm is not None and not greedy and index_in_task < args.genlm_limit:
            names.append("genlm-control")
        if args.methods:
            names = [name for name in names if name in args.methods or name == "unconstrained"]
        return names

    def rows(self, task: dict, index_in_task: int, mode: str) -> list[dict]:
        """Every method's row for one item in one mode: the repeats interleaved, each method's
        least time kept, and the forward passes pooled over the single-row methods."""
        names = self.methods(task, index_in_task, greedy=mode == "greedy")
        runs: dict[str, list] = {name: [] for name in names}
        for repeat in range(self.args.repeats):  # interleaved, so a slow spell of the machine hits every method
            for name in names:
                if repeat == 0 or name not in _TIMED_ONCE:
                    runs[name].append(self.run(name, task, mode == "greedy"))
        fastest = {name: _fastest_of(runs[name]) for name in names}
        pooled = pool_forward(fastest, set(self.by_name))
        out = []
        for name in names:
            row = fastest[name]
            if row is None:
                continue
            if mode != self.args.modes[0] and "compile_s" in row and name != "genlm-control":
                row["compile_s"] = None  # compile is timed cold, in the first mode (peers cache compiled grammars)
            if row.get("supported") and (name in _POOLED or name in self.by_name):
                apply_pooled_forward(row, pooled)
            out.append({"task": task["task"], "id": task["id"], "mode": mode, "method": name, **row})
        return out


def decode_all(decoding: _Decoding, items: list[dict], peers) -> list[dict]:
    """Every item in every mode, then each single-row method charged the cell's model time."""
    rows: list[dict] = []
    for n, task in enumerate(items):
        index_in_task = int(task["id"]) if task["id"].isdigit() else n
        for mode in decoding.args.modes:
            rows += decoding.rows(task, index_in_task, mode)
        _record_compile_memory(rows, task, peers)
        print(f"[{n + 1}/{len(items)}] {task['task']} {task['id']}", file=sys.stderr)
    charge_matched_model_time(rows)
    return rows


_SUMMARY_COLUMNS = [
    "task",
    "mode",
    "method",
    "coverage",
    "validity",
    "finished",
    "compliance",
    "compile_p50_ms",
    "compile_p95_ms",
    "ms_per_token",
    "ms_per_token_pooled",
    "ms_per_token_measured",
    "vs_unconstrained",
    "overhead_ms_per_token",
    "checks_per_token",
    "compile_mem_mib",
]


def report(decoding: _Decoding, items: list[dict], peers, missing: dict, rows: list[dict], first: list[dict]) -> dict:
    """Summarise the rows, add the conformance and fidelity checks, print the tables and write
    the result file (with every row, for the report)."""
    lm, args = decoding.lm, decoding.args
    table = summarise(rows)
    print_table(table, _SUMMARY_COLUMNS)
    conf = conformance(items, lm, peers)
    print_table(conf, ["method", "schemas", "instances", "validation_errors", "invalidation_errors"])
    fid = fidelity(lm, peers, args) if args.fidelity_samples else []
    if fid:
        print_table(fid, ["task", "method", "tv", "kl"])
    for name, why in missing.items():
        print(f"- {name}: {why}")
    versions = {p.name: _version(p.name) for p in peers}
    if decoding.genlm is not None:
        versions["genlm-control"] = _version("genlm-control")
    params = {**vars(args), "model_repr": repr(lm), "peers": versions, "unavailable": missing, "timed_once": list(_TIMED_ONCE)}
    path = write_json(
        "compare",
        run_metadata(params),
        {"summary": table, "conformance": conf, "fidelity": fid, "rows": rows, "first_calls": first},
        args.out,
    )
    print(f"wrote {path}")
    return {"summary": table, "conformance": conf, "fidelity": fid}


def main(argv: list[str] | None = None) -> dict:
    args = _parser().parse_args(argv)
    lm = awrs.load_model(args.model, backend=args.backend)
    hf_model = getattr(lm, "model", None)  # None on llama.cpp: the peers that need it say so
    peers, missing = load_peers(hf_model, lm.tokenizer, len(lm.vocab))
    genlm, why = load_genlm(hf_model, lm.tokenizer) if hf_model is not None else (None, "needs a transformers model")
    if genlm is None:
        missing["genlm-control"] = why
    for name, why in missing.items():
        print(f"peer {name}: unavailable: {why}", file=sys.stderr)
    items = tasks(args, lm)
    first = first_calls(lm, args, peers)
    if args.compile_only:
        return compile_only(items, peers, missing, args, first)
    decoding = _Decoding(lm, {p.name: p for p in peers}, genlm, args)
    rows = decode_all(decoding, items, peers)
    return report(decoding, items, peers, missing, rows, first)


def _version(name: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
