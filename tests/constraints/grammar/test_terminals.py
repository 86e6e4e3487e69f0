"""Terminals read as Lark reads them: first matches (lazy repeats, alternatives in order),
%ignore'd terminals that end only where their match ends, look-arounds, imports, flags.

The oracle is Lark's Earley parser with lexer="dynamic_complete" (docs/grammars.md), except for
look-aheads, whose documented reading (on the real text after the token, for every token
length) is checked case by case.
"""

from __future__ import annotations

import itertools
import re

import lark
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awrs.constraints.grammar import Grammar
from awrs.errors import ConstraintError


def lark_accepts(text: str, s: str) -> bool:
    try:
        lark.Lark(text, parser="earley", lexer="dynamic_complete").parse(s)
        return True
    except lark.exceptions.LarkError:
        return False


COMMENT = 'start: "a" "b"\nCOMMENT: /#[^\\n]*/\n%ignore COMMENT\n%ignore "\\n"'
CPP = 'start: "a" "b"\n%import common (WS, CPP_COMMENT)\n%ignore WS\n%ignore CPP_COMMENT'
C_COMMENT = 'start: "x" "y"\n%import common (C_COMMENT)\n%ignore C_COMMENT'
LAZY = "start: C\nC: /a+?/"
STRINGS = "start: ESCAPED_STRING+\n%import common.ESCAPED_STRING\n%import common.WS\n%ignore WS"
JSON_EXAMPLE = r"""
?start: value
?value: object | array | string | SIGNED_NUMBER -> number | "true" -> true | "false" -> false | "null" -> null
array  : "[" [value ("," value)*] "]"
object : "{" [pair ("," pair)*] "}"
pair   : string ":" value
string : ESCAPED_STRING
%import common.ESCAPED_STRING
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""

CASES = [
    # an ignored comment ends only at its own match's end: "#b" is all comment
    (COMMENT, ["a#x\nb", "a\nb", "ab#x"], ["a#b", "a#x b"]),
    (CPP, ["a//x\nb", "a b", "a\n//c\nb"], ["a//b", "a// b"]),
    # a lazy repeat: /a+?/ matches "a" only
    (LAZY, ["a"], ["aa", "aaa"]),
    ("start: C*\nC: /a+?/", ["", "a", "aaa"], ["b"]),
    # a C comment ends at its first */
    (C_COMMENT, ["x/**/y", "x/* a * b */y", "x/***/y"], ["x/**/*/y", "x/* */ */y"]),
    # alternatives in order: /a|ab/ never matches "ab"
    ("start: X\nX: /a|ab/", ["a"], ["ab"]),
    ("start: X X?\nX: /a|ab/", ["a", "aa"], ["ab"]),
    # ESCAPED_STRING: a look-behind inside the token, and lazy repeats
    (STRINGS, ['"ab"', '"a\\"b"', '"a\\\\" "b"', '"" ""'], ['"a\\\\"b"', '"a"b"', '"a\\"']),
    (JSON_EXAMPLE, ['{"a": [1, -2.5e3, true, null, "x\\"y"]}', "[]"], ['{"a" 1}', '["\\\\""]']),
]


@pytest.mark.parametrize("text, valid, invalid", CASES)
def test_terminals_agree_with_lark(text, valid, invalid):
    g = Grammar(text)
    for s in valid:
        assert lark_accepts(text, s), f"the case itself is wrong: {s!r}"
        assert g.accepts(s), s
        assert all(g.accepts_prefix(s[:i]) for i in range(len(s) + 1)), s
    for s in invalid:
        assert not lark_accepts(text, s), f"the case itself is wrong: {s!r}"
        assert not g.accepts(s), s


def test_lark_json_example_and_lark_strings_compile():
    """%import common.ESCAPED_STRING (a look-behind) was refused, and with it Lark's own JSON
    example and lark.lark's STRING."""
    Grammar(JSON_EXAMPLE)
    g = Grammar("start: STRING\n%import lark.STRING")
    assert g.accepts('"abc"') and g.accepts('"abc"i') and not g.accepts('"abc')


