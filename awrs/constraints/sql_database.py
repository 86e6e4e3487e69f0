"""Read-only access to a user's SQLite database, for text a model wrote.

``awrs.SQL(db)`` reads a database's schema and ``awrs.sql.executes(db)`` runs generated
queries against it. Neither may change the user's data, whatever the text says, so every
connection awrs opens here is its own and is locked down:

- a path is opened read-only through a ``file:`` URI built from the quoted absolute path
  (``?``, ``#``, ``%`` or spaces in a file name stay part of the name), and a missing file is
  an error, never a new empty database;
- a ``sqlite3.Connection`` is copied into a private in-memory database (the user's
  connection is only read, once, and keeps its own settings);
- an authorizer allows reading only: no writes, no ``ATTACH``/``DETACH`` (which would reach
  other files, and through which ``VACUUM INTO`` writes one), no transactions, no ``PRAGMA``
  other than schema introspection, no ``load_extension``; ``PRAGMA query_only`` is on
  besides, and where Python allows it no database may be attached at all;
- each query runs under a deadline (a progress handler) and a bound on the size of any one
  string or blob it builds.
"""

from __future__ import annotations

import math
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from awrs.errors import ConstraintError

__all__ = ["Database", "executes", "open_readonly"]

Database = str | bytes | os.PathLike | sqlite3.Connection

#: SQLite virtual-machine steps between two looks at a query's deadline: about 10-100 µs of
#: work, so the deadline is kept to well under a millisecond at a negligible cost.
PROGRESS_STEPS = 1000
#: The longest string or blob a query may build (SQLite's own default is 1 GB, which
#: ``randomblob(1e9)`` would allocate in one step, before any deadline is looked at).
MAX_VALUE_BYTES = 32 * 1024 * 1024
#: The largest database behind a connection that is copied into memory; past it the copy
#: could exhaust memory, and the database's path should be given instead (read in place).
MAX_COPY_BYTES = 256 * 1024 * 1024

_READ_ONLY_ACTIONS = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, getattr(sqlite3, "SQLITE_RECURSIVE", 33)})
#: PRAGMAs that only describe the schema (even with an argument, which names a table).
_SCHEMA_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "collation_list",
        "function_list",
        "module_list",
        "pragma_list",
    }
)
#: SQL functions that reach outside the query: loading native code, swapping FTS3 tokenizers.
_DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer"})


def open_readonly(db: Database, *, timeout: float = 1.0) -> sqlite3.Connection:
    """A new connection to ``db`` (a path or an open ``sqlite3.Connection``) that cannot change
    any file and through which no other file can be opened (see the module's description).
    ``timeout`` bounds the wait for a lock held by a writer, in seconds.

    Raises ConstraintError when the file is missing, is not a SQLite database or cannot be
    read, and TypeError when ``db`` is neither a path nor a connection. The caller closes it.
    """
    if isinstance(db, sqlite3.Connection):
        conn = _copy_into_memory(db)
    elif isinstance(db, (str, bytes, os.PathLike)):
        conn = _open_path(Path(os.fsdecode(db)), timeout)
    else:
        raise TypeError(f"db must be a path to a SQLite file or a sqlite3.Connection, got {type(db).__name__}")
    try:
        _lock_down(conn)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise ConstraintError(f"{_describe(db)} is not a readable SQLite database: {exc}") from None
    return conn


def _describe(db: Database) -> str:
    return "the connection's database" if isinstance(db, sqlite3.Connection) else f"{os.fsdecode(db)!r}"


def _open_path(path: Path, timeout: float) -> sqlite3.Connection:
    """``path`` opened read-only; never creates a file."""
    if not path.exists():
        raise ConstraintError(
            f"no SQLite database at {str(path)!r}: the file does not exist (awrs never creates one); "
            "give the path of an existing .sqlite file"
        )
    if not path.is_file():
        raise ConstraintError(f"{str(path)!r} is not a file; give the path of a SQLite database file")
    uri = path.resolve().as_uri() + "?mode=ro"  # as_uri quotes ?, #, % and spaces
    try:
        return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False, isolation_level=None)
    except sqlite3.Error as exc:
        raise ConstraintError(f"could not open {str(path)!r} read-only: {exc}") from None


