"""The statistics read the store once and a block of columns at a time (issue 16): the same numbers
as testing the whole in-memory matrices, a fixed number of scans, and clear errors for damaged
parts or fewer sentences than the manifest counts."""

import json
import os
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import headlens
from headlens.analyses import columns
from headlens.analyses.categories.stats import PREF, run_tables
from headlens.analyses.compare.changes import ChangeSettings, paired_changes
from headlens.analyses.compare.stats import compare_runs
from headlens.analyses.matrix import score_matrices
from headlens.analyses.patterns.stats import ONE_HOT, pattern_tables
from headlens.analyses.roles.stats import RoleSettings, head_roles, role_metrics
from headlens.analyses.syntax.stats import SyntaxSettings, dependency_accuracy
from headlens.collect import read_parts
from headlens.errors import RunStoreError
from headlens.stats import Family, one_sample, paired_ratio_bootstrap
from headlens.stats.poisson import PoissonMeans
from headlens.stats.ratio import ratio_comparison
from headlens.store import open_run
from headlens.store.integrity import record

RTOL = 1e-9


@pytest.fixture(scope="module")
def ud_run(tmp_path_factory, tiny_bert_dir):
    """60 UD sentences in parts of 16, sorted by length inside each part (rows arrive out of order)."""
    root = tmp_path_factory.mktemp("streamed")
    return headlens.run(out=str(root / "run"), model=tiny_bert_dir, corpus=headlens.CorpusSpec(
        headlens.default_corpus_path(), limit=60), analyses=("roles", "syntax", "categories", "patterns"),
        long="truncate", part_size=16, max_batch=8, progress=False)


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(columns, "BLOCK_BYTES", 8 * 60 * 3)  # 3 columns per block: many blocks per metric


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=RTOL, atol=0, equal_nan=True)


def _values(table, name):
    return np.asarray(table[name].to_pylist(), dtype=float)


def test_roles_equal_the_in_memory_tests(ud_run):
    s = RoleSettings(n_boot=200)
    result = head_roles(ud_run, s)
    names = list(role_metrics(ud_run, s))
    mats = score_matrices(ud_run, names)
    X = np.hstack([mats[m].values for m in names])
    t = one_sample(X, popmean=3.0, alternative="greater", ci=s.ci, n_boot=s.n_boot, seed=s.seed)
    free = one_sample(X, popmean=3.0, test="wilcoxon", alternative="greater", n_boot=0, seed=s.seed)
    table = result.table
    assert table.num_rows == X.shape[1] and np.isfinite(t.p).sum() > 20
    for name, want in (("p", t.p), ("p_free", free.p), ("mean", t.estimate), ("ci_low", t.ci_low),
                       ("ci_high", t.ci_high), ("effect", t.effect)):
        _close(_values(table, name), want)
    members = [str(i) for i in range(len(t.p))]
    reject = Family("t", members, s.correction, s.alpha).apply(t.p)[1] & Family("f", members, s.correction, s.alpha).apply(free.p)[1]
    assert table["is_role"].to_pylist() == list(reject)


def test_compare_equals_the_in_memory_tests(ud_run, tmp_path):
    from test_compare import _shifted_copy

    after = _shifted_copy(ud_run, str(tmp_path / "after"), {("cat_pref", 0, 1): 0.05, ("pattern_entropy", 1, 2): -0.1})
    s = ChangeSettings(n_boot=200)
    metrics = ["cat_pref", "pattern_entropy", "role_delim"]
    changes, params = compare_runs(ud_run, after, s, metrics=metrics)
    mb, ma = score_matrices(ud_run, metrics), score_matrices(after, metrics)
    want = paired_changes({m: (mb[m].values, ma[m].values) for m in metrics}, 4, s)
    for level in ("heads", "layers"):
        got, ref = getattr(changes, level), getattr(want, level)
        for name in ("delta", "ci_low", "ci_high", "p", "p_free", "q", "q_free", "before", "after"):
            _close(_values(got, name), _values(ref, name))
        assert got["changed"].to_pylist() == ref["changed"].to_pylist()
    assert sum(got["changed"].to_pylist()) >= 1 and params["ci_method"] == "percentile"


