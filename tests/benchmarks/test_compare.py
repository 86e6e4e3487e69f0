"""benchmarks/compare.py's timing: per-step clocks, the least time over repeats, and the
forward passes pooled across methods."""

from __future__ import annotations

import json

import pytest

import awrs
from tests.benchmarks.test_pattern_matching import load_benchmark
from tests.benchmarks.test_report import row


def test_the_least_time_is_taken_step_by_step_over_repeats():
    compare = load_benchmark("compare")
    runs = [
        dict(row("awrs", "a", 3, decode_s, 0.01 * k, 0.5), text="x", step_s=steps)
        for k, (decode_s, steps) in enumerate([(0.9, [0.1, 0.5, 0.2]), (0.8, [0.4, 0.1, 0.2]), (1.0, [0.3, 0.3, 0.1])], start=1)
    ]
    out = compare._fastest_of(runs)
    assert out["step_s"] == [0.1, 0.1, 0.1]
    # The final step (no forward pass) is each run's decode time less its steps: 0.1, 0.1, 0.3.
    assert out["decode_s"] == pytest.approx(0.3 + 0.1)
    assert out["decode_total_s"] == 0.8 and out["overhead_s"] == 0.01 and out["repeats"] == 3
    assert out["compile_s"] == 0.5  # the first (cold) run's
    assert out["repeat_decode_s"] == [0.9, 0.8, 1.0]  # every repeat's whole run, for the noise across repeats


def test_repeats_that_decode_differently_keep_the_first_run_only():
    compare = load_benchmark("compare")
    runs = [
        dict(row("awrs", "a", 2, 0.5, 0.1, 0.5), text="x", step_s=[0.2, 0.2]),
        dict(row("awrs", "a", 2, 0.3, 0.1, 0.5), text="y", step_s=[0.1, 0.1]),
    ]
    out = compare._fastest_of(runs)
    assert out["decode_s"] == 0.5 and out["repeat_mismatch"] and out["repeats"] == 1
    assert out["repeat_decode_s"] == [0.5]


@pytest.mark.model
def test_the_step_clock_times_every_forward_pass_of_a_generation(default_lm):
    compare = load_benchmark("compare")
    with compare._StepClock() as clock:
        r = awrs.generate(default_lm, "Count: ", awrs.Regex(r"[0-9]{4}"), method="awrs", max_new_tokens=8, seed=0)
    steps = clock.steps()
    assert len(steps) == r.stats.forward_passes - 1  # the prefill is not a step
    assert all(s > 0 for s in steps)
    assert len(clock.forwards) == len(steps) and all(0 < f <= s for f, s in zip(clock.forwards, steps))
    assert sum(steps) <= r.stats.seconds - r.stats.prefill_seconds
    from awrs.lm.hf import HFBatch

    assert HFBatch.extend.__name__ == "extend"  # unwrapped again


def test_each_step_is_split_into_the_forward_pass_and_the_choice_around_it():
    compare = load_benchmark("compare")
    runs = [
        dict(row("awrs", "a", 3, 1.0, 0.1, 0.5), text="x", step_s=[0.3, 0.5], forward_s=[0.2, 0.45]),
        dict(row("awrs", "a", 3, 0.9, 0.1, 0.5), text="x", step_s=[0.4, 0.3], forward_s=[0.2, 0.28]),
    ]
    out = compare._fastest_of(runs)
    assert out["forward_s"] == [0.2, 0.28]
    assert out["choice_s"] == pytest.approx([0.1, 0.02])  # least of 0.1/0.2 and 0.05/0.02
    assert out["final_s"] == pytest.approx(0.2)  # 1.0 - 0.8 and 0.9 - 0.7
    one = compare._fastest_of(runs[:1])  # timed once: the same fields, from the one run
    assert one["choice_s"] == pytest.approx([0.1, 0.05]) and one["decode_s"] == pytest.approx(1.0) and "repeats" not in one


