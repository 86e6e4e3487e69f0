"""Nothing a model writes may change the user's data: awrs.sql.executes and awrs.SQL open
databases read-only and locked down. Each test uses real database files and compares their
bytes (SHA-256) and the folder's listing before and after."""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import sys
import time
from pathlib import Path

import pytest

import awrs
from awrs.constraints.sql import SQL, executes, schema_tables
from awrs.errors import ConstraintError
from tests.conftest import SHARED

SPIDER = SHARED / "benchmarks" / "spider"


def make_db(path: Path, rows: int = 3) -> Path:
    """A small database with two tables (singer, stadium) and ``rows`` rows in each."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE singer (Singer_ID INTEGER, Name TEXT, Age INTEGER)")
    conn.execute("CREATE TABLE stadium (Stadium_ID INTEGER, Capacity INTEGER)")
    conn.executemany("INSERT INTO singer VALUES (?, ?, ?)", [(i, f"s{i}", 20 + i) for i in range(rows)])
    conn.executemany("INSERT INTO stadium VALUES (?, ?)", [(i, 1000 * i) for i in range(rows)])
    conn.commit()
    conn.close()
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def count(path: Path, table: str = "singer") -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


WRITES = [
    "DELETE FROM singer",
    "DROP TABLE singer",
    "UPDATE singer SET Name = 'x'",
    "INSERT INTO singer VALUES (9, 'x', 1)",
    "CREATE TABLE t (x)",
    "CREATE TEMP TABLE t (x)",
    "ALTER TABLE singer ADD COLUMN y",
    "PRAGMA user_version = 7",
    "PRAGMA journal_mode = WAL",
    "PRAGMA query_only = OFF",
    "VACUUM",
    "REINDEX",
    "ANALYZE",
    "BEGIN",
    "SAVEPOINT s",
    "SELECT load_extension('libnothing')",
]


@pytest.mark.parametrize("query", WRITES)
def test_a_connection_is_never_written_through(tmp_path, query):
    path = make_db(tmp_path / "db.sqlite")
    before = snapshot(tmp_path)
    conn = sqlite3.connect(path)
    critic = executes(conn)
    assert critic(query) == -math.inf
    assert critic("SELECT count(*) FROM singer") == 0.0
    assert conn.execute("SELECT count(*) FROM singer").fetchone()[0] == 3
    conn.execute("INSERT INTO stadium VALUES (9, 9)")  # the user's connection keeps its own settings
    conn.rollback()
    conn.close()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("query", WRITES)
def test_a_path_is_never_written_through(tmp_path, query):
    path = make_db(tmp_path / "db.sqlite")
    before = snapshot(tmp_path)
    critic = executes(path)
    assert critic(query) == -math.inf
    assert critic("SELECT Name FROM singer WHERE Age > 20") == 0.0
    del critic
    assert snapshot(tmp_path) == before and count(path) == 3


@pytest.mark.parametrize("as_connection", [False, True])
def test_no_other_database_is_reached_or_created(tmp_path, as_connection):
    """The critic keeps its connection across calls: ATTACH in one call, DELETE through it in
    the next and COMMIT in a third would empty another database; ATTACH and VACUUM INTO would
    create files."""
    path = make_db(tmp_path / "db.sqlite")
    victim = make_db(tmp_path / "victim.sqlite")
    before = snapshot(tmp_path)
    critic = executes(sqlite3.connect(path) if as_connection else path)
    for query in [
        f"ATTACH '{victim}' AS v",
        "DELETE FROM v.singer",
        "COMMIT",
        f"ATTACH '{tmp_path / 'new.sqlite'}' AS n",
        "CREATE TABLE n.t (x)",
        f"VACUUM INTO '{tmp_path / 'copy.sqlite'}'",
        "DETACH v",
    ]:
        assert critic(query) == -math.inf, query
    assert snapshot(tmp_path) == before and count(victim) == 3


@pytest.mark.parametrize("name", ["a#b.sqlite", "db?mode=rw.sqlite", "my%20db.sqlite", "with space.sqlite", "é#?%.sqlite"])
def test_a_path_is_a_path(tmp_path, name):
    """A file name with URI characters is opened as that file, read-only: '#' used to cut the
    URI there and open the file 'a' read-write (creating it)."""
    path = make_db(tmp_path / name)
    before = snapshot(tmp_path)
    critic = executes(path)
    assert critic("SELECT Name FROM singer") == 0.0
    assert critic("DELETE FROM singer") == -math.inf
    assert SQL(path).accepts("SELECT Name FROM singer") and schema_tables(str(path)) == {
        "singer": ["Singer_ID", "Name", "Age"],
        "stadium": ["Stadium_ID", "Capacity"],
    }
    del critic
    assert snapshot(tmp_path) == before


def test_a_missing_file_is_an_error_and_never_created(tmp_path):
    for source in (tmp_path / "missing.sqlite", tmp_path / "a#b", str(tmp_path / "x?mode=rwc")):
        with pytest.raises(ConstraintError, match="does not exist"):
            executes(source)
        with pytest.raises(ConstraintError, match="does not exist"):
            SQL(source)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_or_a_file_that_is_not_a_database_is_an_error(tmp_path):
    with pytest.raises(ConstraintError, match="not a file"):
        executes(tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a database\n" * 100)
    before = snapshot(tmp_path)
    with pytest.raises(ConstraintError, match="not a readable SQLite database"):
        executes(text)
    with pytest.raises(ConstraintError):
        SQL(text)
    assert snapshot(tmp_path) == before


def test_wrong_argument_types_are_named(tmp_path):
    with pytest.raises(TypeError, match="db must be a path"):
        executes(42)
    critic = executes(make_db(tmp_path / "db.sqlite"))
    with pytest.raises(TypeError, match="query must be a str"):
        critic(42)
    assert critic(b"SELECT Name FROM singer") == 0.0  # bytes are UTF-8 text
    for bad in (0, -1, float("nan"), float("inf"), "1", True):
        with pytest.raises(ValueError, match="timeout"):
            executes(tmp_path / "db.sqlite", timeout=bad)


def test_only_queries_that_return_rows_count_as_running(tmp_path):
    critic = executes(make_db(tmp_path / "db.sqlite"))
    assert critic("SELECT 1") == 0.0
    assert critic("SELECT Name FROM singer WHERE 0") == 0.0  # no rows, but a query
    assert critic("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 5) SELECT x FROM c") == 0.0
    assert critic("PRAGMA table_info(singer)") == 0.0  # schema introspection only reads
    for query in ("", "-- nothing", "SELECT 1; SELECT 2", "SELECT 1\x00", "SELECT nope FROM singer"):
        assert critic(query) == -math.inf, query


def test_a_query_is_stopped_at_its_deadline(tmp_path):
    critic = executes(make_db(tmp_path / "db.sqlite"), timeout=0.2)
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
    started = time.monotonic()
    assert critic(endless) == -math.inf
    assert time.monotonic() - started < 2.0  # 0.2 s deadline, generous slack for a busy machine
    assert critic("SELECT count(*) FROM singer") == 0.0  # the connection is usable afterwards


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Connection.setlimit is Python 3.11+")
def test_a_query_cannot_allocate_a_huge_value(tmp_path):
    critic = executes(make_db(tmp_path / "db.sqlite"))
    started = time.monotonic()
    assert critic("SELECT length(randomblob(1000000000))") == -math.inf
    assert critic("SELECT length(zeroblob(1000000000))") == -math.inf
    assert time.monotonic() - started < 2.0
    assert critic("SELECT length(randomblob(1000))") == 0.0


def test_a_connection_used_afterwards_changes_nothing_in_the_critic(tmp_path):
    """The connection is copied when the critic is made: the user's later writes are theirs."""
    conn = sqlite3.connect(make_db(tmp_path / "db.sqlite"))
    critic = executes(conn)
    conn.execute("DROP TABLE stadium")
    conn.commit()
    assert critic("SELECT Capacity FROM stadium") == 0.0
    conn.close()
    with pytest.raises(ConstraintError, match="could not read the database of this connection"):
        executes(conn)  # closed