def test_a_missing_import_file_is_a_constraint_error():
    with pytest.raises(ConstraintError, match=r"cannot be read: .*test.lark"):
        Grammar("start: NUMBER\n%import .grammars.test.NUMBER")
    with pytest.raises(ConstraintError, match="cannot be read"):
        Grammar("start: NUMBER\n%import nosuch.NUMBER")


# --- a terminal's tokens against Python's re.match --------------------------------------------

EMPTY_ITERATIONS = [
    r"[^a\n](?:(?:(?:a)*)*)*?(?:(?:(?:a){2}|(?:(?:(?:a)*?|(?:a)*))*))*",  # found by the random test below
    r"a(?:(?:(?:(?:a)*)*|(?:b)*))*",  # a repeat entered afresh by its enclosing one's next iteration
    r"b(?:|a){0,3}",
    r"(?:a*)*?a",
    r"x(?:(?:a|)(?:b|))*",
    r"x(?:a??b?)*?b",
    r"x(?:a*|b)+",
    r"x(?:|a)+?a",
    r"x(?:a?){2,3}b?",
]


@pytest.mark.parametrize("pattern", EMPTY_ITERATIONS)
def test_a_repeat_ends_after_an_empty_iteration_as_in_python(pattern):
    """A token is a text at whose end the terminal's first match ends (re.match on the text
    alone). Python's re does not iterate again after an iteration that matched nothing (past
    the minimum count): it goes on after the repeat, which decides the first match of
    ``[^a](?:(?:a*)*)*?(?:(?:a){2}|(?:a*?|a*)*)*`` on "#a" ("#", not "#a")."""
    g = Grammar(f"start: Y\nY: /{pattern}/")
    for n in range(1, 5):
        for chars in itertools.product("abx#", repeat=n):
            s = "".join(chars)
            m = re.match(pattern, s)
            assert g.accepts(s) == (m is not None and m.end() == len(s)), s


# --- random terminals against Lark ---------------------------------------------------------

_ATOMS = ["a", "b", "c", "[ab]", "[^a\\n]", ".", "(?:ab)", "(?:a|b)"]


@st.composite
def regexes(draw, depth=0):
    """Small regular expressions over a, b, c with lazy and greedy repeats and ordered
    alternatives, never matching the empty string (Lark refuses those)."""
    if depth > 2 or draw(st.booleans()):
        node = draw(st.sampled_from(_ATOMS))
    elif draw(st.booleans()):
        node = "(?:" + "|".join(draw(st.lists(regexes(depth + 1), min_size=2, max_size=3))) + ")"
    else:
        node = "".join(draw(st.lists(regexes(depth + 1), min_size=1, max_size=3)))
    if draw(st.integers(0, 2)) == 0:
        quantifier = draw(st.sampled_from(["*", "+", "?", "{1,2}", "{2}"]))
        lazy = draw(st.sampled_from(["", "?"]))
        node = "(?:" + node + ")" + quantifier + lazy
    return node


def _nonempty(pattern: str) -> bool:
    return re.fullmatch(pattern, "") is None


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    first=regexes().filter(_nonempty),
    second=regexes().filter(_nonempty),
    ignore=regexes().filter(_nonempty),
    texts=st.lists(st.text(alphabet="abc #", max_size=7), min_size=1, max_size=6),
)
def test_random_terminals_agree_with_lark(first, second, ignore, texts):
    """Two terminals and an ignored one of random regular expressions; random texts."""
    text = f'start: (X | Y)+\nX: /{first}/\nY: /{second}/\nIGN: /#{ignore}/\n%ignore IGN\n%ignore " "'
    g = Grammar(text)
    parser = lark.Lark(text, parser="earley", lexer="dynamic_complete")
    for s in texts:
        try:
            parser.parse(s)
            want = True
        except lark.exceptions.LarkError:
            want = False
        assert g.accepts(s) == want, (text, s)
        if want:
            assert all(g.accepts_prefix(s[:i]) for i in range(len(s))), (text, s)


