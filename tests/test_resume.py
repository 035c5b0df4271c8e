"""Crash safety and --resume (runs killed with SIGKILL at several points), and the runs catalog."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings

import pytest

import headlens
from runs_equal import assert_same_run
from test_runner import LINES as RUNNER_LINES
from headlens.cli import main
from headlens.analyses.registry import analyses
from headlens.runner.engine import Engine
from headlens.store.catalog import Catalog

TESTS = os.path.dirname(os.path.abspath(__file__))
SENTENCES = RUNNER_LINES[:6]
LINES = [
    *SENTENCES,
    " ".join(["the good man went to the city and the woman said new york is a good city ."] * 5),  # > 64 tokens
] * 6

CHILD = r'''
import json, os, signal, sys, time
mode, n, kw = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
import headlens
import headlens.store.resume as resume_mod
import headlens.store.writer as writer_mod
from headlens.runner.engine import Engine

calls = {"n": 0}

def hit():
    calls["n"] += 1
    return calls["n"] == n

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if mode in ("score", "slow"):  # "score": killed before the n-th forward pass (mid-part)
    score = Engine.score
    def patched(self, batch, keep=()):
        if mode == "slow":
            time.sleep(0.02)
        elif hit():
            die()
        return score(self, batch, keep)
    Engine.score = patched
elif mode == "sentences-write":  # killed halfway through writing the n-th sentences part
    write = writer_mod.atomic_write_parquet
    def patched(path, table):
        if "sentences" in path and hit():
            hidden = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".tmp-killed")
            with open(hidden, "wb") as fh:  # the name atomic_write gives its temporary files
                fh.write(b"PAR1 half a part")
            die()
        return write(path, table)
    writer_mod.atomic_write_parquet = patched
elif mode == "progress":  # killed after part n-1's files, before progress.json records it
    write_json = resume_mod.atomic_write_json
    def patched(path, obj):
        if path.endswith("progress.json") and hit():
            die()
        return write_json(path, obj)
    resume_mod.atomic_write_json = patched
headlens.run(**kw)
print("finished")
'''


@pytest.fixture(autouse=True)
def _no_runs_env(monkeypatch):
    monkeypatch.delenv("HEADLENS_RUNS", raising=False)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    p = tmp_path_factory.mktemp("corpus") / "c.txt"
    p.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return str(p)


def options(tiny_bert_dir, corpus, out, **kw):
    return dict(out=str(out), model=tiny_bert_dir, corpus=corpus, annotator="regex", progress=False,
                part_size=5, max_tokens=40, sort_window=9, **kw)


@pytest.fixture(scope="module")
def reference(tiny_bert_dir, corpus, tmp_path_factory):
    """Uninterrupted runs, one per --long policy."""
    root = tmp_path_factory.mktemp("reference")
    return {long: headlens.run(**options(tiny_bert_dir, corpus, root / long, long=long)).path for long in ("window", "skip")}


def child(mode: str, n: int, kw: dict, wait: bool = True):
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-c", CHILD, mode, str(n), json.dumps(kw)]
    p = subprocess.Popen(cmd, env=env, cwd=TESTS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        out, err = p.communicate(timeout=300)
        assert p.returncode == -signal.SIGKILL, f"the child was not killed ({p.returncode}): {out}{err[-3000:]}"
    return p


def committed(path: str) -> tuple[int, set[int], dict[str, str]]:
    """Committed parts, their sentence ids, and the sha256 of their files."""
    progress = os.path.join(path, "progress.json")
    parts = json.load(open(progress))["parts"] if os.path.exists(progress) else 0
    run = headlens.open_run(path, allow_incomplete=True)
    ids, digests = set(), {}
    for n in range(parts):
        for table in ("scores", "sentences"):
            f = os.path.join(path, table, f"part-{n:05d}.parquet")
            digests[f] = hashlib.sha256(open(f, "rb").read()).hexdigest()
    if parts:
        import pyarrow.parquet as pq

        for n in range(parts):
            ids.update(pq.read_table(os.path.join(path, "sentences", f"part-{n:05d}.parquet"))["sentence_id"].to_pylist())
    assert run.manifest["status"] == "running"
    return parts, ids, digests


def resume_counting(monkeypatch, kw):
    """Resume in this process; return the batches the engine scored (lists of (sentence id, n_windows))."""
    scored = []
    score = Engine.score

    def counting(self, batch, keep=()):
        scored.append([(e.sentence.index, e.n_windows) for e in batch.items])
        return score(self, batch, keep)

    monkeypatch.setattr(Engine, "score", counting)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = headlens.run(**kw, resume=True)
    monkeypatch.setattr(Engine, "score", score)
    return run, scored, [str(w.message) for w in caught]


# integration: each kills a child process (SIGKILL) that imports torch and runs the model, 8.5-9 s each (the next one 15 s)
# at load 4 on 2 cores (docs/testing.md); the Ctrl-C, catalog and damage tests below run in this process and stay in the fast set
@pytest.mark.integration
@pytest.mark.parametrize("mode, n, long", [
    ("score", 4, "window"),             # mid-part, before any part is committed or just after
    ("score", 13, "skip"),              # mid-part, several parts committed
    ("sentences-write", 3, "window"),   # a scores part committed, its sentences part half written
    ("progress", 2, "skip"),            # every file of part 1 written, progress.json not yet
])
def test_killed_run_resumes_to_the_same_result(tiny_bert_dir, corpus, reference, tmp_path, monkeypatch, mode, n, long):
    kw = options(tiny_bert_dir, corpus, tmp_path / "runs" / "r", long=long)
    child(mode, n, kw)
    parts, stored, digests = committed(kw["out"])
    killed = headlens.open_run(kw["out"], allow_incomplete=True)  # leftovers of the kill do not break readers
    assert killed.scores().num_rows >= 0  # reading the parts does not trip over a temporary file
    assert stored <= set(killed.sentences().column("sentence_id").to_pylist())
    if mode != "score" or n > 4:
        assert parts >= 1
    run, scored, messages = resume_counting(monkeypatch, kw)
    assert run.complete and run.manifest["resumed"][0]["parts_kept"] == parts
    assert_same_run(run.path, reference[long])
    for f, digest in digests.items():  # committed parts are kept as they were
        assert hashlib.sha256(open(f, "rb").read()).hexdigest() == digest, f
    for batch in scored:  # stored sentences are not computed again, except beside an open window
        again = [s for s, _ in batch if s in stored]
        assert not again or any(w > 1 and s not in stored for s, w in batch), (again, batch)
    assert sum(len(b) for b in scored) < len(LINES) + 6 or not stored
    if mode in ("sentences-write", "progress"):
        assert any("dropped uncommitted files" in m for m in messages), messages


@pytest.mark.integration  # kills a child process twice (SIGKILL), as the test above
def test_killed_at_a_random_moment_then_killed_again_while_resuming(tiny_bert_dir, corpus, reference, tmp_path, monkeypatch):
    kw = options(tiny_bert_dir, corpus, tmp_path / "runs" / "r", long="window")
    for attempt, resume in enumerate((False, True)):
        p = child("slow", 0, {**kw, "resume": resume}, wait=False)
        progress = os.path.join(kw["out"], "progress.json")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if os.path.exists(progress) and json.load(open(progress))["parts"] >= 2 + 2 * attempt:
                break
            time.sleep(0.01)
        time.sleep(0.013 * (attempt + 1))  # somewhere inside a later batch or part write
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        assert p.returncode == -signal.SIGKILL, "the run ended before it could be killed; slow it down"
    parts, stored, digests = committed(kw["out"])
    assert parts >= 4
    run, scored, _ = resume_counting(monkeypatch, kw)
    assert len(run.manifest["resumed"]) == 2
    assert_same_run(run.path, reference["window"])
    for f, digest in digests.items():
        assert hashlib.sha256(open(f, "rb").read()).hexdigest() == digest, f


def _interrupted(tiny_bert_dir, corpus, out, monkeypatch, **kw):
    """A run stopped by Ctrl-C (KeyboardInterrupt) at its 6th batch, in this process."""
    score, calls = Engine.score, {"n": 0}

    def interrupt(self, batch, keep=()):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt
        return score(self, batch, keep)

    monkeypatch.setattr(Engine, "score", interrupt)
    opts = options(tiny_bert_dir, corpus, out, **kw)
    with pytest.raises(KeyboardInterrupt):
        headlens.run(**opts)
    monkeypatch.setattr(Engine, "score", score)
    assert json.load(open(os.path.join(out, "manifest.json")))["status"] == "interrupted"
    return opts


def test_interrupted_run_resumes_and_refuses_other_settings(tiny_bert_dir, corpus, reference, tmp_path, monkeypatch):
    out = tmp_path / "runs" / "r"
    opts = _interrupted(tiny_bert_dir, corpus, out, monkeypatch, long="skip")
    with pytest.raises(headlens.RunStoreError, match=r"max_tokens \(stored 40, now 64\).*--overwrite"):
        headlens.run(**{**opts, "max_tokens": 64}, resume=True)
    other = tmp_path / "other.txt"
    other.write_text("\n".join(reversed(LINES)) + "\n", encoding="utf-8")
    with pytest.raises(headlens.RunStoreError, match=r"corpus sha256 \(stored '[0-9a-f]{64}', now '[0-9a-f]{64}'\)"):
        headlens.run(**{**opts, "corpus": str(other)}, resume=True)
    with pytest.raises(headlens.ConfigError, match="resume.*overwrite"):
        headlens.RunConfig(out=str(out), resume=True, overwrite=True)
    import fcntl

    with open(out / ".headlens.lock", "a") as held:  # as if another process were running it
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(headlens.RunStoreError, match="another headlens process is writing"):
            headlens.run(**opts, resume=True)
    run = headlens.run(**{**opts, "threads": 1}, resume=True)  # threads do not change results: allowed
    assert_same_run(run.path, reference["skip"])


def test_resume_of_a_complete_or_missing_run(tiny_bert_dir, corpus, reference, tmp_path, capsys):
    before = os.path.getmtime(os.path.join(reference["skip"], "manifest.json"))
    args = ["run", "--model", tiny_bert_dir, "--corpus", corpus, "--annotator", "regex", "--quiet", "--resume",
            "--max-tokens", "40", "--sort-window", "9", "--part-size", "5"]
    assert main([*args, "--out", reference["skip"]]) == 0
    assert "complete already: nothing to resume" in capsys.readouterr().out
    assert os.path.getmtime(os.path.join(reference["skip"], "manifest.json")) == before
    with pytest.warns(UserWarning, match="complete already"):
        assert headlens.run(**options(tiny_bert_dir, corpus, reference["skip"], long="skip"), resume=True).complete
    assert os.path.getmtime(os.path.join(reference["skip"], "manifest.json")) == before
    assert main([*args, "--out", str(tmp_path / "nope")]) == 2
    assert "does not exist, so there is no run to resume: drop --resume" in capsys.readouterr().err


# --- the runs catalog ----------------------------------------------------------------------------

def test_catalog_lists_complete_runs_unless_all_and_sql_spans_runs(tiny_bert_dir, corpus, tmp_path, monkeypatch, capsys):
    root = tmp_path / "runs"
    headlens.run(**options(tiny_bert_dir, corpus, root / "a", long="skip"))
    headlens.run(**options(tiny_bert_dir, corpus, root / "b", long="window", metrics=("prev", "cls")))
    _interrupted(tiny_bert_dir, corpus, root / "stopped", monkeypatch, long="skip")
    assert main(["runs", "list", "--root", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[2:-1]] == ["a", "b"] and lines[-1] == "(2 rows)"
    assert main(["runs", "list", "--root", str(root), "--all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[2:-1]] == ["a", "b", "stopped"] and "interrupted" in lines[-2]
    query = "SELECT run, count(*) AS n FROM heads WHERE metric = 'prev' GROUP BY run ORDER BY run"
    assert main(["sql", query, "--root", str(root), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"run": "a", "n": 8}, {"run": "b", "n": 8}]
    assert main(["sql", "SELECT run, count(DISTINCT metric) m FROM scores GROUP BY run ORDER BY run", "--root",
                 str(root), "--format", "csv", "--all"]) == 0
    surface = len(analyses()["surface"])
    assert capsys.readouterr().out.splitlines() == ["run,m", f"a,{surface}", "b,2", f"stopped,{surface}"]
    assert main(["sql", "SELECT layer, head, mean FROM heads WHERE metric = 'prev' ORDER BY mean DESC LIMIT 5",
                 "--root", str(root)]) == 0
    assert "(5 rows)" in capsys.readouterr().out
    runs = {r["name"]: r for r in Catalog(str(root)).runs(include_incomplete=True)}
    assert runs["a"]["status"] == "complete" and runs["stopped"]["status"] == "interrupted"
    assert runs["b"]["metrics"] == ["prev", "cls"] and runs["a"]["analysed"] == len(LINES) - 6
    assert len(runs["a"]["corpus_sha256"]) == 64 and runs["a"]["model_sha256"]
    assert main(["runs", "show", str(root / "b")]) == 0
    out = capsys.readouterr().out
    assert "model sha256" in out and "prev " in out and "top heads" in out
    assert main(["sql", "SELECT nope FROM heads", "--root", str(root)]) == 2
    assert "SQL error" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_catalog_is_rebuilt_from_the_run_directories(tiny_bert_dir, corpus, reference, tmp_path, damage):
    root = tmp_path / "runs"
    for name in ("x", "y"):
        shutil.copytree(reference["skip"], root / "nested" / name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # creating it finds y already (warned; checked below)
        Catalog(str(root)).register(str(root / "nested" / "x"))
    path = root / "catalog.duckdb"
    if damage == "delete":
        path.unlink()
    else:
        path.write_bytes(b"this is not a duckdb file" * 500)
    with pytest.warns(UserWarning, match="rebuilt it from the 2 run directories") as caught:
        names = [r["name"] for r in Catalog(str(root)).runs()]
    assert names == ["nested/x", "nested/y"] and len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once rebuilt, no more warnings
        assert len(Catalog(str(root)).runs()) == 2


def test_a_copied_run_registers_again(reference, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(reference["skip"], root / "a")
    shutil.copytree(reference["skip"], tmp_path / "elsewhere" / "a")
    assert main(["runs", "register", str(root / "a")]) == 0
    assert main(["runs", "register", str(tmp_path / "elsewhere" / "a"), "--root", str(root)]) == 2
    assert "registered already" in capsys.readouterr().err
    assert main(["runs", "register", str(tmp_path / "elsewhere" / "a"), "--root", str(root), "--name", "copy"]) == 0
    cols, rows = Catalog(str(root)).sql("SELECT run, count(*) FROM scores GROUP BY run ORDER BY run")
    assert [r[0] for r in rows] == ["a", "copy"] and rows[0][1] == rows[1][1] > 0
    path = Catalog(str(root)).sql("SELECT path FROM runs WHERE name = 'copy'")[1][0][0]
    assert path == str(tmp_path / "elsewhere" / "a")


REGISTER = r'''
import sys, warnings
warnings.simplefilter("error")
from headlens.store.catalog import Catalog
for d in sys.argv[2:]:
    Catalog(sys.argv[1]).register(d)
'''


def test_runs_registering_at_the_same_time_do_not_corrupt_the_catalog(reference, tmp_path):
    root = tmp_path / "runs"
    dirs = [str(root / f"r{i:02d}") for i in range(16)]
    shutil.copytree(reference["skip"], dirs[0])
    Catalog(str(root)).register(dirs[0])  # the catalog exists before the others appear
    for d in dirs[1:]:
        shutil.copytree(reference["skip"], d)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-c", REGISTER, str(root), *dirs[k::2]], env=env,
                              stderr=subprocess.PIPE, text=True) for k in (0, 1)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    runs = Catalog(str(root)).runs()
    assert [r["name"] for r in runs] == sorted(os.path.basename(d) for d in dirs)


def test_atomic_files_get_the_permissions_of_open(tmp_path):
    """The temporary file of an atomic write is private (mkstemp); what it becomes must not be."""
    from headlens.store.atomic import atomic_write_json, atomic_write_parquet

    import pyarrow as pa

    mask = os.umask(0)
    os.umask(mask)
    atomic_write_json(str(tmp_path / "a.json"), {"x": 1})
    atomic_write_parquet(str(tmp_path / "a.parquet"), pa.table({"x": [1]}))
    for name in ("a.json", "a.parquet"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask
    from headlens.store.publish import publish_dir

    out = publish_dir(str(tmp_path / "model"), lambda d: open(os.path.join(d, "f"), "w").close())
    assert os.stat(out).st_mode & 0o777 == 0o777 & ~mask  # a published directory is not private either