def test_categories_and_patterns_equal_the_in_memory_numbers(ud_run):
    tables, params = run_tables(ud_run, ChangeSettings(n_boot=200))
    pref = score_matrices(ud_run, [PREF])[PREF].values
    t = one_sample(pref, 0.0, alternative="two-sided", n_boot=200)
    for name, want in (("p", t.p), ("pref", t.estimate), ("ci_low", t.ci_low), ("n", t.n)):
        _close(_values(tables["pref_heads"], name), want)
    with np.errstate(all="ignore"):
        _close(_values(tables["heads"], "mean")[-pref.shape[1]:], np.nanmean(pref, axis=0))
    shares, _ = pattern_tables(ud_run)
    onehot = score_matrices(ud_run, list(ONE_HOT))
    with np.errstate(all="ignore"):
        for m in ONE_HOT:
            np.testing.assert_array_equal(_values(shares["heads"], m[len("pattern_is_"):]), np.nanmean(onehot[m].values, 0))


def test_syntax_equals_the_in_memory_bootstrap(ud_run):
    s = SyntaxSettings(n_boot=200)
    result = dependency_accuracy(ud_run, s).heads
    parts = read_parts(ud_run, "syntax")
    ids = np.concatenate([p["sentence_ids"] for p in parts])
    order = np.argsort(ids)
    counts = np.concatenate([p["counts"] for p in parts])[order]
    relations = [str(r) for r in parts[0]["relations"]]
    p_ref, acc_ref = [], []
    for r, rel in enumerate(relations):
        arcs, hits = counts[:, r, 0], counts[:, r, 1:]
        if arcs.sum() == 0:
            continue
        names = [f"dep_{rel}_d2h", f"dep_{rel}_h2d"]
        mats = score_matrices(ud_run, names)
        blocks = []
        for n in names:
            block = np.zeros((len(ids), mats[n].values.shape[1]))
            block[np.searchsorted(ids[order], mats[n].sentence_ids)] = mats[n].values
            blocks.append(block)
        present = arcs > 0
        cmp = paired_ratio_bootstrap(arcs[present], hits[present, int(np.argmax(hits.sum(0)))],
                                     np.nan_to_num(np.hstack(blocks))[present], s.n_boot, s.seed, s.ci)
        p_ref += list(cmp.p) if present.sum() >= s.min_n else [np.nan] * len(cmp.p)
        acc_ref += list(cmp.acc_b)
    _close(_values(result, "p"), p_ref)
    _close(_values(result, "accuracy"), acc_ref)


def test_each_analysis_reads_the_store_once(ud_run):
    for analysis in (head_roles, dependency_accuracy, run_tables, pattern_tables):
        run = open_run(ud_run.path)
        analysis(run)
        assert run.score_scans == 1, analysis.__name__