def test_forward_passes_are_pooled_over_the_single_row_methods_of_an_item():
    compare = load_benchmark("compare")
    outs = {
        "unconstrained": {"supported": True, "forward_s": [0.5, 0.6, 0.7, 0.9]},
        "awrs": {"supported": True, "forward_s": [0.9, 0.4], "choice_s": [0.01, 0.01], "final_s": 0.01, "decode_s": 1.33},
        "llguidance": {
            "supported": True,
            "forward_s": [0.6, 0.8, 0.5],
            "choice_s": [0.02, 0.02, 0.02],
            "final_s": 0.01,
            "decode_s": 1.97,
        },
        "awrs-smc": {"supported": True, "forward_s": [0.1, 0.1, 0.1, 0.1]},  # five rows: not the same computation
        "xgrammar": {"supported": False},
        "genlm-control": None,
    }
    pooled = compare.pool_forward(outs, {"llguidance", "xgrammar"})
    assert pooled == [0.5, 0.4, 0.5, 0.9]
    awrs_row, peer_row = dict(outs["awrs"]), dict(outs["llguidance"])
    compare.apply_pooled_forward(awrs_row, pooled)
    compare.apply_pooled_forward(peer_row, pooled)
    assert awrs_row["decode_s"] == pytest.approx(0.02 + 0.9 + 0.01) and awrs_row["decode_measured_s"] == 1.33
    assert awrs_row["overhead_s"] == pytest.approx(0.03)
    assert peer_row["decode_s"] == pytest.approx(0.06 + 1.4 + 0.01)
    # Same work around the model, different luck with the machine: equal after pooling.
    a = {"supported": True, "forward_s": [0.5, 0.5], "choice_s": [0.01, 0.01], "final_s": 0.0, "decode_s": 1.02}
    b = {"supported": True, "forward_s": [0.7, 0.6], "choice_s": [0.01, 0.01], "final_s": 0.0, "decode_s": 1.32}
    pooled = compare.pool_forward({"awrs": a, "outlines": b}, {"outlines"})
    compare.apply_pooled_forward(a, pooled)
    compare.apply_pooled_forward(b, pooled)
    assert a["decode_s"] == pytest.approx(b["decode_s"]) == pytest.approx(1.02)


_DONE = {"supported": True, "valid": True, "finished": True, "checks": 0, "checked_tokens": 1}


def test_every_single_row_method_of_a_cell_is_charged_the_same_model_time_per_forward_pass():
    compare = load_benchmark("compare")
    # Item "a": every method does 0.01 s of its own work per step. llguidance stops after two
    # forward passes, awrs runs four. Four runs reach the first two positions, one the last
    # two: the least over four samples is lower than the least over one (noise only adds
    # time), so position pooling charged llguidance less per token for the same work.
    forwards = {
        "awrs": [0.52, 0.51, 0.56, 0.57],
        "llguidance": [0.55, 0.53],
        "unconstrained": [0.50, 0.52],
        "xgrammar": [0.53, 0.50],
    }
    outs = {
        name: {"supported": True, "forward_s": f, "choice_s": [0.01] * len(f), "final_s": 0.01, "decode_s": 9.0}
        for name, f in forwards.items()
    }
    pooled = compare.pool_forward(outs, {"llguidance", "xgrammar"})
    assert pooled == [0.50, 0.50, 0.56, 0.57]
    rows = []
    for name, out in outs.items():
        compare.apply_pooled_forward(out, pooled)
        rows.append({"task": "t", "mode": "m", "id": "a", "method": name, "steps": len(out["forward_s"]) + 1, **_DONE, **out})
    per_token = {r["method"]: r["decode_s"] / r["steps"] for r in rows}
    assert per_token["llguidance"] < per_token["awrs"]  # the bias: same work, cheaper per token
    # A second item with a slower model (a longer prompt, or a slow spell of the machine).
    other = {"supported": True, "forward_s": [0.7, 0.7], "choice_s": [0.01, 0.01], "final_s": 0.01, "decode_s": 9.0}
    compare.apply_pooled_forward(other, compare.pool_forward({"unconstrained": other}, set()))
    rows.append({"task": "t", "mode": "m", "id": "b", "method": "awrs", "steps": 3, **_DONE, **other})
    smc = {
        "task": "t",
        "mode": "m",
        "id": "a",
        "method": "awrs-smc",
        "steps": 3,
        **_DONE,
        "decode_s": 5.0,
        "forward_s": [1.0, 1.0],
    }
    rows.append(dict(smc))
    compare.charge_matched_model_time(rows)
    step = ((0.50 + 0.56) / 2 + 0.7) / 2  # the mean over the items of each item's median pooled forward pass
    for r in rows[:5]:
        assert r["model_s"] == pytest.approx(step * r["steps"])  # one forward pass per step
        assert r["decode_s"] == pytest.approx(r["overhead_s"] + r["model_s"])
        assert "decode_pooled_s" in r and r["decode_measured_s"] == 9.0
    per_token = {r["method"]: r["decode_s"] / r["steps"] for r in rows[:4]}
    # Same own time per step, same model time per step: the same time per token, whatever the length.
    assert per_token["llguidance"] == pytest.approx(per_token["awrs"]) == pytest.approx(step + 0.01)
    assert rows[-1] == smc  # SMC's batched steps are not single-row forward passes: as measured
    table = compare.summarise(rows)
    awrs_row = next(r for r in table if r["method"] == "awrs")
    assert awrs_row["ms_per_token"] == pytest.approx(1000 * (step + 0.01))  # over both items
    assert awrs_row["ms_per_token_pooled"] != pytest.approx(awrs_row["ms_per_token"])
    assert awrs_row["items"] == 2  # how many items the method was run on


