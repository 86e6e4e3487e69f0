"""``awrs.SQL``: SQLite SELECT queries, optionally restricted to one database's tables and
columns, and ``executes(db)``, a critic that rewards queries that run.

``SQL(schema)`` takes the shipped ``sql.lark`` grammar and replaces its ``table_name`` and
``column_name`` rules with the database's own names (case-insensitive, plain or quoted), so a
query cannot name a table or column that does not exist. Whether a column belongs to a table
in scope — aliases, qualified ``t.col``, subqueries — is context, which a context-free grammar
cannot track; the complete check settles it exactly by asking SQLite to prepare the query
against an in-memory copy of the schema (no data, nothing executed).
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from awrs.automata.nfa import ByteNFA
from awrs.constraints.grammar import Grammar
from awrs.constraints.grammar.compile import Lexemes, _class_bytes
from awrs.constraints.sql_database import executes, open_readonly
from awrs.errors import ConstraintError

__all__ = ["SQL", "executes", "schema_tables"]

SchemaSource = None | str | bytes | os.PathLike | sqlite3.Connection | Mapping[str, Any]

_TABLE_RULE = re.compile(r"^table_name: IDENTIFIER.*$", re.M)
_COLUMN_RULE = re.compile(r"^column_name: IDENTIFIER.*$", re.M)
_ALIAS_RULE = re.compile(r"^table_alias: IDENTIFIER.*$", re.M)
#: Table aliases under a schema: short words (T1, emp...). Long made-up words are where a
#: model wanders off, and SQLite would refuse an undeclared alias only at the end.
MAX_ALIAS_LENGTH = 12


class SQL(Grammar):
    """SQLite SELECT queries; with a schema, only its tables and columns.

    ``schema``: None (the plain grammar), a path to a SQLite file or an open
    ``sqlite3.Connection`` (introspected), a Spider ``tables.json`` entry, or a dict mapping
    table names to column names.
    """

    def __init__(self, schema: SchemaSource = None):
        tables = schema_tables(schema) if schema is not None else None
        # SQLite's own tables (sqlite_sequence...) cannot be recreated; queries never need them.
        self.tables = None if tables is None else {t: c for t, c in tables.items() if not t.lower().startswith("sqlite_")}
        terminals = None
        if self.tables is not None:
            terminals = {
                "SCHEMA_TABLE": _name_lexemes(tuple(self.tables)),
                "SCHEMA_COLUMN": _name_lexemes(tuple(_columns(self.tables))),
            }
        # ASCII terminals: SQLite folds the case of ASCII letters only (Python's re would also
        # read "ſelect" as SELECT under re.IGNORECASE)
        super().__init__(_grammar_text(self.tables is not None), start="start", terminals=terminals, flags=re.ASCII)
        self._names = None if self.tables is None else _NameCheck(_ddl(self.tables))

    def __repr__(self) -> str:
        if self.tables is None:
            return "SQL(None)"
        return f"SQL({len(self.tables)} tables: {', '.join(list(self.tables)[:4])}{'...' if len(self.tables) > 4 else ''})"

    # States carry the query's bytes too: the complete check hands the whole query to SQLite.

    def initial(self):
        return (super().initial(), b"")

    def advance(self, state, data: bytes):
        hyps = super().advance(state[0], data)
        if hyps is None:
            return None
        text = state[1] + data
        # After the closing ";" only whitespace may follow, which cannot make SQLite resolve a
        # query it refuses: settle it now, so a model cannot pad a dead query with blanks.
        if (
            self._names is not None
            and b";" in data
            and text.rstrip().endswith(b";")
            and super().is_complete(hyps)
            and not self._names.resolves(text.decode("utf-8", errors="replace"))
        ):
            return None
        return (hyps, text)

    def is_complete(self, state) -> bool:
        if not super().is_complete(state[0]):
            return False
        return self._names is None or self._names.resolves(state[1].decode("utf-8", errors="replace"))

    def is_final(self, state) -> bool:
        return self._nothing_follows(state[0]) and self.is_complete(state)


@functools.lru_cache(maxsize=2)
def _grammar_text(restricted: bool) -> str:
    """sql.lark, or its template for a schema's names: read once, and the same string each
    time, so the grammar's memo (keyed by its text) finds it without comparing 10 KB."""
    from awrs.grammars import load

    text = load("sql")
    return _template(text) + _PLACEHOLDERS if restricted else text


def _restrict(text: str, tables: Mapping[str, Sequence[str]]) -> str:
    """sql.lark whose table and column names are the schema's (Lark text, for peers)."""
    return (
        _template(text)
        + _name_terminal("SCHEMA_TABLE", list(tables))
        + "\n"
        + _name_terminal("SCHEMA_COLUMN", _columns(tables))
        + "\n"
    )


def _columns(tables: Mapping[str, Sequence[str]]) -> list[str]:
    """Every column name of the schema, once."""
    return sorted({c for cols in tables.values() for c in cols}, key=str.lower)


