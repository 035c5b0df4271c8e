"""Incomplete runs can be inspected (item 8) and parts are small (P11, item 9): `runs list --all`
states, `runs show` live vs dead, reading the committed part of a stopped run, `--part-size`."""

import fcntl
import json
import os
import subprocess
import sys
import warnings

import pyarrow.parquet as pq
import pytest

import headlens
from headlens.cli import main
from headlens.analyses.registry import analyses
from headlens.store.catalog import Catalog
from store_runs import PART, copy_run, corpus, options, reference  # noqa: F401 - fixtures

SURFACE = len(analyses()["surface"])  # metrics of a default run


def _as_stopped(reference: str, out, status: str = "running", parts: int = 3) -> str:
    """A copy of ``reference`` cut back to what a run stopped after ``parts`` parts holds."""
    out = copy_run(reference, out)
    progress = json.load(open(os.path.join(out, "progress.json")))
    for n in range(parts, progress["parts"]):
        for d, ext in (("scores", "parquet"), ("sentences", "parquet"), ("plan", "json")):
            os.unlink(os.path.join(out, d, f"part-{n:05d}.{ext}"))
    with open(os.path.join(out, "plan", f"part-{parts - 1:05d}.json")) as fh:
        state = json.load(fh)["state"]
    steps = sum(len(json.load(open(os.path.join(out, "plan", f"part-{n:05d}.json")))["steps"]) for n in range(parts))
    files = {f: v for f, v in progress["files"].items() if int(f.rsplit("-", 1)[1][:5]) < parts}
    json.dump({"parts": parts, "steps": steps, **state, "files": files}, open(os.path.join(out, "progress.json"), "w"))
    os.unlink(os.path.join(out, "heads.parquet"))
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    manifest.update(status=status, finished=None)
    manifest.pop("files")
    json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"))
    return out


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _lock(out: str, pid: int):
    fh = open(os.path.join(out, ".headlens.lock"), "w")
    fh.write(f"{pid}\n")
    fh.flush()
    return fh


def _register(root, *dirs) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for d in dirs:
            Catalog(str(root)).register(d)


def test_runs_list_all_shows_every_state(reference, tmp_path, capsys):
    root = tmp_path / "runs"
    done = copy_run(reference, root / "done")
    live = _as_stopped(reference, root / "live")
    killed = _as_stopped(reference, root / "killed")
    failed = _as_stopped(reference, root / "failed", status="failed")
    stopped = _as_stopped(reference, root / "stopped", status="interrupted")
    _register(root, done, live, killed, failed, stopped)
    holder = _lock(live, os.getpid())
    fcntl.flock(holder, fcntl.LOCK_EX)  # as the run writing it does
    _lock(killed, _dead_pid()).close()
    try:
        assert main(["runs", "list", "--root", str(root), "--all", "--format", "json"]) == 0
        states = {r["name"]: r["status"] for r in json.loads(capsys.readouterr().out)}
        assert states == {"done": "complete", "live": "running", "killed": "killed", "failed": "failed",
                          "stopped": "interrupted"}
        assert main(["runs", "list", "--root", str(root), "--format", "json"]) == 0
        assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["done"]
        assert main(["runs", "show", live]) == 0
        out = capsys.readouterr().out
        assert f"live: process {os.getpid()} is writing it; 3 parts ({3 * PART} corpus items) committed so far" in out
        assert "--resume" not in out
    finally:
        holder.close()
    assert main(["runs", "show", killed]) == 0
    out = capsys.readouterr().out
    assert f"killed: its process is gone; 3 committed parts cover {3 * PART} corpus items" in out and "--resume" in out
    assert main(["runs", "show", failed]) == 0
    assert "state          failed; 3 committed parts" in capsys.readouterr().out


def test_a_run_that_registers_at_start_is_listed_while_it_runs_and_as_killed_after(tiny_bert_dir, corpus, tmp_path, capsys):
    root = tmp_path / "runs"
    code = ("import sys, os, signal, headlens\nfrom headlens.runner.engine import Engine\ns = Engine.score\n"
            "def die(self, b, keep=()):\n    os.kill(os.getpid(), signal.SIGKILL)\nEngine.score = die\n"
            f"headlens.run(**{options(tiny_bert_dir, corpus, root / 'k')!r})\n")
    p = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == -9, p.stderr[-2000:]
    assert main(["runs", "list", "--root", str(root), "--all", "--format", "json"]) == 0
    assert [(r["name"], r["status"]) for r in json.loads(capsys.readouterr().out)] == [("k", "killed")]


