"""The runs catalog's writers attach its file to one in-memory DuckDB database of the process
(store/catalog_db.py): the file is released after each use as a closed connection leaves it."""

import json
import os
import subprocess
import sys

import duckdb
import pytest

from headlens.errors import RunStoreError
from headlens.store import catalog, catalog_db
from headlens.store.catalog import Catalog
from store_runs import copy_run, corpus, reference  # noqa: F401 - fixtures


def _rows(path: str) -> list[tuple]:
    with duckdb.connect(path, read_only=True) as con:
        return con.execute("SELECT name, status FROM registry ORDER BY name").fetchall()


def test_a_registered_run_leaves_the_file_released_and_checkpointed(reference, tmp_path):
    root = tmp_path / "runs"
    copy_run(reference, root / "a")
    cat = Catalog(str(root))
    assert cat.register(str(root / "a")) == "a"
    assert not os.path.exists(cat.path + ".wal")  # checkpointed into the file, as a closed connection leaves it
    # another program opens it for writing at once: DuckDB's lock on the file was released
    code = (f"import duckdb; c = duckdb.connect({cat.path!r}); "
            "print(c.execute('SELECT name, status FROM registry').fetchall()); c.close()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[('a', 'complete')]"
    assert [r["name"] for r in cat.runs()] == ["a"]  # and the views written through the attached file work


def test_a_failed_registration_rolls_back_and_the_next_one_works(reference, tmp_path):
    root = tmp_path / "runs"
    copy_run(reference, root / "a")
    copy_run(reference, tmp_path / "elsewhere" / "a")
    cat = Catalog(str(root))
    cat.register(str(root / "a"))
    with pytest.raises(RunStoreError, match="registered already"):  # raised inside the writer's transaction
        cat.register(str(tmp_path / "elsewhere" / "a"), name="a")
    assert _rows(cat.path) == [("a", "complete")]
    assert cat.register(str(tmp_path / "elsewhere" / "a"), name="b") == "b"
    assert _rows(cat.path) == [("a", "complete"), ("b", "complete")]


def test_a_write_cut_inside_its_transaction_changes_nothing(reference, tmp_path, monkeypatch):
    """The old row is deleted, then the new one cannot be made: the deletion is rolled back, the file released."""
    root = tmp_path / "runs"
    copy_run(reference, root / "a")
    cat = Catalog(str(root))
    cat.register(str(root / "a"))

    def broken(*args):
        raise OSError("cut")

    monkeypatch.setattr(catalog, "_row", broken)
    with pytest.raises(OSError, match="cut"):
        cat.register(str(root / "a"))
    monkeypatch.undo()
    assert _rows(cat.path) == [("a", "complete")]
    assert cat.register(str(root / "a")) == "a"


def test_a_catalog_this_process_holds_open_is_written_through_that_connection(reference, tmp_path):
    """A user's own duckdb.connect of the catalog in this process: attaching it fails, so the writer
    connects as before (DuckDB gives it the same database) and the user's connection sees the run."""
    root = tmp_path / "runs"
    copy_run(reference, root / "a")
    cat = Catalog(str(root))
    cat.register(str(root / "a"))
    copy_run(reference, root / "b")
    mine = duckdb.connect(cat.path)
    try:
        assert cat.register(str(root / "b")) == "b"
        assert mine.execute("SELECT name FROM registry ORDER BY name").fetchall() == [("a",), ("b",)]
    finally:
        mine.close()


def test_a_status_change_is_what_the_next_reader_sees(reference, tmp_path):
    """Registered at start (running), then at the end (complete): two writes through the same shared
    database, each committed to the file before the next reader opens it."""
    root = tmp_path / "runs"
    run = copy_run(reference, root / "a")
    manifest_path = os.path.join(run, "manifest.json")
    manifest = json.load(open(manifest_path, encoding="utf-8"))
    json.dump({**manifest, "status": "running"}, open(manifest_path, "w", encoding="utf-8"))
    cat = Catalog(str(root))
    cat.register(run)
    assert _rows(cat.path) == [("a", "running")]
    json.dump(manifest, open(manifest_path, "w", encoding="utf-8"))
    cat.register(run)
    assert _rows(cat.path) == [("a", "complete")]


def test_a_forked_child_starts_its_own_database(monkeypatch, tmp_path):
    _, close = catalog_db.open_for_writing(str(tmp_path / "x.duckdb"))
    close()
    parent = catalog_db._shared()
    monkeypatch.setattr(catalog_db.os, "getpid", lambda: -1)  # as a forked child sees its own id
    child = catalog_db._shared()
    assert child is not parent
    monkeypatch.undo()
    assert catalog_db._shared() is not parent  # the parent's database was dropped with the child's entry
