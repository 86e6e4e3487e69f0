"""awrs.Regex within budgets: large regular patterns stay on an automaton (a DFA made lazily
when whole it would be too large), deep nesting is refused by a stated limit, backtracking
has a time limit, and any pattern and input give a result or an AwrsError in bounded time.

Time bounds are loose (the test machine is shared): each is 10 to 100 times what the check
takes here, and a small fraction of what it took before (minutes, or never)."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awrs.constraints.regex import Regex, partial
from awrs.errors import AwrsError, ConstraintError

#: Groups nested deeper are refused (awrs.constraints.regex.syntax.MAX_NESTING).
MAX_NESTING = 100


class _Clock:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def test_a_regular_pattern_too_large_for_a_whole_dfa_is_made_lazily():
    """([a-z]+ ?){1,100}: its whole DFA exceeds the budget; it went to backtracking, which took
    over 30 s to refuse 101 words."""
    with _Clock() as compile_time:
        c = Regex("([a-z]+ ?){1,100}")
    assert c.engine == "dfa" and c.dfa is None and "lazily" in c.reason, c.reason
    words = " ".join(["word"] * 101)
    with _Clock() as check:
        assert not c.accepts(words)
        assert c.accepts(" ".join(["word"] * 100))
        assert c.accepts_prefix(words[:300])
    assert compile_time.seconds < 5 and check.seconds < 2


def test_a_long_literal_checks_in_linear_time():
    """A 4,000-character literal: 18 s per check through backtracking before."""
    literal = "abcdefghij" * 400
    c = Regex(literal)
    assert c.engine == "dfa"
    with _Clock() as check:
        assert c.accepts(literal) and not c.accepts(literal[:-1] + "x") and c.accepts_prefix(literal[:1234])
    assert check.seconds < 1


def test_a_100000_character_literal_compiles_within_the_budget():
    literal = "abcdefghij" * 10_000
    with _Clock() as compile_time:
        c = Regex(literal)
    with _Clock() as check:
        assert c.accepts(literal) and not c.accepts(literal + "a")
    assert c.engine == "dfa"
    assert compile_time.seconds < 15 and check.seconds < 10


def test_nested_counted_repeats_are_one_automaton():
    """(a{1,30}){1,30} is a{1,900}: a DFA, not a backtracking search over 30^30 splits."""
    with _Clock() as compile_time:
        c = Regex("(a{1,30}){1,30}")
    assert c.engine == "dfa"
    with _Clock() as check:
        assert c.accepts("a" * 900) and not c.accepts("a" * 901) and not c.accepts("a" * 500 + "b")
    assert compile_time.seconds < 10 and check.seconds < 1


def test_a_regular_pattern_past_the_automaton_budget_falls_back_with_its_reason():
    c = Regex("(a{1,1000}){1,1000}")
    assert c.engine == "partial" and "150,000 states" in c.reason
    assert c.envelope is not None  # a+: texts with anything else are refused without the regex module
    assert c.accepts("a" * 50) and not c.accepts_prefix("ab")


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("group", ["(", "(?:", "(?P<g>"])
def test_deep_nesting_is_refused_by_a_stated_limit(depth, group):
    pattern = group * depth + "a" + ")" * depth
    with pytest.raises(ConstraintError, match=f"at most {MAX_NESTING} deep"):
        Regex(pattern)


def test_the_nesting_limit_is_the_reader_s():
    from awrs.constraints.regex.syntax import MAX_NESTING as limit

    assert limit == MAX_NESTING


def test_nesting_up_to_the_limit_is_read_without_recursion():
    for group in ("(", "(?:"):
        pattern = group * MAX_NESTING + "ab|c" + ")" * MAX_NESTING
        c = Regex(pattern)
        assert c.engine == "dfa" and c.accepts("ab") and c.accepts("c") and not c.accepts("a")


def test_catastrophic_backtracking_is_a_constraint_error_not_a_hang(monkeypatch):
    """((a|aa)+)x\\1y: the back-reference makes the regex module try every split of the a's
    (Fibonacci many); each check runs under the module's timeout."""
    monkeypatch.setattr(partial, "MATCH_TIMEOUT_S", 0.05)
    c = Regex(r"((a|aa)+)x\1y")
    assert c.engine == "partial"
    text = "a" * 40 + "x" + "a" * 39 + "y"
    with _Clock() as check, pytest.raises(ConstraintError, match="catastrophic backtracking"):
        c.accepts(text)
    assert check.seconds < 5