LEFTOVERS = {
    "nothing": lambda out: None,
    "garbage uncommitted part": lambda out: open(os.path.join(out, "scores", "part-00003.parquet"), "wb").write(b"PAR1xx"),
    "half sentences part": lambda out: open(os.path.join(out, "sentences", "part-00003.parquet"), "wb").write(b"PAR1"),
    "temporary file": lambda out: open(os.path.join(out, "scores", ".part-00003.parquet.tmp-abc"), "wb").write(b"x"),
    "empty plan part": lambda out: open(os.path.join(out, "plan", "part-00003.json"), "w").close(),
}


@pytest.mark.parametrize("leftover", list(LEFTOVERS))
def test_readers_give_the_committed_part_of_a_stopped_run(reference, tmp_path, capsys, leftover):
    out = _as_stopped(reference, tmp_path / "runs" / "r")
    _lock(out, _dead_pid()).close()
    LEFTOVERS[leftover](out)
    with pytest.raises(headlens.RunStoreError, match=rf"'running', not complete.*allow_incomplete=True .*\(3 committed "
                                                     rf"parts, {3 * PART} corpus items; .*runs show .* --allow-incomplete"):
        headlens.open_run(out)
    run = headlens.open_run(out, allow_incomplete=True)
    assert run.committed == {"parts": 3, "items": 3 * PART}
    ids = run.sentences()["sentence_id"].to_pylist()
    assert len(ids) == len(set(ids)) == 3 * PART and set(ids) <= set(range(24))
    expected = sum(pq.read_metadata(os.path.join(out, "scores", f"part-{n:05d}.parquet")).num_rows for n in range(3))
    assert run.scores().num_rows == expected and run.scores("prev").num_rows == expected // SURFACE
    with pytest.raises(headlens.RunStoreError, match=rf"no heads\.parquet.*Its 3 committed parts cover {3 * PART} corpus items"):
        run.heads()
    assert main(["runs", "show", out, "--allow-incomplete"]) == 0
    shown = capsys.readouterr().out
    assert f"over the {3 * PART} corpus items of its 3 committed parts only:" in shown
    assert len([line for line in shown.splitlines() if line.startswith("  prev ")]) == 1
    assert main(["runs", "show", out]) == 0
    assert f"--allow-incomplete shows the top heads of its {3 * PART} committed items" in capsys.readouterr().out
    if leftover != "nothing":
        assert main(["runs", "verify", out]) == 0
        assert ": uncommitted (written after the last committed part; --resume drops it)" in capsys.readouterr().out


def test_a_run_killed_before_its_first_part_reads_as_empty(reference, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    for d in ("scores", "sentences", "plan"):
        (out / d).mkdir()
    manifest = json.load(open(os.path.join(reference, "manifest.json")))
    manifest["status"] = "running"
    manifest.pop("files")
    json.dump(manifest, open(out / "manifest.json", "w"))
    run = headlens.open_run(str(out), allow_incomplete=True)
    assert run.committed == {"parts": 0, "items": 0}
    assert run.scores().num_rows == 0 and run.sentences().num_rows == 0
    assert run.scores().schema.names == ["sentence_id", "layer", "head", "metric", "value"]


def test_part_size_option(tiny_bert_dir, corpus, tmp_path, capsys):
    from headlens.cli import build_parser

    helptext = " ".join(build_parser()._subparsers._group_actions[0].choices["run"].format_help().split())
    assert "--part-size" in helptext and "default 500" in helptext and "18 to 49 sentences/s" in helptext
    assert headlens.RunConfig().part_size == 500
    args = ["run", "--model", tiny_bert_dir, "--corpus", corpus, "--annotator", "regex", "--quiet", "--max-tokens", "40"]
    assert main([*args, "--out", str(tmp_path / "a"), "--part-size", "0"]) == 2
    assert "'part_size' parameter of RunConfig must be an int in the range [1, inf)" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "a"), "--part-size", "5"]) == 0
    run = headlens.open_run(str(tmp_path / "a"))
    assert run.manifest["config"]["part_size"] == 5
    rows = [pq.read_metadata(os.path.join(run.path, "sentences", f)).num_rows for f in sorted(os.listdir(os.path.join(run.path, "sentences")))]
    assert sum(rows) == 24 and len(rows) >= 3 and all(r >= 5 for r in rows[:-1])
