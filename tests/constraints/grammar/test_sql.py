"""sql.lark and awrs.SQL on the Spider dev set (../shared/benchmarks/spider)."""

from __future__ import annotations

import json
import math
import re
import sqlite3

import pytest
from awrs.grammars import load

import awrs
from awrs.constraints.grammar import Grammar
from awrs.constraints.sql import SQL, _ddl, executes, schema_tables
from awrs.errors import ConstraintError
from tests.conftest import SHARED
from tests.ratchet import ratchet

SPIDER = SHARED / "benchmarks" / "spider"


@pytest.fixture(scope="module")
def gold():
    rows = [line.split("\t") for line in (SPIDER / "dev_gold.sql").read_text().splitlines() if line.strip()]
    return [(i, q, db) for i, (q, db) in enumerate(rows)]


@pytest.fixture(scope="module")
def spider_tables():
    return {t["db_id"]: t for t in json.loads((SPIDER / "tables.json").read_text())}


@pytest.fixture(scope="module")
def per_db(spider_tables):
    cache = {}

    def get(db):
        if db not in cache:
            cache[db] = SQL(spider_tables[db])
        return cache[db]

    return get


def test_sql_grammar_parses_the_spider_gold_queries(gold):
    """A ratchet over the 1,034 gold queries; at least 95% must parse."""
    g = Grammar(load("sql"))
    passing = {str(i) for i, q, _ in gold if g.accepts(q)}
    regressions, _improvements = ratchet("spider-sql-grammar", passing, {str(i) for i, _, _ in gold})
    assert not regressions, f"gold queries no longer parse: {regressions[:5]}"
    assert len(passing) / len(gold) >= 0.95


def test_schema_restricted_sql_accepts_gold_and_refuses_unknown_names(gold, per_db, spider_tables):
    passing = set()
    renamed_checked = 0
    for i, q, db in gold:
        c = per_db(db)
        if c.accepts(q):
            passing.add(str(i))
        tables = schema_tables(spider_tables[db])
        table = next((t for t in tables if re.search(rf"\b{re.escape(t)}\b", q, re.I)), None)
        if table is not None:
            wrong = re.sub(rf"\b{re.escape(table)}\b", "zz_no_such_table", q, count=1, flags=re.I)
            assert not c.accepts(wrong), wrong
            renamed_checked += 1
        column = next(
            (col for cols in tables.values() for col in cols if re.search(rf"\b{re.escape(col)}\b", q.split("FROM")[0], re.I)),
            None,
        )
        if column is not None and column.lower() not in {t.lower() for t in tables}:
            wrong = re.sub(rf"\b{re.escape(column)}\b", "zz_no_such_column", q, count=1, flags=re.I)
            assert not c.accepts(wrong), wrong
    regressions, _ = ratchet("spider-sql-schema", passing, {str(i) for i, _, _ in gold})
    assert not regressions, f"gold queries no longer accepted under their schema: {regressions[:5]}"
    assert renamed_checked > 900


def test_columns_must_belong_to_a_table_in_scope(per_db):
    c = per_db("concert_singer")
    assert c.accepts("SELECT T1.Name FROM singer AS T1")
    assert not c.accepts("SELECT T1.Capacity FROM singer AS T1")  # stadium's column, wrong table
    assert c.accepts_prefix("SELECT T1.Capacity FROM singer AS T1")  # the grammar alone cannot tell
    assert not c.accepts_prefix("SELECT Capacityx FROM")  # not a column, and no "." for an alias


def test_a_query_sqlite_refuses_dies_at_its_closing_semicolon(per_db):
    # After ";" only whitespace may follow, so the scope check is settled there: a model cannot
    # pad a dead query with blanks until the token budget runs out.
    c = per_db("concert_singer")
    assert c.accepts_prefix("SELECT T1.Capacity FROM singer AS T1")
    assert not c.accepts_prefix("SELECT T1.Capacity FROM singer AS T1;")
    assert not c.accepts_prefix("SELECT T1.Capacity FROM singer AS T1 ;")
    assert c.accepts_prefix("SELECT T1.Name FROM singer AS T1;") and c.accepts("SELECT T1.Name FROM singer AS T1;  ")
    assert c.accepts_prefix("SELECT Name FROM singer WHERE Name = 'a;")  # inside a string: not the end


def test_schema_names_are_matched_as_sqlite_resolves_them():
    """Names with quotes, spaces, brackets and non-ASCII letters: every query the restricted
    grammar accepts is one SQLite resolves, and the ones it refuses are refused for a stated
    reason. SQLite folds case in identifiers for ASCII letters only ("TABLÉ" is not "tablé");
    inside "" and `` the quote is doubled; [] cannot hold a "]"; awrs takes only ASCII
    word-like names bare (the grammar's word boundary is ASCII)."""
    tables = {"tablé": ["colé", "x"], 'Sing"er': ["a]b", "Name", "has space"]}
    c = SQL(tables)
    db = sqlite3.connect(":memory:")
    db.executescript(_ddl(tables))
    accepted = [
        'SELECT x FROM "tablé"',
        'SELECT X FROM "TABLé"',
        "SELECT x FROM [TABLé]",
        "SELECT [colé] FROM `tablé`",
        'SELECT name, "a]b" FROM "sing""er"',
        'SELECT `a]b`, [has space] FROM `Sing"er`',
        'SELECT NAME FROM "Sing""er"',
    ]
    refused = {
        'SELECT x FROM "TABLÉ"': True,  # SQLite refuses it too
        "SELECT x FROM tablé": False,  # SQLite takes it bare; awrs asks for quotes
        'SELECT [a]b] FROM "sing""er"': True,
        'SELECT Name FROM "Sing"er"': True,
        "SELECT \u212a FROM [TABLé]": True,  # the Kelvin sign is not "k" to SQLite
        "SELECT has space FROM [tablé]": True,
    }

    def sqlite_refuses(q):
        try:
            db.execute("EXPLAIN " + q)
            return False
        except sqlite3.Error:
            return True

    for q in accepted:
        assert c.accepts(q) and not sqlite_refuses(q), q
    for q, also_sqlite in refused.items():
        assert not c.accepts(q), q
        assert sqlite_refuses(q) == also_sqlite, q


def test_schema_sources(tmp_path):
    path = tmp_path / "db.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE pets (name TEXT, age INTEGER)")
    conn.execute("INSERT INTO pets VALUES ('rex', 3)")
    conn.commit()
    assert schema_tables(path) == {"pets": ["name", "age"]}
    assert schema_tables(conn) == {"pets": ["name", "age"]}
    for source in (path, str(path), conn, {"pets": ["name", "age"]}):
        c = SQL(source)
        assert c.accepts("SELECT name FROM pets WHERE age > 2") and not c.accepts("SELECT nam FROM pets")
    assert awrs.SQL is SQL
    assert SQL(None).accepts("SELECT anything FROM anywhere")
    with pytest.raises(ConstraintError, match="no SQLite database"):
        SQL(tmp_path / "missing.sqlite")
    conn.close()


def test_executes_critic(tmp_path):
    path = tmp_path / "db.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.commit()
    conn.close()
    critic = executes(path)
    assert critic("SELECT x FROM t") == 0.0
    assert critic("SELECT y FROM t") == -math.inf
    assert critic("DELETE FROM t") == -math.inf  # read-only
