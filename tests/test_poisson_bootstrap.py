"""The streamed Poisson bootstrap (issue 16): order-free weights keyed by sentence id, mergeable sums,
results independent of the block size, coverage on planted data, and its use above boot_max_n."""

import math

import numpy as np
import pytest

import headlens
from headlens.analyses import columns
from headlens.analyses.columns import PairedColumns, RowSpill, poisson_means
from headlens.analyses.compare.changes import ChangeSettings
from headlens.analyses.compare.stats import compare_runs
from headlens.analyses.matrix import score_matrices
from headlens.analyses.roles.stats import RoleSettings, head_roles, role_metrics
from headlens.heads import head_index
from headlens.stats.poisson import POISSON, PoissonMeans, poisson_weights


def test_weights_are_poisson_one_and_keyed_by_sentence_id():
    ids = np.arange(20000) * 7 + 3
    w = poisson_weights(ids, 50, seed=1)
    assert w.shape == (20000, 50) and np.all(w == np.round(w)) and w.min() == 0
    assert w.mean() == pytest.approx(1.0, abs=0.01) and w.var() == pytest.approx(1.0, abs=0.02)
    for k in range(6):  # the Poisson(1) probabilities (1M draws)
        assert np.mean(w == k) == pytest.approx(np.exp(-1) / math.factorial(k), abs=0.002)
    perm = np.random.default_rng(0).permutation(len(ids))
    assert np.array_equal(poisson_weights(ids[perm], 50, seed=1), w[perm])  # order-free
    assert np.array_equal(poisson_weights(ids[:10], 50, seed=1), w[:10])  # any block gives a sentence the same weights
    assert not np.array_equal(poisson_weights(ids[:100], 50, seed=2), w[:100])
    assert abs(np.corrcoef(w[:, 0], w[:, 1])[0, 1]) < 0.03  # replicates independent


def test_merge_of_two_halves_equals_one_pass():
    rng = np.random.default_rng(2)
    ids, X = rng.permutation(3000), rng.normal(0.4, 0.2, (3000, 5))
    X[rng.random(X.shape) < 0.05] = np.nan
    one = PoissonMeans(200, 5).update(ids, X, seed=3)
    a = PoissonMeans(200, 5).update(ids[:1234], X[:1234], seed=3)
    b = PoissonMeans(200, 5).update(ids[1234:], X[1234:], seed=3)
    merged = a.merge(b)
    assert np.array_equal(merged.w, one.w)  # integer weights: exact
    np.testing.assert_allclose(merged.s, one.s, rtol=1e-12)
    for x, y in zip(merged.ci(), one.ci()):
        np.testing.assert_allclose(x, y, rtol=1e-12)
    shuffled = np.random.default_rng(9).permutation(3000)
    again = PoissonMeans(200, 5).update(ids[shuffled], X[shuffled], seed=3)  # rows in another order
    np.testing.assert_allclose(again.ci()[0], one.ci()[0], rtol=1e-12)


def test_ci_covers_the_planted_mean_in_most_seeds():
    covered = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        X = rng.gamma(2.0, 0.15, (2000, 1))  # skewed, true mean 0.3
        low, high = PoissonMeans(400, 1).update(np.arange(2000) + 10_000 * seed, X, seed=seed).ci(0.95)
        covered += bool(low[0] < 0.3 < high[0])
        width_t = 2 * 1.96 * X.std(ddof=1) / np.sqrt(2000)
        assert high[0] - low[0] == pytest.approx(width_t, rel=0.2)  # as wide as the normal interval
    assert covered >= 17  # 95% nominal over 20 seeds


@pytest.mark.parametrize("block_bytes", [8 * 3 * 40, 16 << 20])
def test_results_do_not_depend_on_the_block_size(monkeypatch, block_bytes):
    rng = np.random.default_rng(4)
    n, layers, heads = 500, 2, 3
    ids = rng.permutation(n) + 1000
    before = rng.normal(0.5, 0.1, (n, 1, layers, heads))
    after = before + rng.normal(0.02, 0.05, before.shape)
    direct = PoissonMeans(60, layers * heads).update(ids, (after - before).reshape(n, -1), seed=5).ci()
    monkeypatch.setattr(columns, "BLOCK_BYTES", block_bytes)
    with RowSpill(["m"], layers, heads) as sb, RowSpill(["m"], layers, heads) as sa:
        for start in range(0, n, 37):
            sb.append(ids[start:start + 37], before[start:start + 37])
            sa.append(ids[start:start + 37], after[start:start + 37])
        with sb.columns(True) as b, sa.columns(True) as a:
            got = poisson_means(PairedColumns(b, a), "heads", 60, 5)["m"].ci()
    for x, y in zip(got, direct):
        np.testing.assert_allclose(x, y, rtol=1e-12)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_bert_dir):
    root = tmp_path_factory.mktemp("poisson")
    spec = headlens.CorpusSpec(headlens.default_corpus_path(), limit=40)
    return [headlens.run(out=str(root / f"r{k}"), model=tiny_bert_dir, corpus=spec, analyses=("roles",), long="truncate",
                         part_size=16, max_batch=b, progress=False, dtype="float64") for k, b in enumerate((8, 3))]


def test_roles_and_compare_use_it_above_boot_max_n(runs, monkeypatch):
    monkeypatch.setattr(columns, "BLOCK_BYTES", 8 * 40 * 3)
    run = runs[0]
    s = RoleSettings(n_boot=150, boot_max_n=20)
    result = head_roles(run, s)
    assert f"{POISSON} (n > 20)" in result.ci_method
    names = list(role_metrics(run, s))
    mats = score_matrices(run, names)
    rows = [r for r in result.table.to_pylist() if r["tau"] == s.taus[0] and r["status"] == "ok" and r["n"] > 20]
    assert rows
    for m in names:
        low, high = PoissonMeans(150, mats[m].values.shape[1]).update(mats[m].sentence_ids, mats[m].values, seed=s.seed).ci(s.ci)
        for r in (r for r in rows if r["metric"] == m):
            k = head_index(r["layer"], r["head"], mats[m].heads)
            assert (r["ci_low"], r["ci_high"]) == pytest.approx((low[k], high[k]), rel=1e-9)
    below = head_roles(run, RoleSettings(n_boot=150))
    assert below.ci_method == "percentile"
    changes, params = compare_runs(runs[0], runs[1], ChangeSettings(n_boot=100, boot_max_n=20), metrics=names)
    assert f"{POISSON} (n > 20)" in params["ci_method"]
    after = score_matrices(runs[1], names)
    checked = 0
    for m in names:
        assert np.array_equal(after[m].sentence_ids, mats[m].sentence_ids)
        low, high = PoissonMeans(100, mats[m].values.shape[1]).update(
            mats[m].sentence_ids, after[m].values - mats[m].values, seed=0).ci(0.95)
        for r in changes.heads.to_pylist():
            if r["metric"] == m and r["status"] == "ok" and r["n"] > 20:
                k = head_index(r["layer"], r["head"], mats[m].heads)
                assert (r["ci_low"], r["ci_high"]) == pytest.approx((low[k], high[k]), rel=1e-9)
                checked += 1
    assert checked > 0