def test_recursion_that_consumes_nothing_is_a_constraint_error():
    """(?R)b: the regex module recurses without end and stops with MemoryError (about 1 s), or
    the check's timeout fires first on a slower machine: either error names recursion."""
    c = Regex("(?R)b")
    with pytest.raises(ConstraintError, match="recursion"):
        c.accepts("b")


def test_a_timeout_on_a_recursive_pattern_names_recursion(monkeypatch):
    monkeypatch.setattr(partial, "MATCH_TIMEOUT_S", 0.001)
    with pytest.raises(ConstraintError, match=r"took more than .*recursion that consumes nothing"):
        Regex("(?R)b").accepts("b")
    # A pattern without recursion keeps the plain cause.
    with pytest.raises(ConstraintError, match=r"catastrophic backtracking in the regex module\)"):
        Regex(r"((a|aa)+)x\1y").accepts("a" * 40 + "x" + "a" * 39 + "y")


def test_a_lone_surrogate_in_a_pattern_is_named():
    with pytest.raises(ConstraintError, match="lone surrogate"):
        Regex("\ud800")
    with pytest.raises(ConstraintError, match="lone surrogate"):
        Regex(r"x\udc00")
    assert Regex("a|\ud800").accepts("a")  # a branch no text can take
    c = Regex("[^\ud800-\udfff]+")
    assert c.accepts("any text ✓ 😀") and c.engine == "dfa"


# --- any pattern, any input: a result or an AwrsError, in bounded time -------------------------

_PIECES = [
    *list("ab-.^$|*+?{}()[]\\,0123:=!<>PRdwsDbBxuUNpi "),
    "{2}",
    "{1,3}",
    "{,2}",
    "{99999}",
    "{2,1}",
    "(?:",
    "(?P<n>",
    "(?P=n)",
    "(?P<1>",
    "(?i)",
    "(?a)",
    "(?u)",
    "(?L)",
    "(?V1)",
    "(?x)",
    "(?s:",
    "(?-i:",
    "(?<=",
    "(?<!",
    "(?=",
    "(?!",
    "(?>",
    "(?|",
    "(?(1)",
    "(?R)",
    "(?1)",
    "(?#c)",
    "[^",
    "[:alpha:]",
    "[[:word:]]",
    "\\x4",
    "\\x41",
    "\\u00e9",
    "\\U0010ffff",
    "\\U00110000",
    "\\0",
    "\\12",
    "\\101",
    "\\p{L}",
    "\\P{Lu}",
    "\\p{Foo}",
    "\\N{DIGIT ZERO}",
    "\\N{NO SUCH NAME}",
    "\\b",
    "\\X",
    "\\K",
    "\\G",
    "\\1",
    "é",
    "�",
    "😀",
    "(((",
    ")))",
    "a{1,30}",
    "*+",
    "++",
    "?+",
]
_FLAGS = st.sampled_from([0, re.I, re.A, re.S | re.M, re.X, re.A | re.I, re.U, re.L, re.A | re.U, 1 << 20])
_INPUTS = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=12),
    st.text(st.sampled_from("aAbé1-_ \n😀xy"), max_size=12),
    st.binary(max_size=12),
)


#: Patterns: pieces of regex syntax strung together (mostly invalid, often odd), or any text.
_ANY_PATTERNS = st.one_of(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12).map("".join), st.text(max_size=16))


@settings(max_examples=250, deadline=10_000, suppress_health_check=[HealthCheck.too_slow])
@given(
    pattern=_ANY_PATTERNS,
    flags=_FLAGS,
    inputs=st.lists(_INPUTS, min_size=1, max_size=4),
    engine=st.sampled_from(["auto", "auto", "partial", "dfa"]),
)
def test_any_pattern_and_input_give_a_result_or_an_awrs_error(pattern, flags, inputs, engine):
    """The time budget is the deadline: 10 s for a compile and four checks."""
    try:
        c = Regex(pattern, flags, engine=engine)
    except AwrsError:
        return
    for text in inputs:
        try:
            full, prefix = c.accepts(text), c.accepts_prefix(text)
        except AwrsError:
            continue
        assert isinstance(full, bool) and isinstance(prefix, bool)
        assert prefix or not full
