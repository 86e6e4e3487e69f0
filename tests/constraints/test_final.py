"""``Constraint.is_final``: complete, and only insignificant whitespace could follow. Checked
against the bytes each state takes (``probe_next_bytes``) on real texts: Spider's gold SQL and
JSONSchemaBench's valid instances."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import awrs
from awrs.constraints.base import probe_next_bytes
from tests.conftest import SHARED

WS = np.zeros(256, dtype=np.bool_)
WS[list(b" \t\n\r\x0c")] = True  # JSON whitespace and the form feed of Lark's common.WS


def only_whitespace_next(c, state) -> bool:
    return not (probe_next_bytes(c, state) & ~WS).any()


def check_text(c, text: str, *, tight: bool) -> bool:
    """Walk ``text`` byte by byte: a final state is complete and takes nothing but whitespace
    (soundness), after which the text has only whitespace left; with ``tight``, a complete
    state that takes only whitespace is final. Returns whether the text's end was final."""
    data = text.encode()
    state = c.initial()
    final = False
    for i in range(len(data) + 1):
        final = c.is_final(state)
        if final:
            assert c.is_complete(state) and only_whitespace_next(c, state), data[:i]
            assert not data[i:].strip(b" \t\n\r"), f"final at {data[:i]!r} but {data[i:]!r} follows"
        elif tight and c.is_complete(state):
            assert not only_whitespace_next(c, state), data[:i]
        if i < len(data):
            state = c.advance(state, data[i : i + 1])
            assert state is not None, data[: i + 1]
    return final


@pytest.mark.parametrize(
    "text, final",
    [
        ("SELECT 1", False),
        ("SELECT 1;", True),
        ("SELECT 1 ; \n", True),
        ("SELECT a FROM t LIMIT 5", False),
        ("SELECT 'a;'", False),
        ("SELECT 'a;';", True),
    ],
)
def test_sql_is_final_after_its_semicolon(text, final):
    c = awrs.SQL(None)
    assert check_text(c, text, tight=False) == final
    assert c.accepts(text + "  \n")  # trailing whitespace stays in the language


@pytest.mark.parametrize(
    "grammar, text, final",
    [
        ('start: "a" "b"?\n%ignore " "', "a", False),
        ('start: "a" "b"?\n%ignore " "', "a ", False),
        ('start: "a" "b"?\n%ignore " "', "ab", True),  # inside the token "b", which cannot grow
        ('start: "ab" | "abc"\n%ignore " "', "ab", False),  # "ab" could still grow into "abc"
        ('start: NUM\nNUM: /[0-9]+/\n%ignore " "', "12", False),
        ('start: NUM\nNUM: /[0-9]+/\n%ignore " "', "12 ", True),
        ('start: "a"+', "aa", False),
    ],
)
def test_grammar_is_final_when_no_terminal_can_follow(grammar, text, final):
    c = awrs.Grammar(grammar)
    assert check_text(c, text, tight=True) == final


@pytest.mark.parametrize(
    "schema, text, final",
    [
        ({"type": "object"}, "{}", True),
        ({"type": "object"}, "{} ", True),
        ({"type": "integer"}, "12", False),
        ({"type": "integer"}, "12 ", True),
        ({"type": "string"}, '"x"', True),
        ({"type": "boolean"}, "true", True),
        ({"type": "array"}, "[1, 2]", True),
        ({"enum": ["a", "ab"]}, '"a"', True),
    ],
)
def test_json_is_final_after_the_document(schema, text, final):
    c = awrs.JsonSchema(schema)
    assert check_text(c, text, tight=True) == final


def test_spider_gold_queries_end_final_only_after_a_semicolon():
    """100 gold queries (every 10th of dev_gold.sql) on their databases: never final before
    their end; final at their end exactly when it is a ";" (appended where missing)."""
    spider = SHARED / "benchmarks" / "spider"
    rows = [line.split("\t") for line in (spider / "dev_gold.sql").read_text().splitlines() if line.strip()][::10][:100]
    dbs = {t["db_id"]: t for t in json.loads((spider / "tables.json").read_text())}
    compiled: dict[str, awrs.SQL] = {}
    finals = 0
    for query, db in rows:
        c = compiled.setdefault(db, awrs.SQL(dbs[db]))
        if not c.accepts(query):
            continue  # the few gold queries outside sql.lark (tests/constraints/grammar/test_sql.py)
        ends = query.rstrip().endswith(";")  # a few gold queries have their ";" already
        assert check_text(c, query, tight=False) == ends, query
        if not ends:
            assert check_text(c, query + ";", tight=False), query
            finals += 1
    assert finals >= 80


def test_jsonschemabench_instances_are_final_exactly_at_their_end():
    """The valid instances of the first 40 Github_medium schemas of JSONSchemaBench, compact
    and indented: final exactly when complete and only whitespace could follow, never before
    the end."""
    bench = SHARED / "benchmarks" / "jsonschemabench" / "Github_medium.jsonl"
    checked = 0
    for line in bench.read_text().splitlines()[:40]:
        record = json.loads(line)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                c = awrs.JsonSchema(record["schema"])
        except awrs.AwrsError:
            continue
        for t in record.get("tests", []):
            if not t["valid"]:
                continue
            for text in (json.dumps(t["data"]), json.dumps(t["data"], indent=1)):
                if c.accepts(text):
                    check_text(c, text, tight=True)
                    checked += 1
    assert checked >= 40
