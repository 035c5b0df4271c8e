"""The runs catalog: an embedded DuckDB file, ``ROOT/catalog.duckdb``, that registers every run under a runs root.

ROOT is ``--root``, else ``$HEADLENS_RUNS``, else the parent directory of the run (``runs/`` for
``--out runs/NAME``). Every run registers itself when ``headlens.run`` ends (complete, failed or
interrupted); ``headlens runs register DIR`` adds a run copied from elsewhere. Tables and views
(``scores`` and ``heads`` read each run's own Parquet files; nothing is copied into the file):

``runs``: one row per run: name (its path under ROOT), path (absolute), status (complete, failed,
interrupted, running), model, model_sha256, corpus_path, corpus_sha256, format, annotator, scheme,
analyses (VARCHAR[]), metrics (VARCHAR[]), read, analysed, skipped, tokens, created, finished
(TIMESTAMP, UTC), seconds, resumed (times resumed), headlens_version, registered (TIMESTAMP).
``scores``: run, sentence_id, layer, head, metric, value, label (layers and heads 0-based, as PyTorch
indexes them; ``label`` the 1-based head label ``L3H7`` of docs/conventions.md).
``heads``: run, metric, level, layer, head, label (``L3H7``), count, mean, std, min, max.

headlens's own readers (``Catalog.sql``, ``headlens sql``) see complete runs only unless asked
(``include_incomplete`` / ``--all``), and skip runs whose directory is gone. The stored table is
``registry`` (every run); the file also holds views ``runs``/``scores``/``heads`` over the complete
runs, so ``duckdb runs/catalog.duckdb`` works too. Writers and readers take an exclusive
``flock`` on ``catalog.duckdb.lock`` (and retry while another program holds DuckDB's own lock), so
runs ending together never corrupt it; a missing or unreadable catalog is rebuilt from the run
directories found under ROOT (a warning says so once).
"""

from __future__ import annotations

import fcntl
import os
import time
import warnings
from contextlib import contextmanager
from datetime import datetime, timezone

from ..errors import RunStoreError
from .catalog_db import open_for_writing
from .catalog_views import LABEL_SQL, _damaged_files, _lit, _manifest, _readable, _view_files, _warn_damaged, sql_path
from .layout import CATALOG_LOCK, MANIFEST, catalog_path

VERSION = 1
LOCK_TIMEOUT_S = 60.0
SCAN_DEPTH = 3  # a rebuild looks for runs this many directory levels under the root
COLUMNS = (
    "name VARCHAR PRIMARY KEY, path VARCHAR, status VARCHAR, model VARCHAR, model_sha256 VARCHAR, corpus_path VARCHAR, "
    "corpus_sha256 VARCHAR, format VARCHAR, annotator VARCHAR, scheme VARCHAR, analyses VARCHAR[], metrics VARCHAR[], "
    "read BIGINT, analysed BIGINT, skipped BIGINT, tokens BIGINT, created TIMESTAMP, finished TIMESTAMP, "
    "seconds DOUBLE, resumed INTEGER, headlens_version VARCHAR, registered TIMESTAMP"
)
NAMES = [c.split()[0] for c in COLUMNS.split(", ")]
EMPTY = {
    "scores": "SELECT NULL::VARCHAR AS run, NULL::BIGINT AS sentence_id, NULL::SMALLINT AS layer, NULL::SMALLINT AS head, "
              "NULL::VARCHAR AS metric, NULL::DOUBLE AS value, NULL::VARCHAR AS label WHERE false",
    "heads": "SELECT NULL::VARCHAR AS run, NULL::VARCHAR AS metric, NULL::VARCHAR AS level, NULL::SMALLINT AS layer, "
             "NULL::SMALLINT AS head, NULL::VARCHAR AS label, NULL::BIGINT AS count, NULL::DOUBLE AS mean, "
             "NULL::DOUBLE AS std, NULL::DOUBLE AS min, NULL::DOUBLE AS max WHERE false",
}


def _open(path: str, read_only: bool):
    """(connection, close) of the catalog file: a writer attaches it (store/catalog_db.py); a reader
    (``Catalog.sql``: any SQL a user passes) gets a read-only DuckDB database of its own."""
    if not read_only:
        return open_for_writing(path)
    import duckdb

    con = duckdb.connect(path, read_only=True)
    return con, con.close


def runs_root(root: str | None = None, run_dir: str | None = None) -> str:
    """``root``, else $HEADLENS_RUNS, else the parent of ``run_dir``, else ``runs``."""
    chosen = root or os.environ.get("HEADLENS_RUNS") or (os.path.dirname(os.path.abspath(run_dir)) if run_dir else "runs")
    return os.path.abspath(chosen)