def test_schema_of_a_connection_is_read_whatever_its_row_and_text_factories(tmp_path):
    conn = sqlite3.connect(make_db(tmp_path / "db.sqlite"))
    conn.row_factory = lambda cursor, row: {d[0]: v for d, v in zip(cursor.description, row)}
    conn.text_factory = bytes
    assert schema_tables(conn) == {"singer": ["Singer_ID", "Name", "Age"], "stadium": ["Stadium_ID", "Capacity"]}
    assert SQL(conn).accepts("SELECT Name FROM singer")


def test_a_closed_or_foreign_thread_connection_is_a_constraint_error(tmp_path):
    import threading

    conn = sqlite3.connect(make_db(tmp_path / "db.sqlite"))
    errors = []

    def use():
        try:
            SQL(conn)
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=use)
    thread.start()
    thread.join()
    assert len(errors) == 1 and isinstance(errors[0], ConstraintError)
    conn.close()
    with pytest.raises(ConstraintError, match="could not read the database schema"):
        SQL(conn)


def test_table_names_with_quotes_are_introspected(tmp_path):
    path = tmp_path / "db.sqlite"
    conn = sqlite3.connect(path)
    conn.execute('CREATE TABLE "we""ird" ("a b" TEXT, "c""d" INTEGER)')
    conn.commit()
    conn.close()
    assert schema_tables(path) == {'we"ird': ["a b", 'c"d']}


