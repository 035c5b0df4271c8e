"""``--engine ray`` (headlens.scale, docs/scale.md): a Ray run equals the local run of the same corpus,
survives a killed worker, resumes, and fails clearly on a bad address or a worker's exception.

One local Ray instance with 2 CPUs is started in this process for the tests that need one (about
10 s); the model is the tiny random BERT. Those tests carry ``integration``: they start a Ray cluster
and kill its actors (10-27 s each at load 4 on 2 cores, docs/testing.md), so ``pytest -m "not integration"``
runs only the refusals, which need no cluster. Skipped, with the reason, where Ray is not installed (the ``ray``
and ``test`` extras install it); under CI (``CI`` or ``HEADLENS_CI`` set) a missing Ray fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial

import numpy as np
import pytest

try:
    import ray
except ImportError:
    if os.environ.get("CI") or os.environ.get("HEADLENS_CI"):
        raise  # CI installs the test extra, which has Ray: these tests must run there
    pytest.skip("Ray is not installed: pip install 'headlens[ray]' to run the --engine ray tests", allow_module_level=True)

import headlens  # noqa: E402
from headlens import pipeline  # noqa: E402
from headlens.errors import ConfigError, CorpusError  # noqa: E402
from runs_equal import assert_same_run  # noqa: E402
from test_runner import LINES  # noqa: E402

# one Ray instance: make test runs pytest-xdist with --dist loadfile, which keeps this module in one process
# (xdist_group under --dist loadgroup would too, but pytest 9.2 ignores the node id xdist 3.8 rewrites for it)
pytestmark = pytest.mark.xdist_group("ray")
# integration: starts a local Ray cluster (and kills its actors); the tests without this marker start none
CLUSTER = pytest.mark.integration

LONG = " ".join(["the good man went to the city and the woman said new york is a good city ."] * 5)  # > 64 tokens: skipped
BAD = b"bad \xff\xfe line"  # not UTF-8: skipped under --on-error skip
N = 40  # corpus items


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    # the test module's fault-injecting wrappers travel to the workers by value (the workers cannot import it)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    lines = [line.encode() for line in (LINES * 7)[: N - 2]]
    lines[5:5] = [BAD]
    lines[20:20] = [LONG.encode()]
    path = tmp_path_factory.mktemp("corpus") / "c.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return str(path)


def _run(tiny_bert_dir, corpus, out, **kw):
    kw = {"progress": False, "annotator": "regex", "part_size": 9, "store_maps": ("0", "12"), **kw}
    return headlens.run(out=str(out), model=tiny_bert_dir, corpus=headlens.CorpusSpec(corpus, on_error="skip"), **kw)


@pytest.fixture(scope="module")
def local_run(tiny_bert_dir, corpus, tmp_path_factory, local_ray):
    return _run(tiny_bert_dir, corpus, tmp_path_factory.mktemp("local") / "r")


def _ray_run(tiny_bert_dir, corpus, out, **kw):
    return _run(tiny_bert_dir, corpus, out, engine="ray", workers=2, block_size=6, **kw)


def _wrapping(monkeypatch, wrap, sent: list | None = None):
    """Score with ``wrap(factory)`` as every worker's factory; ``sent``: collects the blocks sent to the workers."""
    score_blocks = pipeline.score_blocks

    def patched(todo, factory, *args, **kw):
        if sent is not None:
            sent.extend(b.index for b in todo)
        return score_blocks(todo, partial(wrap, factory), *args, **kw)

    monkeypatch.setattr(pipeline, "score_blocks", patched)


def _killed_on(block: int, mark: str, factory):
    """A worker that kills its own actor (ray.kill) the first time it is given ``block``."""
    score = factory()

    def call(b):
        if b.index == block and not os.path.exists(mark):
            open(mark, "w").close()
            ray.kill(ray.get_runtime_context().current_actor)
        return score(b)

    return call


def _failing_on(sentence: int, factory):
    """A worker whose scoring raises on sentence ``sentence``."""
    score = factory()

    def call(b):
        if any(s.index == sentence for s in b.items):
            raise ValueError(f"cannot score sentence {sentence}")
        return score(b)

    return call


