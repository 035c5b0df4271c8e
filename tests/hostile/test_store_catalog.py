"""Hostile runs roots: run names that are glob patterns or quotes (P1), writes through `headlens sql`
(P5), runs whose files are gone, and damaged catalogs. See docs/reliability.md, "Store and runs"."""

import json
import os
import shutil
import warnings

import pyarrow.parquet as pq
import pytest

from headlens.cli import main
from headlens.analyses.registry import analyses
from headlens.store.catalog import Catalog
from store_runs import copy_run, corpus, reference  # noqa: F401 - fixtures

# names that a glob would read as patterns, or that need quoting; each beside decoys its pattern matches
NAMES = {
    "a?c": ["abc", "a-c"],
    "r*": ["rx", "r"],
    "x[12]": ["x1", "x2"],
    "y[!z]": ["ya"],
    "[": ["a"],
    "**": ["s"],
    "quote'd": ["quoted"],
    'dq"x': ["dqx"],
    "sp ace": ["space"],
    "brace{a,b}": ["bracea"],
    "back\\slash": ["backslash"],
    "semi;colon --": ["semi"],
    "per%cent_": ["percent_"],
    "ünïcode ✓": ["unicode"],
    "new\nline": ["newline"],
    "tab\there": ["tab"],
}

SURFACE = len(analyses()["surface"])  # metrics of a default run