# --- look-arounds: read on the real text around the token ------------------------------------


def test_a_look_ahead_reads_the_text_after_the_token():
    g = Grammar('start: KW NAME?\nKW: /select(?![a-z])/i\nNAME: /[a-z]+/\n%ignore " "')
    assert g.accepts("select") and g.accepts("SELECT x") and not g.accepts("selectx")
    # the look-ahead sees past the end of the token, into the next one, across the ignored blank
    g = Grammar("start: A B\nA: /a(?=bc)/\nB: /b[a-z]/")
    assert g.accepts("abc") and not g.accepts("abd") and g.accepts_prefix("ab")


def test_a_look_ahead_inside_a_token_and_past_it():
    """Python's STRING begins ``"(?!"")``: an empty string may not be followed by a quote."""
    g = Grammar('start: STRING+\nSTRING: /"(?!"").*?"/\n%ignore " "')
    assert g.accepts('"a"') and g.accepts('"" "a"') and g.accepts('"a""b"')
    assert not g.accepts('"""a"')


def test_word_boundaries_and_anchors():
    g = Grammar('start: W+\nW: /\\bab|c/\n%ignore " "')
    assert g.accepts("ab") and g.accepts("c ab") and g.accepts("abab")  # each token starts a text of its own
    g = Grammar("start: W\nW: /ab$/")
    assert g.accepts("ab") and not g.accepts_prefix("abc")


def test_a_look_behind_reads_the_token_so_far():
    g = Grammar("start: W\nW: /[a-z]+(?<!x)!/")
    assert g.accepts("ab!") and not g.accepts("ax!")


def test_keywords_are_not_identifiers_through_a_leading_look_ahead():
    g = Grammar('start: NAME+\nNAME: /(?!(?:if|in)(?![a-z]))[a-z]+(?![a-z])/\n%ignore " "')
    assert g.accepts("iff inn x") and not g.accepts("if x") and not g.accepts("x in")
    assert g.accepts_prefix("x in")  # "in" may still become "inn"


def test_nested_look_arounds_are_refused_clearly():
    with pytest.raises(ConstraintError, match="nests a look-around"):
        Grammar("start: W\nW: /a(?=b(?=c))../")


@pytest.mark.parametrize(
    "text, texts",
    [
        ("start: /é/i", ["é", "É", "e", "E"]),  # case-insensitive beyond ASCII
        ("start: /straße/i", ["STRAßE", "straße", "STRASSE", "STRAẞE"]),
        ("start: /k+/i", ["kK", "\u212a"]),  # the Kelvin sign folds with k in Python's re
        ("start: /a/u", ["a", "A"]),  # Lark's /u flag
        ("start: W\nW: /\\w+/", ["héllo", "abc", "a-b"]),  # Unicode \w, as re's
        ("start: W\nW: /[^\\W\\d]\\w*/", ["ñame", "_x1", "1x"]),  # Python's NAME
        ("start: W\nW: /(?s:.)/", ["\n", "a"]),
    ],
)
def test_flags_and_unicode_classes_agree_with_lark(text, texts):
    g = Grammar(text)
    for s in texts:
        assert g.accepts(s) == lark_accepts(text, s), s


def test_grammar_flags_apply_to_every_terminal():
    g = Grammar("start: W\nW: /select/i", flags=re.ASCII)
    assert g.accepts("SELECT") and not g.accepts("\u017felect")  # ſ folds with s only in Unicode mode
    assert Grammar("start: W\nW: /select/i").accepts("\u017felect")
    assert Grammar("start: W\nW: /ab/", flags=re.IGNORECASE).accepts("AB")
    with pytest.raises(ConstraintError, match="flags"):
        Grammar('start: "a"', flags=re.VERBOSE)
    with pytest.raises(ConstraintError, match="flags must be"):
        Grammar('start: "a"', flags="i")
