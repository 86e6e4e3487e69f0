"""awrs.Grammar against Lark's own Earley parser (lexer="dynamic_complete") as the oracle."""

from __future__ import annotations

import random

import lark
import pytest
from awrs.grammars import load, names
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awrs.constraints.grammar import Grammar
from awrs.errors import ConstraintError
from awrs.testing import check_constraint
from tests.constraints.grammar.sentences import random_sentence

PYTHONISH = r"""
?start: expr
?expr: lambda_ | test
lambda_: "lambda" NAME ("," NAME)* ":" expr
?test: or_test ("if" or_test "else" test)?
?or_test: and_test ("or" and_test)*
?and_test: not_test ("and" not_test)*
?not_test: "not" not_test | comparison
?comparison: arith (COMP_OP arith)*
?arith: term (("+"|"-") term)*
?term: factor (("*"|"/"|"//"|"%") factor)*
?factor: ("+"|"-") factor | power
?power: atom_expr ("**" factor)?
?atom_expr: atom_expr "(" [expr ("," expr)*] ")" -> call
          | atom_expr "[" expr "]" -> index
          | atom_expr "." NAME -> attr
          | atom
?atom: NAME | NUMBER | STRING | "(" expr ")" | "[" [expr ("," expr)*] "]" | "True" | "False" | "None"
COMP_OP: "<" | ">" | "==" | ">=" | "<=" | "!=" | "in" | "not in"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /[0-9]+(\.[0-9]+)?/
STRING: /'[^'\\]*'/ | /"[^"\\]*"/
%ignore /[ \t]+/
"""

GRAMMARS = {name: load(name) for name in names()} | {"pythonish": PYTHONISH}
TABLES = {
    "arithmetic": (["1+2", "2*(x+3)^2 - sqrt(y, 1.5)", "-a", "f(g(1))"], ["1+", "2x", "()", "1 2"], ["(1+", "max(1,", "2*"]),
    "json": (
        ['{"a": [1, 2.5e3, true, null, "x\\n"]}', "[]", '"s"', "-0.5"],
        ['{"a" 1}', "[1,]", "01", "tru"],
        ['{"a": [1, ', '"ab', "[[[", "-"],
    ),
    "sql": (
        [
            "SELECT count(*) FROM singer",
            "select a from t where b between 1 and 2 order by a desc limit 3",
            "SELECT * FROM a UNION SELECT * FROM b;",
        ],
        ["SELECTa FROM t", "SELECT a, FROM t", "SELECT a FROM t WHERE", "SELECT a a a FROM t", "SELECT 1 AS sfrom t"],
        ["SELECT a FROM t WHERE b = ", "SELECT count(", "SELECT a FROM (SELECT"],
    ),
    "pythonish": (
        ["lambda x: x + 1", "f(a)[0].b if c else None", "not a in [1, 'x']"],
        ["lambda : 1", "f(", "1 +"],
        ["lambda x:", "[1, 2", "a if b"],
    ),
}


def lark_oracle(text: str):
    """Lark's Earley parser as the reference. ``dynamic_complete`` tries every length of every
    terminal match, which a grammar without look-arounds needs ("cin" is NAME "c" then "in" in
    the Python-like one), but it tries them by matching the terminal against the text cut off at
    that length, where a look-ahead sees the end of the text and passes: SQL's words end at
    ``(?![A-Za-z0-9_])``, and Lark read "sfrom" as the alias "s" then FROM. So a grammar with
    look-arounds gets ``dynamic`` (each terminal's own match on the whole text): its words end
    at the boundaries, so the longest match is the one that counts."""
    lexer = "dynamic" if "(?!" in text or "(?=" in text or "(?<" in text else "dynamic_complete"
    return lark.Lark(text, parser="earley", lexer=lexer)


def lark_accepts(parser, s: str) -> bool:
    try:
        parser.parse(s)
        return True
    except lark.exceptions.LarkError:
        return False


@pytest.fixture(scope="module", params=sorted(GRAMMARS))
def grammar(request):
    return request.param, Grammar(GRAMMARS[request.param]), lark_oracle(GRAMMARS[request.param])


