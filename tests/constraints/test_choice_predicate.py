from __future__ import annotations

import itertools
import json
import random
import string
import time
import tracemalloc

import numpy as np
import pytest

from awrs.constraints.base import Constraint
from awrs.constraints.choice import Choice
from awrs.constraints.predicate import Predicate
from awrs.errors import ConstraintError
from awrs.lm.vocab import Vocabulary
from awrs.testing import ContractViolation, check_constraint


def test_choice_accepts_exactly_the_options():
    c = Choice(["yes", "no", "maybe", "né", "no way"])
    check_constraint(c, valid=["yes", "no", "maybe", "né", "no way"], invalid=["ye", "yes!", "", "n", "nope"])
    assert c.accepts_prefix("no w") and not c.accepts_prefix("nx")
    assert c.accepts_prefix(b"n\xc3") and not c.accepts_prefix(b"n\xc4")


def test_choice_mask_on_a_toy_vocabulary():
    vocab = Vocabulary.from_tokens([b"y", b"yes", b"n", b"o", b"x", b"<eos>"], eos_ids=[5])
    c = Choice(["yes", "no"])
    assert c.mask(c.initial(), vocab).tolist() == [True, True, True, False, False, False]


@pytest.mark.parametrize("bad", [[], "yes", [1, 2]])
def test_choice_refuses_bad_options(bad):
    with pytest.raises(ConstraintError):
        Choice(bad)


def test_predicate_wraps_user_functions():
    def is_number_prefix(text: str) -> bool:
        return text == "" or (text.replace(".", "", 1).isdigit() and len(text) <= 6)

    def is_number(text: str) -> bool:
        return is_number_prefix(text) and text != "" and not text.endswith(".")

    c = Predicate(prefix=is_number_prefix, complete=is_number)
    check_constraint(c, valid=["1", "3.14", "100.5"], invalid=["1.", "abc", "1234567"])
    assert c.accepts_prefix("3.") and not c.accepts("3.")


def test_predicate_sees_only_whole_characters():
    seen = []

    def record(text: str) -> bool:
        seen.append(text)
        return True

    c = Predicate(record)
    state = c.advance(c.initial(), "é".encode()[:1])
    assert state is not None and seen == [""]  # the unfinished é is not shown to the function
    assert c.advance(state, "é".encode()[1:]) is not None and seen[-1] == "é"
    assert not c.is_complete(state)  # an unfinished character is never complete


def test_predicate_needs_callables():
    with pytest.raises(ConstraintError):
        Predicate(prefix="not a function")


class Leaky(Constraint):
    """A broken constraint: rejects a prefix of a string it accepts."""

    def initial(self):
        return ""

    def advance(self, state, data):
        text = state + data.decode("utf-8", "replace")
        return None if text == "a" else text

    def is_complete(self, state):
        return state == "ab"


class Mutating(Constraint):
    """A broken constraint: its states are mutable lists that advance() changes."""

    def initial(self):
        return []

    def advance(self, state, data):
        state.extend(data)
        return state

    def is_complete(self, state):
        return bytes(state).endswith(b"!")


class Overconfident(Choice):
    """A broken constraint: says only "a" may come next, though "b" starts a valid string."""

    def next_bytes(self, state):
        out = np.zeros(256, dtype=bool)
        out[ord("a")] = True
        return out


class Hasty(Choice):
    """A broken constraint: says generation ends after "a", though "ab" is valid too."""

    def is_final(self, state):
        return self.is_complete(state)


def test_the_contract_kit_catches_broken_constraints():
    with pytest.raises(ContractViolation, match="is final"):
        check_constraint(Hasty(["a", "ab"]), valid=["ab"])
    check_constraint(Hasty(["a", "ab"]), valid=["a"])  # final at its end: fine
    with pytest.raises(ContractViolation, match=r"next_bytes\(\) refuses b'b'"):
        check_constraint(Overconfident(["ab", "ba"]), valid=["ab", "ba"])
    with pytest.raises(ContractViolation, match=r"prefix closure|rejects"):
        check_constraint(Leaky(), valid=["ab"])
    with pytest.raises(ContractViolation, match="changed the state"):
        check_constraint(Mutating(), valid=["hi!"])
    with pytest.raises(ContractViolation, match="invalid example"):
        check_constraint(Choice(["a"]), valid=["a"], invalid=["a"])
    with pytest.raises(ContractViolation, match="says it is bytewise"):
        check_constraint(Unbytewise(lambda t: not t.endswith("x")), valid=["ab"])
    check_constraint(Predicate(lambda t: not t.endswith("x")), valid=["ab"])  # not bytewise: fine
    with pytest.raises(ContractViolation, match="says advance is a fold over the bytes"):
        check_constraint(Chunky(), valid=["abcd"])
    check_constraint(Chunky(byte_steps=False), valid=["abcd"])  # no such promise: fine


class Chunky(Constraint):
    """A constraint whose states count the pieces its text came in: not a fold over the bytes."""

    def __init__(self, byte_steps: bool = True):
        self.byte_steps = byte_steps

    def initial(self):
        return (b"", 0)

    def advance(self, state, data):
        return (state[0] + data, state[1] + 1)

    def is_complete(self, state):
        return True


class Unbytewise(Predicate):
    """A predicate on whole texts that says it reads bytes one at a time: "x" is refused
    alone, "xa" is not."""

    bytewise = True


