"""Damaged run directories (P4): a flipped byte, a truncated, deleted or extra file. Every reader and
`headlens runs verify` name the file; nothing is read silently wrong. See docs/reliability.md."""

import json
import os
import warnings

import pyarrow as pa
import pytest

import headlens
from headlens.analyses.matrix import score_matrices
from headlens.store.outputs import read_outputs, write_outputs
from headlens.cli import main
from headlens.store.catalog import Catalog
from store_runs import copy_run, corpus, flip_byte, reference  # noqa: F401 - fixtures


def _damage(path: str, how: str) -> str:
    if how == "flip":
        flip_byte(path)
        return "altered"
    if how == "truncate":
        with open(path, "r+b") as fh:
            fh.truncate(os.path.getsize(path) - 7)
        return "truncated"
    os.unlink(path)
    return "missing"


def _raised(read) -> str:
    try:
        read()
    except headlens.RunStoreError as e:
        return str(e)
    return "(nothing raised)"


def _api(run_dir: str, rel: str, capsys) -> str:
    run = headlens.open_run(run_dir)
    return _raised({"scores": run.scores, "sentences": run.sentences, "heads.parquet": run.heads}[rel.split("/")[0]])


def _matrices(run_dir: str, rel: str, capsys) -> str:
    return _raised(lambda: score_matrices(headlens.open_run(run_dir), ["prev"]))


def _show(run_dir: str, rel: str, capsys) -> str:
    assert main(["runs", "show", run_dir]) == 2
    return capsys.readouterr().err