def test_table_cases(grammar):
    name, g, parser = grammar
    valid, invalid, prefixes = TABLES[name]
    check_constraint(g, valid=valid, invalid=invalid)
    for s in valid:
        assert lark_accepts(parser, s), s
    for s in invalid:
        assert not lark_accepts(parser, s), s
    for p in prefixes:
        assert g.accepts_prefix(p) and not g.accepts(p), p


def test_random_sentences_are_accepted_with_every_prefix(grammar):
    _name, g, parser = grammar
    rng = random.Random(0)
    checked = 0
    for _ in range(80):
        s = random_sentence(g._g, rng, max_depth=5)
        if s is None or len(s) > 300:
            continue
        text = s.decode()
        assert lark_accepts(parser, text), text  # the generator itself is sound
        assert g.first_violation(text) is None, text
        checked += 1
    assert checked >= 20


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_corrupted_sentences_agree_with_lark(grammar, data):
    _name, g, parser = grammar
    rng = random.Random(data.draw(st.integers(0, 10**6)))
    s = random_sentence(g._g, rng)
    if s is None or len(s) > 150:
        return
    text = s.decode()
    i = data.draw(st.integers(0, len(text)))
    op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    ch = data.draw(st.sampled_from(list(" (),.+-*'\"x1=;:[]{}eA")))
    if op == "insert":
        text = text[:i] + ch + text[i:]
    elif op == "delete" and text:
        text = text[: max(i - 1, 0)] + text[i:]
    elif text:
        text = text[: max(i - 1, 0)] + ch + text[i:]
    assert g.accepts(text) == lark_accepts(parser, text), text


@pytest.mark.parametrize(
    "text, message",
    [
        ("start: foo", "foo"),  # an undefined rule
        ('start: "a" (', "line"),  # a syntax error, with its position
        ('start: a\na: a "x"', "empty"),  # derives no string
        ("start: WORD\nWORD: /(?<=x)a/", "look-behind in a terminal reads only the token's own text"),
        ("start: WORD\nWORD: /(a)\\1/", "back-reference"),
    ],
)
def test_bad_grammars_are_constraint_errors(text, message):
    with pytest.raises(ConstraintError, match=message):
        Grammar(text)


def test_missing_start_rule():
    with pytest.raises(ConstraintError, match="no rule named"):
        Grammar('expr: "a"', start="start")


def test_utf8_terminals_and_tokens_split_inside_characters():
    g = Grammar('start: WORD ("," WORD)*\nWORD: /[é😀a-z]+/')
    assert g.accepts("é😀,ab")
    state = g.walk("é")
    assert state is not None
    state = g.advance(state, "😀".encode()[:2])  # a token ending inside a character
    assert state is not None and g.advance(state, "😀".encode()[2:] + b",x") is not None
    assert not g.accepts_prefix("é".encode() + b"\xff")


def test_keyword_versus_identifier_stays_open():
    g = Grammar(load("sql"))
    assert g.accepts_prefix("SELECT a FROM t WHE")  # WHERE, or an alias starting with WHE
    assert g.accepts("SELECT a FROM t WHERE b = 1") and g.accepts("SELECT a FROM t whe")


def test_ignored_comments_between_tokens():
    g = Grammar('start: "a" "b"\n%ignore /#[^\\n]*\\n/\n%ignore " "')
    assert g.accepts("a #note\n b") and not g.accepts("a #note b")


def test_terminals_replace_definitions_without_leaking_between_grammars():
    text = 'start: NAME ("," NAME)*\nNAME: /[a-z]+/'
    narrow = Grammar(text, terminals={"NAME": "(?:foo|bar)(?![a-z])"})
    assert narrow.accepts("foo,bar") and not narrow.accepts("foo,baz") and not narrow.accepts_prefix("fooo")
    assert Grammar(text).accepts("foo,baz")  # the memoised reading of the text keeps its own NAME
    with pytest.raises(ConstraintError, match="not a terminal of the grammar"):
        Grammar(text, terminals={"NAMES": "x"})
