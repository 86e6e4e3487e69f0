"""benchmarks/compare.py's timing: per-step clocks and the least time over repeats."""

from __future__ import annotations

import pytest

import awrs
from tests.benchmarks.test_pattern_matching import load_benchmark
from tests.benchmarks.test_report import row


def test_the_least_time_is_taken_step_by_step_over_repeats():
    compare = load_benchmark("compare")
    runs = [dict(row("awrs", "a", 3, decode_s, 0.01 * k, 0.5), text="x", step_s=steps)
            for k, (decode_s, steps) in enumerate([(0.9, [0.1, 0.5, 0.2]), (0.8, [0.4, 0.1, 0.2]), (1.0, [0.3, 0.3, 0.1])], start=1)]
    out = compare._fastest_of(runs)
    assert out["step_s"] == [0.1, 0.1, 0.1]
    # The final step (no forward pass) is each run's decode time less its steps: 0.1, 0.1, 0.3.
    assert out["decode_s"] == pytest.approx(0.3 + 0.1)
    assert out["decode_total_s"] == 0.8 and out["overhead_s"] == 0.01 and out["repeats"] == 3
    assert out["compile_s"] == 0.5  # the first (cold) run's


def test_repeats_that_decode_differently_keep_the_first_run_only():
    compare = load_benchmark("compare")
    runs = [dict(row("awrs", "a", 2, 0.5, 0.1, 0.5), text="x", step_s=[0.2, 0.2]),
            dict(row("awrs", "a", 2, 0.3, 0.1, 0.5), text="y", step_s=[0.1, 0.1])]
    out = compare._fastest_of(runs)
    assert out["decode_s"] == 0.5 and out["repeat_mismatch"] and out["repeats"] == 1


@pytest.mark.model
def test_the_step_clock_times_every_forward_pass_of_a_generation(default_lm):
    compare = load_benchmark("compare")
    with compare._StepClock() as clock:
        r = awrs.generate(default_lm, "Count: ", awrs.Regex(r"[0-9]{4}"), method="awrs", max_new_tokens=8, seed=0)
    steps = clock.steps()
    assert len(steps) == r.stats.forward_passes - 1  # the prefill is not a step
    assert all(s > 0 for s in steps)
    assert sum(steps) <= r.stats.seconds - r.stats.prefill_seconds
    from awrs.lm.hf import HFBatch

    assert HFBatch.extend.__name__ == "extend"  # unwrapped again
