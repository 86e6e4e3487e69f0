from __future__ import annotations

import json

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
        return text == "" or text.replace(".", "", 1).isdigit() and len(text) <= 6

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
    with pytest.raises(ContractViolation, match="prefix closure|rejects"):
        check_constraint(Leaky(), valid=["ab"])
    with pytest.raises(ContractViolation, match="changed the state"):
        check_constraint(Mutating(), valid=["hi!"])
    with pytest.raises(ContractViolation, match="invalid example"):
        check_constraint(Choice(["a"]), valid=["a"], invalid=["a"])


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