def test_default_mask_matches_advance():
    c = Predicate(lambda t: all(ch in "ab" for ch in t) and len(t) <= 3)
    vocab = Vocabulary.from_tokens([b"a", b"ab", b"abab", b"c", b"<eos>"], eos_ids=[4])
    assert Constraint.mask(c, c.initial(), vocab).tolist() == [True, True, False, False, False]


def test_first_violation_reports_the_byte_offset():
    c = Choice([json.dumps({"a": 1})])
    assert c.first_violation('{"a": 1}') is None
    assert c.first_violation('{"b": 1}') == 2
    assert c.first_violation('{"a"') == 4
    assert np.all(c.allowed_bytes()[[ord(ch) for ch in '{"a: 1}']])


@pytest.mark.parametrize(
    "bad, says",
    [
        (["yes", "\ud800"], "option 1 holds the lone surrogate"),
        (None, "got NoneType"),
        (5, "got int"),
        ([b"a", 3], "option 1 must be a str or bytes"),
        (iter(["a", None]), "option 1 must be a str or bytes"),
    ],
)
def test_choice_refuses_bad_options_with_a_constraint_error(bad, says):
    with pytest.raises(ConstraintError, match=says):
        Choice(bad)


def test_choice_refuses_an_endless_list_without_reading_it_all():
    with pytest.raises(ConstraintError, match="at most 2,000,000 options"):
        Choice(itertools.repeat("a"))


def test_a_long_choice_is_searched_not_compiled_to_a_trie():
    """10,000 options of 1,000 letters: a trie DFA would hold ~10 million nodes (~35 GB, some
    minutes); the sorted form holds the options (10 MB as bytes) and is built in well under a
    second. The bounds leave room for a slow machine: 100 MB traced, 10 s."""
    rng = random.Random(0)
    options = ["".join(rng.choice(string.ascii_lowercase) for _ in range(1000)) for _ in range(10_000)]
    tracemalloc.start()
    started = time.perf_counter()
    try:
        c = Choice(options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 10 and peak < 100 * 2**20, peak
    assert c.dfa is None and all(c.accepts(o) for o in options[:200])
    assert not c.accepts(options[0][:-1]) and c.accepts_prefix(options[0][:-1])
    assert not c.accepts_prefix(options[0][:500] + "!")


def _prefix_oracle(options, text):
    """(text starts some option, text is an option, the bytes that can follow), by brute force."""
    data = text.encode()
    encoded = [o.encode() for o in options]
    starts = [o for o in encoded if o.startswith(data)]
    follow = {o[len(data)] for o in starts if len(o) > len(data)}
    return bool(starts), data in encoded, follow


@pytest.mark.parametrize("form", ["dfa", "sorted"])
def test_both_forms_of_choice_agree_with_brute_force(form, monkeypatch):
    """300 random texts against 120 random options over a 3-letter alphabet (many shared
    prefixes, the empty option included): prefix, complete and next bytes as a brute-force
    scan of the options says; the contract kit passes."""
    from awrs.constraints import choice as choice_module

    if form == "sorted":
        monkeypatch.setattr(choice_module, "DFA_MAX_BYTES", 0)
    rng = random.Random(1)
    options = [""] + ["".join(rng.choice("abé") for _ in range(rng.randint(1, 6))) for _ in range(120)]
    c = Choice(options)
    assert (c.dfa is None) == (form == "sorted")
    check_constraint(c, valid=options[:40], invalid=["d", "abcabcabc"])
    for _ in range(300):
        text = "".join(rng.choice("abcé") for _ in range(rng.randint(0, 7)))
        prefix, complete, follow = _prefix_oracle(options, text)
        state = c.walk(text)
        assert (state is not None) == prefix, text
        if state is not None:
            assert c.is_complete(state) == complete, text
            assert set(np.flatnonzero(c.next_bytes(state)).tolist()) == follow, text


def test_generation_over_the_sorted_form_samples_the_lcd_distribution(monkeypatch):
    """1,000 AWRS runs over a Choice in sorted form against the exact locally constrained
    distribution (chi-square at level 1e-3, rare outcomes pooled)."""
    import awrs
    from awrs.constraints import choice as choice_module
    from awrs.lm.mock import MockLM
    from tests.exact import chi_square_against, lcd_distribution

    monkeypatch.setattr(choice_module, "DFA_MAX_BYTES", 0)
    lm = MockLM([b"a", b"b", b"ab", b"ba"], np.random.default_rng(3).normal(0, 1, size=(5, 5)))
    c = Choice(["ab", "aba", "bab", "b", "abba"])
    assert c.dfa is None
    exact = lcd_distribution(lm, [0], c, max_new_tokens=4)
    texts = [awrs.generate(lm, "a", c, method="awrs", max_new_tokens=4, seed=s).text.encode() for s in range(1000)]
    assert chi_square_against(texts, exact) > 1e-3


def test_the_contract_kit_names_bad_arguments():
    from awrs.errors import ArgumentTypeError, InvalidTextError

    with pytest.raises(ArgumentTypeError, match="constraint must be an awrs constraint, got str"):
        check_constraint("[ab]+", valid=["a"])
    with pytest.raises(ArgumentTypeError, match=r"valid\[1\] must be a str or bytes, got NoneType"):
        check_constraint(Choice(["a"]), valid=["a", None])
    with pytest.raises(InvalidTextError, match=r"invalid\[0\] holds the lone surrogate"):
        check_constraint(Choice(["a"]), valid=["a"], invalid=["\ud800"])