def test_the_ratio_to_unconstrained_compares_the_same_tokens_item_by_item():
    load_benchmark("compare")  # puts benchmarks/ on the path
    from _common import vs_unconstrained

    def r(method, item, forward, overhead):
        steps = len(forward) + 1  # the last step has no forward pass
        return {
            "task": "t",
            "mode": "m",
            "method": method,
            "id": item,
            "supported": True,
            "steps": steps,
            "forward_s": forward,
            "overhead_s": overhead * steps,
            "decode_s": sum(forward) + overhead * steps,
        }

    # Unconstrained stops at once on "a" (one forward pass for two steps) and runs long on "b";
    # awrs runs long on "a" and stops at once on "b". Whole runs divided would call awrs ~2x
    # slower; on the same tokens its only extra is 0.1 per step over unconstrained's 0.1.
    rows = [
        r("unconstrained", "a", [1.0], 0.1),
        r("unconstrained", "b", [2.0] * 9, 0.1),
        r("awrs", "a", [1.0] * 9, 0.2),
        r("awrs", "b", [2.0], 0.2),
    ]
    want = (9 * 1.0 + 10 * 0.2 + 2.0 + 2 * 0.2) / (9 * 1.0 + 10 * 0.1 + 2.0 + 2 * 0.1)
    assert vs_unconstrained(rows, "t", "m", "awrs") == pytest.approx(want)
    assert vs_unconstrained(rows, "t", "m", "unconstrained") == pytest.approx(1.0)
    # Without per-step times (genlm-control): unconstrained's time per token on the item.
    rows.append(
        {"task": "t", "mode": "m", "method": "genlm-control", "id": "b", "supported": True, "steps": 10, "decode_s": 40.0}
    )
    assert vs_unconstrained(rows, "t", "m", "genlm-control") == pytest.approx(40.0 / (10 * (18.0 + 1.0) / 10))


def test_first_calls_use_items_outside_the_timed_slices():
    import argparse

    compare = load_benchmark("compare")
    args = argparse.Namespace(json=3, regex=2, patterns=0, sql=1)
    timed, warm = compare.tasks(args, None), compare.tasks(args, None, warm_up=True)
    kinds = lambda items: sorted({t["task"] for t in items})
    assert kinds(warm) == kinds(timed) == ["json", "regex", "sql"]  # one per task that is timed, none for the others
    assert len(warm) == 3
    for task in ("json", "regex", "sql"):
        specs = [json.dumps(t["spec"], sort_keys=True) for t in timed if t["task"] == task]
        assert all(json.dumps(w["spec"], sort_keys=True) not in specs for w in warm if w["task"] == task)
