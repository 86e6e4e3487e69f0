"""Property tests of the SQL constraint family: any schema (valid or not: dicts, Spider
entries, junk) and any query text give an answer or an AwrsError, within a time budget, and
the critic never changes its database."""

from __future__ import annotations

import hashlib
import math
import sqlite3
import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awrs.constraints.sql import SQL, executes, schema_tables
from awrs.errors import AwrsError

#: Wall-clock budget for one example (compile a schema, check a few texts): the slowest
#: example seen takes about 0.2 s on an idle 2-core machine; 10x slack for a busy one.
BUDGET_S = 2.0

SQL({"warm": ["up"]})  # the template grammar all schemas share compiles once (~1 s), outside any example's deadline

SQL_WORDS = [
    "SELECT",
    "FROM",
    "WHERE",
    "count(*)",
    "*",
    ",",
    "(",
    ")",
    "'",
    '"',
    "`",
    "[",
    "]",
    ";",
    "=",
    "AND",
    "AS",
    "JOIN",
    "ON",
    "GROUP BY",
    "ORDER BY",
    "LIMIT 1",
    "T1",
    ".",
    "--",
    "\x00",
    "é",
    " ",
]

junk = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=True), st.binary(max_size=4))
names = st.one_of(st.sampled_from(["singer", "Name", "age", "T1", "sqlite_x", "a b", 'q"t', "x]y", "é"]), st.text(max_size=8))
name_or_junk = st.one_of(names, names, junk)
table_dicts = st.dictionaries(
    name_or_junk.filter(lambda k: k is None or isinstance(k, (str, int, bytes, bool, float))),
    st.one_of(st.lists(name_or_junk, max_size=4), names, junk),
    max_size=4,
)
pairs = st.one_of(st.tuples(st.integers(-2, 4), name_or_junk).map(list), st.lists(name_or_junk, max_size=3), junk)
spider_entries = st.fixed_dictionaries(
    {},
    optional={
        "db_id": names,
        "table_names_original": st.one_of(st.lists(name_or_junk, max_size=4), names, junk),
        "column_names_original": st.one_of(st.lists(pairs, max_size=6), junk),
        "column_types": st.lists(st.sampled_from(["text", "number"]), max_size=3),
    },
)
schemas = st.one_of(table_dicts, spider_entries, junk)
texts = st.one_of(
    st.text(max_size=30), st.lists(st.sampled_from([*SQL_WORDS, "singer", "Name", "age"]), max_size=12).map(" ".join)
)


def check_texts(constraint: SQL, queries: list[str]) -> None:
    for q in queries:
        complete = constraint.accepts(q)
        assert isinstance(complete, bool)
        assert constraint.accepts_prefix(q) or not complete  # complete implies a valid prefix
        assert constraint.accepts(q.encode("utf-8")) == complete


@settings(max_examples=60, deadline=timedelta(seconds=BUDGET_S), suppress_health_check=[HealthCheck.too_slow])
@given(schema=schemas, queries=st.lists(texts, max_size=3))
def test_any_schema_and_text_give_an_answer_or_an_awrs_error(schema, queries):
    started = time.monotonic()
    try:
        constraint = SQL(schema)
        tables = schema_tables(schema)
    except AwrsError:
        return
    assert isinstance(tables, dict) and all(isinstance(t, str) for t in tables)
    check_texts(constraint, queries)
    assert time.monotonic() - started < BUDGET_S


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@settings(max_examples=60, deadline=timedelta(seconds=BUDGET_S), suppress_health_check=[HealthCheck.too_slow])
@given(tables=st.dictionaries(names, st.lists(names, min_size=1, max_size=3), min_size=1, max_size=3), data=st.data())
def test_a_schemas_own_names_are_accepted_and_others_refused(tables, data):
    """Oracle: SQLite itself. Each table's columns, quoted, make a query the constraint accepts;
    a table name the schema lacks makes one it refuses."""
    try:
        constraint = SQL(tables)
    except AwrsError:
        return
    table = data.draw(st.sampled_from(sorted(constraint.tables)))
    columns = constraint.tables[table]
    column = data.draw(st.sampled_from(columns))
    assert constraint.accepts(f"SELECT {quoted(column)} FROM {quoted(table)}")
    assert constraint.accepts(f"SELECT count(*) FROM {quoted(table)} WHERE {quoted(column)} = 1;")
    other = table + "_zz"
    if other.lower() not in {t.lower() for t in constraint.tables}:
        assert not constraint.accepts(f"SELECT {quoted(column)} FROM {quoted(other)}")


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "db.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE singer (Singer_ID INTEGER, Name TEXT, age INTEGER)")
    conn.executemany("INSERT INTO singer VALUES (?, ?, ?)", [(i, f"s{i}", 20 + i) for i in range(50)])
    conn.commit()
    conn.close()
    return path


@settings(max_examples=60, deadline=timedelta(seconds=BUDGET_S), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(queries=st.lists(texts, min_size=1, max_size=4))
def test_the_critic_answers_every_text_and_never_writes(database, queries):
    digest = hashlib.sha256(database.read_bytes()).hexdigest()
    critic = executes(database, timeout=0.5)
    for q in queries:
        assert critic(q) in (0.0, -math.inf)
    assert hashlib.sha256(database.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in database.parent.iterdir()) == ["db.sqlite"]