@CLUSTER
def test_a_ray_run_equals_the_local_run(tiny_bert_dir, corpus, local_run, tmp_path):
    run = _ray_run(tiny_bert_dir, corpus, tmp_path / "r")
    assert_same_run(run.path, local_run.path)  # sentences and skips, scores within 1e-6, head statistics, counts
    assert run.manifest["counts"]["skipped_by_reason"] and run.manifest["counts"]["read"] == N
    assert sorted(os.listdir(os.path.join(run.path, "maps"))) == sorted(os.listdir(os.path.join(local_run.path, "maps")))
    engine = run.manifest["engine"]
    assert engine["name"] == "ray" and engine["workers"] == 2 and engine["ray"] == ray.__version__
    assert run.manifest["versions"]["ray"] == ray.__version__ and local_run.manifest["engine"] == {"name": "local"}
    assert run.committed["parts"] > 2  # several parts, each of whole blocks


@CLUSTER
def test_a_killed_worker_loses_and_repeats_nothing(tiny_bert_dir, corpus, local_run, tmp_path, monkeypatch):
    mark = str(tmp_path / "killed")
    _wrapping(monkeypatch, partial(_killed_on, 2, mark))
    with pytest.warns(UserWarning, match="a Ray worker was lost"):
        run = _ray_run(tiny_bert_dir, corpus, tmp_path / "r")
    assert os.path.exists(mark)
    ids = run.sentences()["sentence_id"].to_pylist()
    assert sorted(ids) == list(range(N))  # every corpus item, once
    assert_same_run(run.path, local_run.path)


@CLUSTER
def test_a_worker_exception_fails_the_run_as_locally_and_resume_recomputes_only_the_rest(
        tiny_bert_dir, corpus, local_run, tmp_path, monkeypatch):
    out = tmp_path / "r"
    bad = 26
    _wrapping(monkeypatch, partial(_failing_on, bad))
    with pytest.raises(ValueError, match=f"cannot score sentence {bad}"):  # the worker's own error, not Ray's wrapper
        _ray_run(tiny_bert_dir, corpus, out)
    manifest = json.load(open(out / "manifest.json"))
    assert manifest["status"] == "failed" and "cannot score sentence" in manifest["error"]
    committed = headlens.open_run(out, allow_incomplete=True).committed
    assert 0 < committed["items"] <= bad
    sent: list[int] = []
    monkeypatch.undo()  # the worker does not fail any more
    _wrapping(monkeypatch, lambda factory: factory(), sent)
    run = _ray_run(tiny_bert_dir, corpus, out, resume=True)
    assert sent and sent[0] == committed["items"] // 6  # the committed blocks are not scored again
    assert run.manifest["resumed"][0]["items_kept"] == committed["items"]
    assert_same_run(run.path, local_run.path)


@CLUSTER
def test_a_bad_corpus_line_follows_on_error_as_locally(tiny_bert_dir, corpus, tmp_path, local_ray):
    errors = []
    for engine in ("local", "ray"):
        with pytest.raises(CorpusError) as e:
            headlens.run(out=str(tmp_path / engine), model=tiny_bert_dir, corpus=corpus, annotator="regex",
                         progress=False, engine=engine)
        errors.append(str(e.value))
    assert errors[0] == errors[1] and f"{corpus}:6" in errors[0]


