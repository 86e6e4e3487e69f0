"""Property tests for the constraint families built from user data: Choice (a list of options)
and Predicate (user functions). Arbitrary specs and inputs, valid or not, give a result or an
AwrsError (a wrong type: ArgumentTypeError, also a TypeError naming the argument) within the
deadline; a Predicate's own exception reaches the caller as itself, with a note. Nothing
else escapes. Valid specs answer as brute force does."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import awrs
from awrs.constraints import choice as choice_module
from awrs.errors import AwrsError
from awrs.lm.mock import MockLM

#: Text over a small alphabet (so options share prefixes and inputs hit them), lone
#: surrogates and non-ASCII included.
TEXT = st.text(alphabet=st.sampled_from(["a", "b", "é", "\ud800", "€", "\x00"]), max_size=6)
BINARY = st.binary(max_size=6)
JUNK = st.one_of(
    st.none(),
    st.integers(-3, 300),
    st.floats(allow_nan=True),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
OPTION = st.one_of(TEXT, TEXT, BINARY, JUNK)
INPUT = st.one_of(TEXT, TEXT, BINARY, JUNK)
CHECKS = ("accepts", "accepts_prefix", "first_violation", "walk")

SETTINGS = settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def _encoded(x):
    """The bytes of a valid option or input, or None."""
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        try:
            return x.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return None


def _run_checks(c, inputs):
    """Each check on each input: (input, check, answer or the AwrsError raised)."""
    out = []
    for x in inputs:
        for check in CHECKS:
            try:
                out.append((x, check, getattr(c, check)(x)))
            except AwrsError as exc:
                if isinstance(exc, TypeError):
                    assert "text must be a str or bytes" in str(exc)
                out.append((x, check, exc))
    return out


@SETTINGS
@given(
    spec=st.one_of(st.lists(OPTION, max_size=8), TEXT, BINARY, JUNK),
    inputs=st.lists(INPUT, max_size=4),
    sorted_form=st.booleans(),
)
def test_choice_gives_an_answer_or_an_awrs_error(spec, inputs, sorted_form):
    saved = choice_module.DFA_MAX_BYTES
    choice_module.DFA_MAX_BYTES = 0 if sorted_form else saved
    try:
        try:
            c = awrs.Choice(spec)
        except awrs.ConstraintError:
            valid_spec = isinstance(spec, list) and spec and all(_encoded(o) is not None for o in spec)
            assert not valid_spec, spec  # a list of encodable strings is always a valid Choice
            return
    finally:
        choice_module.DFA_MAX_BYTES = saved
    options = {_encoded(o) for o in spec}
    assert None not in options
    for x, check, answer in _run_checks(c, inputs):
        data = _encoded(x)
        if isinstance(answer, AwrsError):
            assert data is None and not isinstance(x, (bytes, bytearray)), (x, check)
        elif check == "accepts":
            assert answer == (data in options), (x, options)
        elif check == "accepts_prefix":
            assert answer == any(o.startswith(data) for o in options), (x, options)


class UserError(Exception):
    """An exception a user's function raises."""


def _function(kind: str, seed: int):
    """A user function of one of several kinds; ``raised`` records what it raised."""
    rng = np.random.default_rng(seed)
    table = rng.random(64) < 0.7

    def verdict(text):  # deterministic, pure
        return bool(table[hash(text) % 64])

    def fn(text):
        if kind == "bool":
            return verdict(text)
        if kind == "truthy":
            return ["", "x", 0, 1, None, np.bool_(True)][hash(text) % 6]
        if kind == "array":
            return np.array([True, False])
        if kind == "raises":
            exc = [UserError("no"), KeyError(text), ZeroDivisionError(), RecursionError()][seed % 4]
            fn.raised.append(exc)
            raise exc
        raise AssertionError(kind)

    fn.raised = []
    return fn


FUNCTION = st.one_of(
    st.builds(_function, st.sampled_from(["bool", "bool", "truthy", "array", "raises"]), st.integers(0, 10_000)),
    st.sampled_from([None, 5, "len", [len]]),
)


@SETTINGS
@given(prefix=FUNCTION, complete=st.one_of(st.none(), FUNCTION), inputs=st.lists(INPUT, max_size=4))
@example(prefix=_function("raises", 1), complete=_function("raises", 0), inputs=[""])  # both raise
def test_predicate_gives_an_answer_an_awrs_error_or_the_users_own_exception(prefix, complete, inputs):
    try:
        c = awrs.Predicate(prefix, complete)
    except awrs.ConstraintError:
        assert not callable(prefix) or (complete is not None and not callable(complete))
        return
    logs = [getattr(fn, "raised", []) for fn in (prefix, complete)]

    for x in inputs:
        for check in CHECKS:
            before = [len(log) for log in logs]
            try:
                getattr(c, check)(x)
            except AwrsError:
                pass
            except Exception as exc:  # must be the very exception the user's function raised, just now
                fresh = [e for log, n in zip(logs, before) for e in log[n:]]
                assert any(exc is e for e in fresh), repr(exc)
                assert any("raised by the" in note for note in exc.__notes__)


@settings(max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=st.lists(st.one_of(TEXT, st.sampled_from(["ab", "ba", "abab", "b"])), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
    method=st.sampled_from(["smc", "awrs", "lcd", "mask"]),
)
def test_generation_over_any_choice_gives_one_of_its_options_or_says_why_not(spec, seed, method):
    lm = MockLM([b"a", b"b", b"ab", "é".encode()[:1], "é".encode()[1:]], np.random.default_rng(seed).normal(0, 1, 6))
    try:
        c = awrs.Choice(spec)
    except awrs.ConstraintError:
        return
    r = awrs.generate(lm, "a", c, method=method, max_new_tokens=4, seed=seed, n_particles=2)
    assert not r.valid or r.text in spec