def _template(text: str) -> str:
    """sql.lark with table and column names left to the terminals SCHEMA_TABLE and
    SCHEMA_COLUMN (defined after it) and aliases limited to SHORT_ALIAS."""
    text = _TABLE_RULE.sub("table_name: SCHEMA_TABLE", text, count=1)
    text = _COLUMN_RULE.sub("column_name: SCHEMA_COLUMN", text, count=1)
    text = _ALIAS_RULE.sub("table_alias: SHORT_ALIAS", text, count=1)
    exclusion = re.search(r"^IDENTIFIER: /(\(\?!.*?)\[A-Za-z_\]", text, re.M)  # keywords are not aliases
    prefix = exclusion.group(1) if exclusion else ""
    alias = "SHORT_ALIAS: /" + prefix + "[A-Za-z_][A-Za-z0-9_]{0," + str(MAX_ALIAS_LENGTH - 1) + "}(?![A-Za-z0-9_])/"
    return text + "\n" + alias + "\n"


#: The template's placeholders: one compiled grammar serves every schema, each swapping in its
#: own names (awrs.Grammar(..., terminals=)), so only the name automata are built per schema.
_PLACEHOLDERS = "SCHEMA_TABLE: /\\x00table/\nSCHEMA_COLUMN: /\\x00column/\n"


def _name_alternatives(names: Sequence[str]) -> list[str]:
    """Regular expressions matching any of ``names``, case-insensitively, bare (word-like
    names only), double-quoted, in backticks or in brackets (the Lark text peers are given;
    awrs itself builds the same language with :func:`_name_lexemes`)."""
    if not names:
        raise ConstraintError("the schema has no tables or no columns")
    bare, quoted = _name_forms(names)
    alts = []
    if bare:
        alts.append("(?i:" + "|".join(re.escape(n) for n in sorted(bare, key=len, reverse=True)) + ")(?![A-Za-z0-9_])")
    alts.append("(?i:" + "|".join(re.escape(n) for n in sorted(quoted, key=len, reverse=True)) + ")")
    return alts


def _name_terminal(name: str, names: Sequence[str]) -> str:
    """The Lark definition of a terminal for ``names`` (see :func:`_name_alternatives`)."""
    return f"{name}: " + "\n    | ".join("/" + alt.replace("/", "\\/") + "/" for alt in _name_alternatives(names))


def _name_forms(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """The names that may be written bare (ASCII word-like: the follow restriction of the
    grammar's words is ASCII), and every name's quoted forms: "name" and `name` with the quote
    doubled inside, [name] unless the name holds a "]" (SQLite's quoting rules)."""
    bare = [n for n in names if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]
    quoted = [f'"{n.replace(chr(34), chr(34) * 2)}"' for n in names] + [f"`{n.replace('`', '``')}`" for n in names]
    quoted += [f"[{n}]" for n in names if "]" not in n]
    return bare, quoted


@functools.lru_cache(maxsize=256)
def _name_lexemes(names: tuple[str, ...]) -> Lexemes:
    """The lexer automata of a name terminal, built straight from the names: a regular
    expression of a few hundred alternatives costs tens of milliseconds to parse and expand,
    a byte trie of them a fraction of one. Memoised (a schema compiled again reuses them)."""
    if not names:
        raise ConstraintError("the schema has no tables or no columns")
    bare, quoted = _name_forms(names)
    branches: list[tuple[ByteNFA, np.ndarray | None]] = [(_words_nfa(bare), _class_bytes("[A-Za-z0-9_]"))] if bare else []
    branches.append((_words_nfa(quoted), None))
    return Lexemes(tuple(branches))


def _words_nfa(words: Sequence[str]) -> ByteNFA:
    """The byte trie of ``words`` (UTF-8), ASCII letters matching in either case (SQLite folds
    only ASCII in identifiers). A trie is already deterministic and every node of it leads to
    a word, so it goes to the lexer as it is."""
    children: list[dict[int, int]] = [{}]
    edges: list[list[tuple[int, int, int]]] = [[]]
    finals = set()
    for word in words:
        node = 0
        for b in word.encode("utf-8"):
            letter = 65 <= b <= 90 or 97 <= b <= 122
            key = b | 32 if letter else b
            nxt = children[node].get(key)
            if nxt is None:
                nxt = children[node][key] = len(children)
                children.append({})
                edges.append([])
                edges[node].extend(((key - 32, key - 32, nxt), (key, key, nxt)) if letter else ((b, b, nxt),))
            node = nxt
        finals.add(node)
    return ByteNFA(edges, 0, frozenset(finals), live=[True] * len(edges))


def schema_tables(schema: SchemaSource) -> dict[str, list[str]]:
    """Table name -> column names, from any of the accepted schema sources: a SQLite path or
    connection (read, never written), a Spider ``tables.json`` entry, or a dict mapping table
    names to lists of column names. Raises ConstraintError naming what is wrong otherwise."""
    if isinstance(schema, sqlite3.Connection):
        return _introspect(schema)
    if isinstance(schema, (str, bytes, os.PathLike)):
        conn = open_readonly(schema)
        try:
            return _introspect(conn)
        finally:
            conn.close()
    if isinstance(schema, Mapping) and _SPIDER_KEYS & set(schema):
        return _spider_tables(schema)
    if isinstance(schema, Mapping):
        return {_name(t, "table name"): _column_list(t, cols) for t, cols in schema.items()}
    raise ConstraintError(
        f"unsupported schema source {type(schema).__name__}: use None, a SQLite path or connection, a Spider tables.json entry or a dict"
    )


#: The keys of a Spider tables.json entry that awrs reads (the *_original names are SQLite's).
_SPIDER_KEYS = frozenset({"table_names_original", "column_names_original"})


def _spider_tables(entry: Mapping[str, Any]) -> dict[str, list[str]]:
    """The tables of a Spider entry: ``table_names_original`` and ``column_names_original``
    (``[table_index, name]`` pairs, index -1 for ``*``)."""
    missing = sorted(_SPIDER_KEYS - set(entry))
    if missing:
        raise ConstraintError(
            f"the Spider tables.json entry has no {', '.join(missing)}; a Spider entry needs both "
            "table_names_original and column_names_original"
        )
    names = entry["table_names_original"]
    if not isinstance(names, Sequence) or isinstance(names, (str, bytes)):
        raise ConstraintError(f"table_names_original must be a list of table names, got {type(names).__name__}")
    tables: dict[str, list[str]] = {_name(t, "table name"): [] for t in names}
    names = list(tables)
    pairs = entry["column_names_original"]
    if not isinstance(pairs, Sequence) or isinstance(pairs, (str, bytes)):
        raise ConstraintError(f"column_names_original must be a list of [table_index, name] pairs, got {type(pairs).__name__}")
    for pair in pairs:
        if not (isinstance(pair, Sequence) and len(pair) == 2 and isinstance(pair[0], int) and not isinstance(pair[0], bool)):
            raise ConstraintError(f"column_names_original holds {pair!r}; each item must be a [table_index, name] pair")
        index, column = pair
        if index == -1:  # Spider's "*"
            continue
        if not 0 <= index < len(names):
            raise ConstraintError(f"column_names_original holds {pair!r}, but there are {len(names)} tables")
        tables[names[index]].append(_name(column, "column name"))
    return tables


def _column_list(table: Any, columns: Any) -> list[str]:
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Sequence):
        raise ConstraintError(
            f"the columns of table {table!r} must be a list of names, got {type(columns).__name__} {columns!r:.40}"
        )
    return [_name(c, "column name") for c in columns]