def _sql(run_dir: str, rel: str, capsys) -> str:
    """The catalog leaves the run out of its views, with a warning naming the file."""
    root = os.path.dirname(run_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Catalog(root).register(run_dir)
    with pytest.warns(UserWarning) as caught:
        assert Catalog(root).sql("SELECT count(*) FROM scores")[1] == [(0,)]
    return " ".join(str(w.message) for w in caught)


def _report(run_dir: str, rel: str, capsys) -> str:
    out = os.path.join(os.path.dirname(run_dir), "report.html")
    assert main(["report", run_dir, "--out", out, "--sentences", "0"]) == 2
    assert not os.path.exists(out)
    return capsys.readouterr().err


READERS = {"api": _api, "matrices": _matrices, "runs show": _show, "sql": _sql, "report": _report}
CASES = [
    ("scores/part-00001.parquet", "flip", ["api", "matrices", "sql"]),
    ("scores/part-00003.parquet", "truncate", ["api", "matrices", "sql"]),
    ("scores/part-00000.parquet", "delete", ["api", "matrices", "sql"]),
    ("sentences/part-00002.parquet", "flip", ["api", "report"]),
    ("sentences/part-00000.parquet", "truncate", ["api"]),
    ("sentences/part-00005.parquet", "delete", ["api"]),
    ("heads.parquet", "flip", ["api", "runs show", "sql", "report"]),
    ("heads.parquet", "truncate", ["api", "runs show", "sql"]),
    ("heads.parquet", "delete", ["api", "runs show"]),
    ("plan/part-00001.json", "flip", []),
    ("plan/part-00004.json", "delete", []),
]


@pytest.mark.parametrize("rel, how, readers", CASES, ids=[f"{how}-{rel}" for rel, how, _ in CASES])
def test_every_reader_and_verify_name_the_damaged_file(reference, tmp_path, capsys, rel, how, readers):
    run = copy_run(reference, tmp_path / "runs" / "r")
    kind = _damage(os.path.join(run, *rel.split("/")), how)
    assert main(["runs", "verify", run]) == 2
    out, err = capsys.readouterr()
    assert f"{os.path.join(run, rel)}: {kind} (" in out
    assert err.startswith("RunStoreError: run ") and f"{rel} ({kind})" in err
    for reader in readers:
        text = READERS[reader](run, rel, capsys)
        assert f"{os.path.join(run, rel)} is {kind}" in text, (reader, text)


def test_runs_show_names_the_damaged_heads(reference, tmp_path, capsys):
    run = copy_run(reference, tmp_path / "r")
    flip_byte(os.path.join(run, "heads.parquet"))
    assert main(["runs", "show", run]) == 2
    err = capsys.readouterr().err
    assert f"{os.path.join(run, 'heads.parquet')} is altered" in err and "Traceback" not in err


def test_an_intact_run_verifies(reference, capsys):
    assert main(["runs", "verify", reference]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{len(headlens.open_run(reference).manifest['files'])} files match their recorded size and sha256; 0 problems"]


@pytest.mark.parametrize("extra", ["scores/part-00099.parquet", "sentences/part-00000 copy.parquet", "maps/sentence-3.npz"])
def test_an_extra_file_is_reported_and_never_read(reference, tmp_path, capsys, extra):
    run = copy_run(reference, tmp_path / "r")
    rows = headlens.open_run(run).scores().num_rows
    os.makedirs(os.path.dirname(os.path.join(run, extra)), exist_ok=True)
    with open(os.path.join(run, "scores", "part-00000.parquet"), "rb") as src, open(os.path.join(run, extra), "wb") as dst:
        dst.write(src.read())
    assert main(["runs", "verify", run]) == 2
    assert f"{os.path.join(run, extra)}: extra (not recorded in the run's index; readers ignore it)" in capsys.readouterr().out
    assert headlens.open_run(run).scores().num_rows == rows
    assert headlens.open_run(run).sentences().num_rows == 24


def test_a_run_without_checksums_still_opens_and_verify_says_so(reference, tmp_path, capsys):
    run = copy_run(reference, tmp_path / "old")
    for name in ("manifest.json", "progress.json"):
        path = os.path.join(run, name)
        data = json.load(open(path))
        data.pop("files"), data.pop("integrity", None)
        json.dump(data, open(path, "w"))
    r = headlens.open_run(run)
    assert r.index is None and r.scores().num_rows == headlens.open_run(reference).scores().num_rows
    assert r.committed == {"parts": 6, "items": 24}
    assert main(["runs", "verify", run]) == 0
    out = capsys.readouterr().out
    assert "not checked: the run's parts and heads.parquet (written before headlens recorded checksums)" in out


@pytest.mark.parametrize("how", ["flip", "truncate", "delete"])
def test_a_damaged_derived_table_is_named(reference, tmp_path, capsys, how):
    run = copy_run(reference, tmp_path / "r")
    path = write_outputs(headlens.open_run(run), "demo", "default", {"t": pa.table({"x": list(range(100))})}, {"k": 1})
    tables, params = read_outputs(headlens.open_run(run), "demo")
    assert tables["t"].num_rows == 100 and params == {"k": 1}
    kind = _damage(os.path.join(path, "t.parquet"), how)
    with pytest.raises(headlens.RunStoreError, match=f"{os.path.join(path, 't.parquet')} is {kind}"):
        read_outputs(headlens.open_run(run), "demo")
    assert main(["runs", "verify", run]) == 2
    assert f"{os.path.join(run, 'demo', 'default', 't.parquet')}: {kind}" in capsys.readouterr().out


def test_a_garbage_part_with_a_matching_record_is_named_by_the_reader(reference, tmp_path):
    """A file whose record was rewritten to match garbage (checksums pass): the Arrow error names the file."""
    run = copy_run(reference, tmp_path / "r")
    part = os.path.join(run, "scores", "part-00002.parquet")
    with open(part, "wb") as fh:
        fh.write(b"PAR1 not parquet at all PAR1")
    from headlens.store.integrity import digest

    manifest = json.load(open(os.path.join(run, "manifest.json")))
    manifest["files"]["scores/part-00002.parquet"] = digest(part)
    json.dump(manifest, open(os.path.join(run, "manifest.json"), "w"))
    with pytest.raises(headlens.RunStoreError, match=f"cannot read run {run}: {part}"):
        headlens.open_run(run).scores()


@pytest.mark.parametrize("what, message", [
    ("no directory", r"is not a headlens run: it has no manifest\.json"),
    ("no manifest", r"is not a headlens run: it has no manifest\.json"),
    ("garbage manifest", r"cannot read .*manifest\.json: .*The run directory is damaged"),
    ("garbage progress", r"cannot read .*progress\.json: .*The run directory is damaged"),
])
def test_verify_of_something_that_is_not_a_readable_run(reference, tmp_path, capsys, what, message):
    run = str(tmp_path / "r")
    if what != "no directory":
        copy_run(reference, run)
    if what == "no manifest":
        os.unlink(os.path.join(run, "manifest.json"))
    elif what == "garbage manifest":
        open(os.path.join(run, "manifest.json"), "w").write("{not json")
    elif what == "garbage progress":
        manifest = json.load(open(os.path.join(run, "manifest.json")))
        manifest["status"] = "running"
        json.dump(manifest, open(os.path.join(run, "manifest.json"), "w"))
        open(os.path.join(run, "progress.json"), "w").write("\x00" * 10)
    assert main(["runs", "verify", run]) == 2
    err = capsys.readouterr().err
    assert err.startswith("RunStoreError: ") and "Traceback" not in err
    import re

    assert re.search(message, err), err