@CLUSTER
def test_the_syntax_and_cluster_collectors_run_on_the_workers_and_equal_the_local_run(tiny_bert_dir, tmp_path, local_ray):
    """Their per-block parts merge (collect.merge_parts) into the parts one process writes; the tests of
    the finished run (syntax, cluster) are the same."""
    from headlens.collect import read_parts
    from headlens.config import default_corpus_path
    from headlens.store.outputs import read_outputs

    spec = headlens.CorpusSpec(default_corpus_path(), limit=40)  # the tiny model skips those over 64 tokens
    kw = {"model": tiny_bert_dir, "corpus": spec, "progress": False, "part_size": 4,
          "analyses": ("surface", "syntax", "cluster")}
    local = headlens.run(out=str(tmp_path / "local"), **kw)
    scaled = headlens.run(out=str(tmp_path / "ray"), engine="ray", workers=2, block_size=4, **kw)
    assert_same_run(scaled.path, local.path)
    analysed = [r["sentence_id"] for r in local.sentences().to_pylist() if r["status"] == "analysed"]
    assert len(analysed) >= 8 and scaled.committed["parts"] > 1
    for name in ("syntax", "cluster"):
        assert scaled.manifest["finalizers"][name] == "done"
        a, b = read_parts(scaled, name), read_parts(local, name)  # parts differ (blocks vs batches): their union not
        ids_a, ids_b = (np.concatenate([p["sentence_ids"] for p in parts]) for parts in (a, b))
        assert sorted(ids_a) == sorted(ids_b) == sorted(analysed)
        for key in b[0]:
            if key in ("counts", "roots"):  # per sentence
                rows_a = dict(zip(ids_a.tolist(), np.concatenate([p[key] for p in a])))
                rows_b = dict(zip(ids_b.tolist(), np.concatenate([p[key] for p in b])))
                assert all(np.array_equal(rows_a[i], rows_b[i]) for i in analysed), key
            elif key in ("js_sum", "tokens"):  # summed
                # float32 JS terms summed per batch: the batches differ (blocks), so only to float32 rounding
                np.testing.assert_allclose(sum(p[key] for p in a), sum(p[key] for p in b), rtol=1e-6, err_msg=key)
            elif key != "sentence_ids":
                assert all(np.array_equal(p[key], b[0][key]) for p in a + b), key
    for name in ("syntax", "cluster"):  # the finished run's tests: cluster's MDS to float32 rounding of its sums
        (ta, pa_), (tb, pb) = (read_outputs(r, name) for r in (scaled, local))
        assert sorted(ta) == sorted(tb), name
        _close({t: ta[t].to_pylist() for t in ta} | {"params": pa_}, {t: tb[t].to_pylist() for t in tb} | {"params": pb})


def _close(x, y, where="") -> None:
    """``x`` equals ``y`` (nested dicts and lists), floats within 1e-6 relative."""
    if isinstance(y, dict):
        assert isinstance(x, dict) and x.keys() == y.keys(), where
        for k in y:
            _close(x[k], y[k], f"{where}/{k}")
    elif isinstance(y, list):
        assert isinstance(x, list) and len(x) == len(y), where
        for k, (a, b) in enumerate(zip(x, y)):
            _close(a, b, f"{where}[{k}]")
    elif isinstance(y, float):
        assert x == pytest.approx(y, rel=1e-6, abs=1e-9, nan_ok=True), where
    else:
        assert x == y, where


def test_collector_analyses_that_do_not_scale_out_are_refused_with_the_reason(tiny_bert_dir, corpus, tmp_path):
    with pytest.raises(ConfigError, match="--engine ray does not run these analyses yet \\(layers\\)"):
        headlens.RunConfig(out=str(tmp_path / "r"), corpus=corpus, engine="ray", analyses=("surface", "syntax", "layers"))


def test_without_ray_the_engine_says_how_to_install_it(tiny_bert_dir, corpus, tmp_path, monkeypatch, capsys):
    from headlens.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as where it is not installed
    rc = main(["run", "--engine", "ray", "--model", tiny_bert_dir, "--corpus", corpus, "--on-error", "skip",
               "--annotator", "regex", "--out", str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert rc != 0 and "pip install 'headlens[ray]'" in err and not (tmp_path / "r").exists()


def test_an_unreachable_address_fails_clearly_within_30_s(tiny_bert_dir, corpus, tmp_path):
    out = tmp_path / "r"
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from headlens.cli import main; sys.exit(main(sys.argv[1:]))", "run", "--engine", "ray", "--address", "ray://127.0.0.1:9", "--model",
         tiny_bert_dir, "--corpus", corpus, "--on-error", "skip", "--annotator", "regex", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode != 0
    assert "cannot reach the Ray cluster at --address ray://127.0.0.1:9" in proc.stderr, proc.stderr[-2000:]
    assert not out.exists()
