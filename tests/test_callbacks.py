"""A user's function that raises — a Predicate's check, a critic, on_token — reaches the caller
as the user's own exception, with a note saying where awrs called it, and leaves the model
usable: the next call on the same model gives the same result as on a fresh one. A critic's
answer that is not a log weight is a GenerationError naming it. A stream left early stops its
generation."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import awrs
from awrs.lm.mock import MockLM

TOKENS = [b"a", b"b", b"ab", b"c"]


def lm() -> MockLM:
    return MockLM(TOKENS, np.random.default_rng(0).normal(0, 1, size=(5, 5)))


class Boom(Exception):
    """The user's own exception."""


def boom(*args):
    raise Boom("the user's function failed")


def reference(model=None, **kwargs):
    """The result of a normal call on a fresh model."""
    return awrs.generate(model or lm(), "a", awrs.Regex("[ab]+c?"), max_new_tokens=6, seed=4, **kwargs)


@pytest.mark.parametrize("method", ["smc", "awrs"])
@pytest.mark.parametrize(
    "where, kwargs, constraint",
    [
        ("critic", {"critic": boom}, None),
        ("twisted critic", {"critic": boom, "twist": True}, None),
        ("on_token", {"on_token": boom}, None),
        ("predicate", {}, awrs.Predicate(prefix=boom)),
        ("predicate's complete", {}, awrs.Predicate(prefix=lambda text: len(text) < 3, complete=boom)),
    ],
)
def test_a_raising_callback_surfaces_as_its_own_exception_and_the_model_stays_usable(where, kwargs, constraint, method):
    model = lm()
    with pytest.raises(Boom) as info:
        awrs.generate(model, "a", constraint or awrs.Regex("[ab]+c?"), method=method, max_new_tokens=6, seed=4, **kwargs)
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "raised by" in notes and ("critic" in notes or "on_token" in notes or "Predicate" in notes), notes
    after = awrs.generate(model, "a", awrs.Regex("[ab]+c?"), method=method, max_new_tokens=6, seed=4)
    assert after.particles == reference(method=method).particles


def test_a_raising_predicate_in_a_check_names_the_function_and_the_text():
    c = awrs.Predicate(prefix=lambda text: text.startswith("a"), complete=boom)
    with pytest.raises(Boom) as info:
        c.accepts("ab")
    assert info.value.__notes__ == ["raised by the complete function of Predicate(prefix=<lambda>) on the text 'ab'"]


def test_an_answer_without_a_truth_value_is_a_constraint_error():
    c = awrs.Predicate(prefix=lambda text: np.array([True, False]))
    with pytest.raises(awrs.ConstraintError, match="returned ndarray, which has no truth value"):
        c.accepts("a")


@pytest.mark.parametrize("answer", ["0", None, True, math.nan, math.inf, [0.0]])
def test_a_critic_answer_that_is_not_a_log_weight_is_named(answer):
    with pytest.raises(awrs.GenerationError, match=r"the critic returned .* it must return a float log weight"):
        awrs.generate(lm(), "a", awrs.Regex("[ab]+c?"), max_new_tokens=6, seed=0, critic=lambda text: answer)


@pytest.mark.parametrize("answer", [0, np.float32(0.0), -math.inf, np.int64(-1)])
def test_critic_answers_of_any_real_type_are_log_weights(answer):
    r = awrs.generate(lm(), "a", awrs.Regex("[ab]+c?"), max_new_tokens=6, seed=0, critic=lambda text: answer)
    assert all(isinstance(p.log_weight, float) for p in r.particles)


def slow_lm() -> MockLM:
    """Each forward pass takes 5 ms and EOS is unlikely: a generation of 200 tokens runs ~1 s."""

    def logits(context):
        time.sleep(0.005)
        return np.array([0.0, 0.0, 0.0, 0.0, -10.0])

    return MockLM(TOKENS, logits)


def test_leaving_a_stream_early_stops_its_generation():
    model = slow_lm()
    stream = awrs.stream(model, "a", awrs.Regex("[ab]*"), max_new_tokens=200, seed=0)
    for _ in stream:
        break
    assert stream.job.done and stream.job.status == "cancelled" and stream.result is None  # stopped, and waited for
    calls = model.forward_calls
    after = awrs.generate(model, "a", awrs.Regex("[ab]+c?"), method="awrs", max_new_tokens=6, seed=4)
    assert model.forward_calls > calls and after.particles == reference(slow_lm(), method="awrs").particles


def test_a_stream_closes_on_leaving_its_with_block():
    with awrs.stream(slow_lm(), "a", awrs.Regex("[ab]*"), max_new_tokens=200, seed=0) as stream:
        pass
    assert stream.job.done and stream.job.status == "cancelled" and stream.result is None


@pytest.mark.model
def test_the_real_model_stays_usable_after_a_raising_critic(default_lm):
    c = awrs.Regex(r"[0-9]{2}")
    kwargs = dict(n_particles=3, max_new_tokens=4, seed=1)
    with pytest.raises(Boom):
        awrs.generate(default_lm, "Pick a number:", c, critic=boom, **kwargs)
    after = awrs.generate(default_lm, "Pick a number:", c, **kwargs)
    again = awrs.generate(default_lm, "Pick a number:", c, **kwargs)
    assert after.particles == again.particles and after.valid