def _copy_into_memory(source: sqlite3.Connection) -> sqlite3.Connection:
    """A private in-memory copy of the connection's main database (what that connection sees)."""
    try:
        pages = source.execute("PRAGMA page_count").fetchone()[0]
        page_size = source.execute("PRAGMA page_size").fetchone()[0]
    except (sqlite3.Error, TypeError) as exc:  # closed, used from another thread, or no such pragma row
        raise ConstraintError(f"could not read the database of this connection: {exc}") from None
    if pages * page_size > MAX_COPY_BYTES:
        raise ConstraintError(
            f"the connection's database is {pages * page_size / 2**20:.0f} MiB, too large to copy into memory "
            f"(more than {MAX_COPY_BYTES // 2**20} MiB); give its file path instead, which is read in place, read-only"
        )
    copy = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    try:
        source.backup(copy)
    except sqlite3.Error as exc:
        copy.close()
        raise ConstraintError(f"could not copy the database of this connection: {exc}") from None
    return copy


def _lock_down(conn: sqlite3.Connection) -> None:
    """Read-only from here on: PRAGMA query_only, the authorizer, and limits where Python has
    ``setlimit`` (3.11+): no attached databases, no value over MAX_VALUE_BYTES."""
    conn.execute("PRAGMA query_only = ON")
    conn.execute("PRAGMA trusted_schema = OFF")  # the schema's views may not call risky functions
    if sys.version_info >= (3, 11):  # Connection.setlimit and its constants
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.set_authorizer(_authorize)


def _authorize(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    """SQLite's authorizer callback: reading is allowed, everything else denied."""
    if action in _READ_ONLY_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        return sqlite3.SQLITE_DENY if (arg2 or "").lower() in _DENIED_FUNCTIONS else sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _SCHEMA_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def runs(conn: sqlite3.Connection, query: str, timeout: float) -> bool:
    """Does ``query`` run on ``conn`` as one statement that returns rows, within ``timeout``
    seconds? Only its first row is fetched. Never raises for the query's own failures."""
    deadline = time.monotonic() + timeout
    conn.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
    cursor = conn.cursor()
    try:
        cursor.execute(query)
        if cursor.description is None:  # not a query (a comment, an empty string...)
            return False
        cursor.fetchmany(1)
        return True
    except (sqlite3.Error, sqlite3.Warning, OverflowError, MemoryError):
        return False
    finally:
        cursor.close()
        conn.set_progress_handler(None, 0)


def executes(db: Database, *, timeout: float = 1.0) -> Callable[[str], float]:
    """A critic for SMC: ``critic(query)`` is 0.0 when the query runs against ``db`` and
    returns rows (its first row is read), -inf when it fails, does not return rows, or takes
    longer than ``timeout`` seconds.

    ``db`` is a path (opened read-only) or a ``sqlite3.Connection`` (copied into memory).
    The critic cannot change any file: see :func:`open_readonly`. It may be called from any
    thread. Raises ConstraintError for a missing or unreadable database, TypeError when
    ``db`` is not a path or connection, ValueError when ``timeout`` is not a positive number.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (0 < timeout < math.inf):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    conn = open_readonly(db, timeout=timeout)
    lock = threading.Lock()

    def critic(query: str) -> float:
        text = _query_text(query)
        with lock:
            return 0.0 if runs(conn, text, timeout) else -math.inf

    return critic


def _query_text(query: str | bytes) -> str:
    if isinstance(query, str):
        return query
    if isinstance(query, (bytes, bytearray)):
        return bytes(query).decode("utf-8", errors="replace")
    raise TypeError(f"query must be a str (the SQL text), got {type(query).__name__}")