def _scores_rows(root, query_run: str, capsys) -> int:
    assert main(["sql", f"SELECT count(*) AS n FROM scores WHERE run = '{query_run.replace(chr(39), chr(39) * 2)}'",
                 "--root", str(root), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)[0]["n"]


@pytest.mark.parametrize("name", list(NAMES))
def test_a_run_name_reads_only_its_own_parts(reference, tmp_path, capsys, name):
    root = tmp_path / "runs"
    expected = sum(pq.read_metadata(os.path.join(reference, "scores", f)).num_rows
                   for f in os.listdir(os.path.join(reference, "scores")))
    for decoy in NAMES[name]:  # decoys hold twice the rows: a glob that reaches them shows
        d = copy_run(reference, root / decoy)
        for f in sorted(os.listdir(os.path.join(d, "scores"))):
            shutil.copy2(os.path.join(d, "scores", f), os.path.join(d, "scores", "x" + f))
    copy_run(reference, root / name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the first registration creates the catalog (and warns about the decoys)
        assert main(["runs", "register", str(root / name), "--root", str(root)]) == 0
    capsys.readouterr()
    assert _scores_rows(root, name, capsys) == expected
    assert main(["sql", "SELECT run, count(*) AS n FROM heads GROUP BY run", "--root", str(root), "--format", "json"]) == 0
    rows = {r["run"]: r["n"] for r in json.loads(capsys.readouterr().out)}
    assert rows[name] == 8 * SURFACE  # 2 layers x 4 heads x the surface metrics, from its own heads.parquet only
    os.unlink(root / "catalog.duckdb")  # a rebuild finds the same runs and still reads each literally
    with pytest.warns(UserWarning, match="rebuilt it from"):
        assert _scores_rows(root, name, capsys) == expected


def test_a_name_that_is_not_utf8_is_refused_and_does_not_disable_the_root(reference, tmp_path, capsys):
    root = tmp_path / "runs"
    copy_run(reference, root / "good")
    bad = os.path.join(os.fsencode(str(root)), b"bad\xff")
    shutil.copytree(os.fsencode(reference), bad)
    assert main(["runs", "register", os.fsdecode(bad), "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "is not valid UTF-8" in err and "rename it" in err and "Traceback" not in err
    with pytest.warns(UserWarning) as caught:
        assert main(["runs", "list", "--root", str(root), "--format", "json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["good"]
    assert any("leaves out a run" in str(w.message) and "UTF-8" in str(w.message) for w in caught)


@pytest.mark.parametrize("damage", ["delete scores dir", "delete one part", "delete heads", "empty scores dir"])
def test_a_run_whose_files_are_gone_is_left_out_by_name_and_the_root_still_works(reference, tmp_path, capsys, damage):
    root = tmp_path / "runs"
    copy_run(reference, root / "ok")
    broken = copy_run(reference, root / "broken")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Catalog(str(root)).register(str(root / "ok"))
        Catalog(str(root)).register(broken)
    if damage == "delete scores dir" or damage == "empty scores dir":
        shutil.rmtree(os.path.join(broken, "scores"))
        if damage == "empty scores dir":
            os.mkdir(os.path.join(broken, "scores"))
        missing = "scores/part-00000.parquet"
    elif damage == "delete one part":
        os.unlink(os.path.join(broken, "scores", "part-00002.parquet"))
        missing = "scores/part-00002.parquet"
    else:
        os.unlink(os.path.join(broken, "heads.parquet"))
        missing = "heads.parquet"
    with pytest.warns(UserWarning, match=r"run 'broken' is left out of the scores and heads views: .*"
                                         + missing.replace(".", r"\.") + " is missing"):
        assert main(["sql", "SELECT run, count(*) AS n FROM scores GROUP BY run ORDER BY run", "--root", str(root),
                     "--format", "json"]) == 0
    assert [r["run"] for r in json.loads(capsys.readouterr().out)] == ["ok"]
    os.unlink(root / "catalog.duckdb")
    with pytest.warns(UserWarning) as caught:  # a rebuild verifies every run and names the damage
        assert main(["runs", "list", "--root", str(root), "--format", "json"]) == 0
    assert sorted(r["name"] for r in json.loads(capsys.readouterr().out)) == ["broken", "ok"]
    assert any(f"{missing}: missing" in str(w.message) for w in caught), [str(w.message) for w in caught]


STATEMENTS = [
    "DROP TABLE registry",
    "DELETE FROM registry",
    "UPDATE registry SET status = 'x'",
    "INSERT INTO registry (name) VALUES ('x')",
    "CREATE TABLE t AS SELECT 1 AS x",
    "ALTER TABLE registry RENAME TO gone",
    "DROP TABLE meta",
    "CREATE VIEW v AS SELECT 1",
]


@pytest.mark.parametrize("statement", STATEMENTS)
def test_sql_is_read_only(reference, tmp_path, capsys, statement):
    root = tmp_path / "runs"
    copy_run(reference, root / "a")
    assert main(["runs", "register", str(root / "a")]) == 0
    capsys.readouterr()
    assert main(["sql", statement, "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("RunStoreError: the runs catalog is read-only for queries") and "rebuilt" in err
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing changed: no rebuild, no warning
        assert main(["runs", "list", "--root", str(root), "--format", "json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["a"]


@pytest.mark.parametrize("damage", ["truncate to zero", "registry dropped", "garbage"])
def test_a_damaged_catalog_is_rebuilt_from_the_runs(reference, tmp_path, capsys, damage):
    import duckdb

    root = tmp_path / "runs"
    copy_run(reference, root / "a")
    copy_run(reference, root / "b")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Catalog(str(root)).register(str(root / "a"))
    path = root / "catalog.duckdb"
    if damage == "truncate to zero":
        path.write_bytes(b"")
    elif damage == "registry dropped":  # what `sql DROP TABLE registry` did before it was read-only
        with duckdb.connect(str(path)) as con:
            con.execute("DROP VIEW runs")
            con.execute("DROP TABLE registry")
    else:
        path.write_bytes(os.urandom(5000))
    with pytest.warns(UserWarning, match="rebuilt it from the 2 run directories"):
        assert main(["runs", "list", "--root", str(root), "--format", "json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["a", "b"]


@pytest.mark.parametrize("garbage", ["scores/part-00001.parquet", "heads.parquet"])
def test_an_unreadable_file_of_a_run_without_checksums_leaves_only_that_run_out(reference, tmp_path, capsys, garbage):
    root = tmp_path / "runs"
    copy_run(reference, root / "ok")
    old = copy_run(reference, root / "old")
    for name in ("manifest.json", "progress.json"):  # as written before checksums existed
        path = os.path.join(old, name)
        data = json.load(open(path))
        data.pop("files"), data.pop("integrity", None)
        json.dump(data, open(path, "w"))
    with open(os.path.join(old, *garbage.split("/")), "wb") as fh:
        fh.write(b"PAR1 this is no parquet file PAR1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Catalog(str(root)).register(str(root / "ok"))
        Catalog(str(root)).register(old)
    view = "scores" if garbage.startswith("scores") else "heads"
    with pytest.warns(UserWarning, match=r"run 'old' is left out of the scores and heads views: DuckDB cannot read one of its files"):
        assert main(["sql", f"SELECT run, count(*) AS n FROM {view} GROUP BY run", "--root", str(root), "--format", "json"]) == 0
    assert [r["run"] for r in json.loads(capsys.readouterr().out)] == ["ok"]
