"""The language-model backend sections of docs/benchmarks.md: ``lm_step.py``'s table of every
backend and dtype, and a ``compare.py --backend llama_cpp`` run's own time per token."""

from __future__ import annotations

from _report_tables import fmt, provenance_line, section, table


def render_lm_step(data: dict) -> str:
    """lm_step.py's run as a section: speed at each batch size, then fidelity per backend."""
    p, rows = data["parameters"], data["results"]
    machine = data.get("machine", {})
    text = (
        f"Greedy decoding of {p['tokens']} tokens from one chat prompt copied to each batch's rows; the median of"
        f" {p['repeats']} repeats, configurations interleaved; {machine.get('cpu_count', '?')} CPUs, torch threads"
        f" {machine.get('torch_threads', '?')}. {provenance_line(data)}. *decode ms* is one step (forward pass and argmax) of"
        " the whole batch; *× float32* is transformers float32's decode time over this one's at the same batch;"
        " `llama_cpp:N` is llama.cpp with N threads; `generate` is transformers' own `model.generate`."
    )
    speed = [("config", "backend"), ("batch", "batch"), ("decode_ms", "decode ms"), ("prefill_ms", "prefill ms")]
    speed.append(("speedup_vs_float32", "× float32"))
    fidelity_rows = [r for r in rows if r["batch"] == rows[0]["batch"] and r["config"] != "generate"]
    n_prompts = len(p.get("fidelity_prompts", []))
    fidelity_text = (
        f"Fidelity to transformers float32: {n_prompts} prompts, {p['fidelity_tokens']} positions each along float32's"
        " greedy path, every backend fed the same tokens step by step; KL(float32 ‖ backend) in nats, and the share of"
        " positions where the two argmaxes differ."
    )
    quality = [("config", "backend"), ("kl_mean", "KL mean"), ("kl_max", "KL max"), ("argmax_differs", "argmax differs")]
    title = "Language-model backends (`benchmarks/lm_step.py`)"
    return section(title, text, table(rows, speed), fidelity_text, table(fidelity_rows, quality))


def render_backend_compare(data: dict) -> str:
    """A compare.py run on another backend as a section: each method's time per token and its
    own part (around the forward pass), per task and mode."""
    p, summary = data["parameters"], data["results"]["summary"]
    backend = p.get("backend", "transformers")
    model = p.get("model_repr", "")
    rows = [r for r in summary if r.get("ms_per_token") is not None]
    by_cell: dict[tuple[str, str], dict[str, dict]] = {}
    for r in rows:
        by_cell.setdefault((r["task"], r["mode"]), {})[r["method"]] = r
    for r in rows:
        awrs = by_cell[(r["task"], r["mode"])].get("awrs")
        own = r.get("overhead_ms_per_token")
        if awrs and own and awrs.get("overhead_ms_per_token"):
            r["own_vs_awrs"] = own / awrs["overhead_ms_per_token"]
    text = (
        f"`compare.py --backend {backend}` ({model}): JSON {p['json']}, regex {p['regex']}, SQL {p['sql']} items,"
        f" max {p['max_new_tokens']} new tokens, {p['repeats']} repeats (each step's least time). {provenance_line(data)}."
        " With the model 4-6× faster than transformers float32 at batch 1, the constraint's own time per token (*own"
        " ms/token*: the mask or the walk and the sampling, around the forward pass) is a larger share of the whole;"
        " *own ÷ awrs* is each method's own time over awrs's in the same cell (means over the items each ran: a peer"
        " that refused items, such as llguidance on 3 of the 10 JSON schemas, is averaged over fewer); *valid* is the"
        " share of outputs that validate, unfinished ones counting as invalid."
    )
    columns = [("task", "task"), ("mode", "mode"), ("method", "method"), ("ms_per_token", "ms/token")]
    columns += [("overhead_ms_per_token", "own ms/token"), ("own_vs_awrs", "own ÷ awrs"), ("validity", "valid")]
    title = f"awrs and the peers on the {backend} backend"
    return section(title, text, table(rows, columns))


__all__ = ["fmt", "render_backend_compare", "render_lm_step"]