@pytest.mark.parametrize(
    "schema, message",
    [
        ({"table_names_original": ["a"]}, "no column_names_original"),
        ({"column_names_original": [[0, "x"]]}, "no table_names_original"),
        ({"table_names_original": ["a"], "column_names_original": [[1, "x"]]}, "there are 1 tables"),
        ({"table_names_original": ["a"], "column_names_original": [["0", "x"]]}, "table_index, name"),
        ({"table_names_original": ["a"], "column_names_original": [[0]]}, "table_index, name"),
        ({"table_names_original": "a", "column_names_original": []}, "list of table names"),
        ({"table_names_original": [None], "column_names_original": []}, "must be a string"),
        ({"singer": "Name"}, "must be a list of names"),
        ({"singer": 5}, "must be a list of names"),
        ({"singer": ["Name", 3]}, "must be a string"),
        ({"singer": [""]}, "cannot be a SQLite name"),
        ({"sin\x00ger": ["a"]}, "cannot be a SQLite name"),
        ({"Singer": ["a"], "SINGER": ["b"]}, "SQLite cannot hold this schema"),
        ({"singer": ["a", "A"]}, "SQLite cannot hold this schema"),
        ({"singer": []}, "no tables or no columns"),
        ({}, "no tables or no columns"),
        (3.5, "unsupported schema source"),
    ],
)
def test_invalid_schemas_are_typed_errors(schema, message):
    with pytest.raises(ConstraintError, match=message):
        SQL(schema)


def test_every_spider_gold_query_that_runs_is_allowed(tmp_path):
    """The authorizer refuses writes, not reads: on a database built from Spider's
    concert_singer schema, the critic agrees with a plain read-only connection on every gold
    query of that database."""
    entry = next(t for t in json.loads((SPIDER / "tables.json").read_text()) if t["db_id"] == "concert_singer")
    path = tmp_path / "concert_singer.sqlite"
    conn = sqlite3.connect(path)
    for table, columns in schema_tables(entry).items():
        conn.execute(f'CREATE TABLE "{table}" ({", ".join(repr(c) for c in columns)})')
        conn.execute(f'INSERT INTO "{table}" VALUES ({", ".join("1" for _ in columns)})')
    conn.commit()
    conn.close()
    plain = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    critic = executes(path)
    gold = [
        q
        for q, db in (line.split("\t") for line in (SPIDER / "dev_gold.sql").read_text().splitlines() if line.strip())
        if db == "concert_singer"
    ]
    assert len(gold) == 45

    def plain_runs(q):
        try:
            plain.execute(q).fetchmany(1)
            return True
        except sqlite3.Error:
            return False

    assert [critic(q) == 0.0 for q in gold] == [plain_runs(q) for q in gold]
    assert sum(plain_runs(q) for q in gold) >= 40
    plain.close()


def test_the_public_names(tmp_path):
    assert awrs.sql.executes is executes
    path = make_db(tmp_path / "db.sqlite")
    assert awrs.sql.executes(path)("SELECT 1") == 0.0


def test_a_large_database_behind_a_connection_is_not_copied(tmp_path, monkeypatch):
    from awrs.constraints import sql_database

    conn = sqlite3.connect(make_db(tmp_path / "db.sqlite", rows=200))
    monkeypatch.setattr(sql_database, "MAX_COPY_BYTES", 4096)
    with pytest.raises(ConstraintError, match="give its file path instead"):
        executes(conn)
    assert executes(tmp_path / "db.sqlite")("SELECT count(*) FROM singer") == 0.0


def test_a_wal_database_file_is_not_written(tmp_path):
    path = make_db(tmp_path / "db.sqlite")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    critic = executes(path)
    for query in WRITES:
        assert critic(query) == -math.inf, query
    assert critic("SELECT Name FROM singer") == 0.0
    del critic
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest and count(path) == 3