def _time(s: str | None) -> datetime | None:
    if not s:
        return None
    t = datetime.fromisoformat(s)
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def _row(name: str, path: str, m: dict) -> list:
    c, model, corpus, ann = m.get("counts") or {}, m.get("model") or {}, m.get("corpus") or {}, m.get("annotator") or {}
    return [name, path, m.get("status"), model.get("name"), model.get("weights_sha256"), corpus.get("path"),
            corpus.get("sha256"), corpus.get("format"), ann.get("name"), ann.get("scheme"), list(m.get("analyses") or []),
            [x["name"] for x in m.get("metrics") or []], c.get("read"), c.get("analysed"), c.get("skipped"),
            c.get("tokens"), _time(m.get("started")), _time(m.get("finished")), m.get("seconds"),
            len(m.get("resumed") or []), (m.get("versions") or {}).get("headlens"), datetime.now(timezone.utc).replace(tzinfo=None)]


class Catalog:
    """``Catalog(root)``: register runs, list them, query them with SQL (see the module docstring)."""

    def __init__(self, root: str | None = None):
        self.root = runs_root(root)
        self.path = catalog_path(self.root)

    @contextmanager
    def _connect(self, registering: str | None = None, read_only: bool = False):
        """An exclusive, checked connection (``read_only``: DuckDB refuses every change); the catalog is
        rebuilt first if missing or unreadable."""
        import duckdb

        if not os.path.isdir(self.root):
            if registering is None:
                raise RunStoreError(f"there is no runs root {self.root}; pass --root DIR or set HEADLENS_RUNS.")
            os.makedirs(self.root, exist_ok=True)
        fd = os.open(os.path.join(self.root, CATALOG_LOCK), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not os.path.exists(self.path):
                self._rebuild(None, registering)
            deadline, rebuilt = time.monotonic() + LOCK_TIMEOUT_S, False
            while True:
                con = close = None
                try:
                    con, close = _open(self.path, read_only)
                    if con.execute("SELECT max(version) FROM meta").fetchone()[0] != VERSION:
                        raise duckdb.CatalogException(f"its format is not version {VERSION}")
                    con.execute(f"SELECT {', '.join(NAMES)} FROM registry LIMIT 0")  # the table headlens keeps
                    break
                except duckdb.Error as e:
                    if close is not None:
                        close()
                    if "lock" in str(e).lower() and time.monotonic() < deadline:  # another program holds it
                        time.sleep(0.2)
                        continue
                    if "lock" in str(e).lower():
                        raise RunStoreError(f"the catalog {self.path} is locked by another program: {e}. Close it and retry.") from e
                    if rebuilt:  # not the file's fault: never rebuild in a loop
                        raise RunStoreError(f"the catalog {self.path} cannot be opened even rebuilt from the runs "
                                            f"({type(e).__name__}: {e}); report this with the message.") from e
                    self._rebuild(f"{type(e).__name__}: {e}")
                    rebuilt = True
            try:
                yield con
            finally:
                close()
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _rebuild(self, problem: str | None, registering: str | None = None) -> None:
        """Write a new catalog of the runs under the root to a temporary file, then rename it (lock held)."""
        found = []
        for path in self.find_runs():
            try:
                sql_path(os.path.join(path, MANIFEST))
                found.append(path)
            except RunStoreError as e:
                warnings.warn(f"the runs catalog leaves out a run: {e}", stacklevel=4)
        if problem or set(found) - {registering}:
            warnings.warn(f"the runs catalog {self.path} is {'unreadable (' + problem + ')' if problem else 'missing'}; "
                          f"rebuilt it from the {len(found)} run directories under {self.root}.", stacklevel=4)
        tmp = f"{self.path}.tmp-{os.getpid()}"
        for p in (tmp, tmp + ".wal"):
            if os.path.exists(p):
                os.unlink(p)
        con, close = open_for_writing(tmp)
        try:
            con.execute(f"CREATE TABLE registry ({COLUMNS})")
            con.execute("CREATE TABLE meta (version INTEGER)")
            con.execute("INSERT INTO meta VALUES (?)", [VERSION])
            for path in found:
                self._upsert(con, path, _manifest(path), None)
        finally:
            close()
        if os.path.exists(self.path + ".wal"):
            os.unlink(self.path + ".wal")
        os.replace(tmp, self.path)
        _warn_damaged([p for p in found if p != registering])

    def find_runs(self) -> list[str]:
        """Run directories (with a manifest) at most SCAN_DEPTH levels under the root, not inside another run."""
        found = []
        for d, subdirs, files in os.walk(self.root):
            if MANIFEST in files:
                found.append(os.path.abspath(d))
                subdirs.clear()
            depth = os.path.relpath(d, self.root).count(os.sep) + (d != self.root)
            subdirs[:] = sorted(s for s in subdirs if not s.startswith(".")) if depth < SCAN_DEPTH else []
        return found

    def _name(self, path: str) -> str:
        rel = os.path.relpath(path, self.root)
        return os.path.basename(path) if rel.startswith("..") else rel

    def _upsert(self, con, path: str, manifest: dict, name: str | None) -> str:
        name = name or self._name(path)
        other = con.execute("SELECT path FROM registry WHERE name = ?", [name]).fetchone()
        if other and other[0] != path and os.path.isdir(other[0]):
            raise RunStoreError(f"a run named {name!r} is registered already, at {other[0]}; register {path} under "
                                "another name (headlens runs register DIR --name NEW).")
        con.execute("DELETE FROM registry WHERE name = ? OR path = ?", [name, path])
        con.execute(f"INSERT INTO registry VALUES ({', '.join('?' * len(NAMES))})", _row(name, path, manifest))
        return name

    def register(self, run_dir: str, name: str | None = None) -> str:
        """Add or update the run in ``run_dir``; return its name in the catalog."""
        path = os.path.abspath(run_dir)
        manifest = _manifest(path)
        sql_path(os.path.join(path, MANIFEST))  # a name DuckDB cannot read exactly is refused here, not when a view is read
        with self._connect(registering=path) as con:
            con.execute("BEGIN")
            name = self._upsert(con, path, manifest, name)
            con.execute("COMMIT")
            self._views(con, temp=False, include_incomplete=False)  # each statement atomic; a bad file is left out
        return name

    def _views(self, con, temp: bool, include_incomplete: bool, probe: bool = False) -> None:
        """Views over the runs' committed files, each named literally (never a glob pattern); a run
        whose files are missing or altered is left out of ``scores``/``heads`` with a warning naming them."""
        kind = "TEMP VIEW" if temp else "VIEW"
        where = "" if include_incomplete else " WHERE status = 'complete'"
        rows = con.execute(f"SELECT name, path FROM registry{where} ORDER BY name").fetchall()
        live = [(n, p) for n, p in rows if os.path.isdir(p)] if temp else rows
        scores, heads = [], []
        for name, path in live:
            try:
                files = _view_files(path)
            except RunStoreError as e:
                if temp:
                    warnings.warn(f"run {name!r} is left out of the scores and heads views: {e}", stacklevel=4)
                continue
            if files["scores"]:
                scores.append((name, f"SELECT {_lit(name)} AS run, *, {LABEL_SQL} AS label "
                                     f"FROM read_parquet([{', '.join(files['scores'])}])"))
            if files["heads"]:
                heads.append((name, f"SELECT {_lit(name)} AS run, * REPLACE ({LABEL_SQL} AS label) "
                                    f"FROM read_parquet([{files['heads']}])"))
        live_names = ", ".join(_lit(n) for n, _ in live) or "NULL"
        con.execute(f"CREATE OR REPLACE {kind} runs AS SELECT * FROM registry WHERE name IN ({live_names})")
        for view, parts in (("scores", scores), ("heads", heads)):
            try:
                if probe:  # after a query failed on a file: every run's files are opened, bad runs left out
                    raise RunStoreError("probe")
                con.execute(f"CREATE OR REPLACE {kind} {view} AS " + (" UNION ALL BY NAME ".join(q for _, q in parts) or EMPTY[view]))
            except Exception:  # noqa: BLE001 - a file DuckDB cannot open: find it, leave its run out
                kept = [(n, q) for n, q in parts if _readable(con, n, q, warn=temp)]
                con.execute(f"CREATE OR REPLACE {kind} {view} AS " + (" UNION ALL BY NAME ".join(q for _, q in kept) or EMPTY[view]))

    def sql(self, query: str, include_incomplete: bool = False) -> tuple[list[str], list[tuple]]:
        """Run ``query`` over ``runs``, ``scores`` and ``heads`` on a read-only connection; return
        (column names, rows). A statement that would change the catalog fails with a RunStoreError."""
        import duckdb

        with self._connect(read_only=True) as con:
            self._views(con, temp=True, include_incomplete=include_incomplete)
            try:
                query_error = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)
                try:
                    cur = con.execute(query)
                except duckdb.Error as e:  # a file no record could check (an older run): leave its run out, retry
                    if isinstance(e, query_error) or "read-only" in str(e):
                        raise
                    self._views(con, temp=True, include_incomplete=include_incomplete, probe=True)
                    cur = con.execute(query)
                return [d[0] for d in cur.description or []], cur.fetchall()
            except duckdb.Error as e:
                if "read-only" in str(e):
                    raise RunStoreError(f"the runs catalog is read-only for queries: {e}. Runs are changed with headlens "
                                        "run and headlens runs register; the catalog is rebuilt from the run directories "
                                        f"(delete {self.path} to rebuild it).") from e
                damaged = "" if isinstance(e, query_error) else _damaged_files(con, include_incomplete)  # a file, not the query
                raise RunStoreError(f"SQL error: {e}. " + (f"Damaged run files: {damaged}. " if damaged else "") +
                                    "Tables: runs, scores, heads (see docs/catalog.md).") from e

    def runs(self, include_incomplete: bool = False) -> list[dict]:
        cols, rows = self.sql("SELECT * FROM runs ORDER BY created, name", include_incomplete)
        return [dict(zip(cols, r)) for r in rows]


def register_run(run_dir: str) -> str | None:
    """Register a run that just ended, in the catalog of its root; a failure warns and never raises."""
    try:
        return Catalog(runs_root(None, run_dir)).register(run_dir)
    except Exception as e:  # noqa: BLE001 - the run itself is stored; only its catalog entry is missing
        warnings.warn(f"the run {run_dir} was stored but not added to the runs catalog ({type(e).__name__}: {e}); "
                      f"add it with: headlens runs register {run_dir}", stacklevel=2)
        return None