def _name(value: Any, what: str) -> str:
    """A table or column name as SQLite can hold it: a non-empty string without NUL."""
    if not isinstance(value, str):
        raise ConstraintError(f"a {what} must be a string, got {type(value).__name__} {value!r:.40}")
    if not value or "\x00" in value:
        raise ConstraintError(f"{what} {value!r} cannot be a SQLite name (empty, or holding a NUL character)")
    return value


def _introspect(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """The tables and views of a database and their columns, through statements that only
    read (a user's connection is read as it is, with its own settings left alone)."""
    try:
        cursor = conn.cursor()
    except sqlite3.Error as exc:  # closed, or made in another thread
        raise ConstraintError(f"could not read the database schema: {exc}") from None
    cursor.row_factory = None  # whatever factory the connection has, rows are tuples here
    try:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'")
        tables = [_text(row[0]) for row in cursor.fetchall()]
        return {t: [_text(row[1]) for row in cursor.execute(f"PRAGMA table_info({_quoted(t)})").fetchall()] for t in tables}
    except sqlite3.Error as exc:
        raise ConstraintError(f"could not read the database schema: {exc}") from None
    finally:
        cursor.close()


def _text(value: str | bytes) -> str:
    """A name read from SQLite (bytes when the connection's text_factory is bytes)."""
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _quoted(name: str) -> str:
    """A name as a SQLite identifier in double quotes (a quote inside doubled)."""
    return '"' + name.replace('"', '""') + '"'


def _ddl(tables: Mapping[str, Sequence[str]]) -> str:
    return ";\n".join(
        f"CREATE TABLE {_quoted(t)} ({', '.join(_quoted(c) for c in cols) or _quoted('_')})" for t, cols in tables.items()
    )


class _NameCheck:
    """Does SQLite resolve every table and column of a query? An in-memory database holds the
    schema's tables (empty); the query is only prepared (EXPLAIN), never run. Raises
    ConstraintError when SQLite cannot hold the schema (e.g. two tables whose names differ
    only in ASCII case)."""

    def __init__(self, ddl: str):
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            self._conn.executescript(ddl)
        except sqlite3.Error as exc:
            self._conn.close()
            raise ConstraintError(
                f"SQLite cannot hold this schema: {exc}; table names, and column names within a "
                "table, must differ in more than ASCII case"
            ) from None
        self._conn.execute("PRAGMA query_only = ON")
        self._lock = threading.Lock()

    def resolves(self, query: str) -> bool:
        with self._lock:
            try:
                self._conn.execute("EXPLAIN " + query)
                return True
            except (sqlite3.Error, sqlite3.Warning):
                return False
