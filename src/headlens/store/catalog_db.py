"""Opening the runs catalog's DuckDB file for writing without starting a DuckDB database each time.

Starting a DuckDB database (``duckdb.connect``) costs about 16 ms of CPU, whatever the file (its
built-in functions are registered anew); a run registers itself twice (when it starts and when
it ends), and the first run of a root builds the file too. So the catalog's writers attach the
file to one in-memory DuckDB database of this process, on a cursor of their own (its own default
database and transaction), and detach it when done: about 3 ms. Detaching closes the file as
closing a connection does (its write-ahead log is checkpointed into it, DuckDB's lock on it is
released), so other programs see the same file as before.

Where the file cannot be attached (another DuckDB database of this process has it open: a
user's own ``duckdb.connect`` of the catalog, for one) the writer gets a connection of its own,
as before, with the same errors (a lock held by another program, an unreadable file).
"""

from __future__ import annotations

import itertools
import os
import threading

_SHARED: dict[int, object] = {}  # process id -> the in-memory DuckDB database (never shared with a forked child)
_GUARD = threading.Lock()
_NAMES = itertools.count()


def _shared():
    import duckdb

    with _GUARD:
        pid = os.getpid()
        if pid not in _SHARED:
            _SHARED.clear()  # a forked child's copy of its parent's database is never used
            _SHARED[pid] = duckdb.connect()
        return _SHARED[pid]


def _forget(db) -> None:
    """Close the shared database (a detach failed: closing it releases every file it holds)."""
    with _GUARD:
        if _SHARED.get(os.getpid()) is db:
            del _SHARED[os.getpid()]
    db.close()


def open_for_writing(path: str):
    """(connection, close): ``path``'s database as the connection's default one, created if missing;
    ``close()`` rolls back what was not committed and releases the file."""
    import duckdb

    db = _shared()
    con = db.cursor()
    name = f"headlens_catalog_{next(_NAMES)}"
    try:
        con.execute(f'ATTACH ? AS "{name}"', [path])
        con.execute(f'USE "{name}"')
    except duckdb.Error:
        try:
            con.execute(f'DETACH DATABASE IF EXISTS "{name}"')
        finally:
            con.close()
        con = duckdb.connect(path)  # the errors of a connection of its own (a lock, a damaged file)
        return con, con.close

    def close() -> None:
        try:
            try:
                con.execute("ROLLBACK")  # an open transaction is dropped, as closing a connection does
            except duckdb.Error:
                pass  # none was open
            con.execute("USE memory")
            con.execute(f'DETACH "{name}"')
            con.close()
        except Exception:
            _forget(db)
            raise

    return con, close