def test_above_boot_max_n_the_ci_method_changes_and_is_recorded(ud_run):
    s = RoleSettings(n_boot=200, boot_max_n=20)
    result = head_roles(ud_run, s)
    assert result.ci_method == "poisson-bootstrap (n > 20)"
    row = next(r for r in result.table.to_pylist() if r["status"] == "ok" and r["n"] > 20)
    m = score_matrices(ud_run, [row["metric"]])[row["metric"]]
    x = m.column(row["layer"], row["head"])
    low, high = PoissonMeans(200, 1).update(m.sentence_ids, x[:, None], seed=s.seed).ci(s.ci)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((low[0], high[0]), rel=1e-12)
    syntax = dependency_accuracy(ud_run, SyntaxSettings(boot_max_n=20, n_boot=300))
    assert "poisson-bootstrap (sentences > 20)" in syntax.method
    assert syntax.method in syntax.family["name"]
    # a large relation's CIs and p are the Poisson bootstrap of the ratios over its sentences
    rel = next(r for r in syntax.heads.to_pylist() if r["sentences"] > 20 and r["p"] is not None)
    parts = read_parts(ud_run, "syntax")
    ids = np.concatenate([p["sentence_ids"] for p in parts])
    order = np.argsort(ids)
    ids, r = ids[order], [str(x) for x in parts[0]["relations"]].index(rel["relation"])
    counts = np.concatenate([p["counts"] for p in parts])[order][:, r]
    offsets = [int(o) for o in parts[0]["offsets"]]
    arcs, base = counts[:, 0], counts[:, 1 + offsets.index(rel["baseline_offset"])]
    m = score_matrices(ud_run, [f"dep_{rel['relation']}_{rel['direction']}"])[f"dep_{rel['relation']}_{rel['direction']}"]
    col = np.zeros(len(ids))
    col[np.searchsorted(ids, m.sentence_ids)] = np.nan_to_num(m.column(rel["layer"], rel["head"]))
    present = arcs > 0
    boot = PoissonMeans(300, 3).update(ids[present], np.column_stack([arcs[present], base[present], col[present]]), seed=0)
    ref = ratio_comparison(boot.s, arcs[present].sum(), base[present].sum(), col[present][:, None].sum(0),
                           int(present.sum()), 0.95)
    assert rel["sentences"] == int(present.sum()) and rel["accuracy"] == pytest.approx(ref.acc_b[0], rel=1e-12)
    assert (rel["ci_low"], rel["ci_high"], rel["delta_low"], rel["delta_high"], rel["p"]) == pytest.approx(
        (ref.acc_low[0], ref.acc_high[0], ref.delta_low[0], ref.delta_high[0], ref.p[0]), rel=1e-9)


def _copy(run, out):
    shutil.copytree(run.path, out)
    return out


def _rewrite(out, rel, table):
    pq.write_table(table, os.path.join(out, rel))
    path = os.path.join(out, "manifest.json")
    manifest = json.load(open(path))
    manifest["files"].update(record(out, [rel]))
    json.dump(manifest, open(path, "w"))


def test_a_schema_mismatched_part_is_named(ud_run, tmp_path):
    out = _copy(ud_run, str(tmp_path / "mismatch"))
    rel = "scores/part-00001.parquet"
    table = pq.read_table(os.path.join(out, rel))
    _rewrite(out, rel, table.set_column(4, "value", table["value"].cast(pa.float64())))
    with pytest.raises(RunStoreError, match=r"part-00001\.parquet does not have the run's score schema.*value: double"):
        head_roles(open_run(out))


def test_a_missing_or_truncated_part_is_named(ud_run, tmp_path):
    out = _copy(ud_run, str(tmp_path / "truncated"))
    path = os.path.join(out, "scores", "part-00002.parquet")
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) // 2)
    with pytest.raises(RunStoreError, match=r"part-00002\.parquet is truncated"):
        head_roles(open_run(out))
    out = _copy(ud_run, str(tmp_path / "missing"))
    os.remove(os.path.join(out, "scores", "part-00000.parquet"))
    with pytest.raises(RunStoreError, match=r"part-00000\.parquet is missing"):
        run_tables(open_run(out))


def test_fewer_sentences_than_the_manifest_counts_is_refused(ud_run, tmp_path):
    """A run whose last part was dropped together with its record: never tested on what is left."""
    out = _copy(ud_run, str(tmp_path / "fewer"))
    path = os.path.join(out, "manifest.json")
    manifest = json.load(open(path))
    last = max(f for f in manifest["files"] if f.startswith("sentences/"))
    number = last.rsplit("-", 1)[1].split(".")[0]
    for rel in [f for f in manifest["files"] if f"part-{number}." in f]:
        os.remove(os.path.join(out, rel))
        del manifest["files"][rel]
    json.dump(manifest, open(path, "w"))
    with pytest.raises(RunStoreError, match=r"manifest counts 60 analysed sentences but its committed sentence parts list"):
        head_roles(open_run(out))


def test_the_manifest_records_the_finalizers_done(ud_run):
    manifest = json.load(open(os.path.join(ud_run.path, "manifest.json")))
    assert manifest["status"] == "complete"
    assert manifest["finalizers"] == {"roles": "done", "syntax": "done", "categories": "done", "patterns": "done"}
