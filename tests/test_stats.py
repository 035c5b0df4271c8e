"""headlens.stats: exact values against scipy/statsmodels and hand formulas, vectorised == per
column, defined edge cases, calibration under H0 (with and without correction), power, CI coverage."""

import gc
import json
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from headlens.stats import (ALTERNATIVES, CORRECTIONS, NOT_ENOUGH_DATA, TESTS, ZERO_VARIANCE, Family,
                            TestTable, bootstrap_ci, cohens_d, cohens_dz, correct, mcnemar_exact,
                            mean_ci, one_sample, paired, paired_bootstrap, rank_biserial, shared_resampling)

FIELDS = ("estimate", "ci_low", "ci_high", "statistic", "p", "effect")
X10 = np.array([0.42, 0.31, 0.55, 0.28, 0.61, 0.47, 0.39, 0.52, 0.33, 0.58])


def same(a, b, rtol=1e-12):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return bool(np.all((np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=rtol, atol=1e-15)))


# ---------------------------------------------------------------- exact values
@pytest.mark.parametrize("alt", ALTERNATIVES)
def test_t_equals_scipy_and_hand_formula(alt):
    mu = 0.4
    tab = one_sample(X10, mu, test="t", alternative=alt, n_boot=0)
    ref = stats.ttest_1samp(X10, mu, alternative=alt)
    n = len(X10)
    t_hand = (X10.mean() - mu) / (X10.std(ddof=1) / math.sqrt(n))
    p_hand = {"greater": stats.t.sf(t_hand, n - 1), "less": stats.t.cdf(t_hand, n - 1),
              "two-sided": 2 * stats.t.sf(abs(t_hand), n - 1)}[alt]
    assert len(tab) == 1 and tab.n[0] == 10 and tab.status[0] == "ok"
    assert tab.statistic[0] == pytest.approx(ref.statistic, rel=1e-12) == pytest.approx(t_hand, rel=1e-12)
    assert tab.p[0] == pytest.approx(ref.pvalue, rel=1e-10) == pytest.approx(p_hand, rel=1e-10)
    assert tab.estimate[0] == pytest.approx(X10.mean())
    assert tab.effect[0] == pytest.approx((X10.mean() - mu) / X10.std(ddof=1))
    assert tab.effect_name == "cohens_d" and tab.design == "one-sample"


def test_t_ddof0_is_pande_formula():
    mu, n = 0.35, len(X10)
    tab = one_sample(X10, mu, test="t", ddof=0, n_boot=0)
    t_pande = (X10.mean() - mu) / (np.std(X10, ddof=0) / math.sqrt(n))
    assert tab.statistic[0] == pytest.approx(t_pande, rel=1e-12)
    assert tab.p[0] == pytest.approx(stats.t.sf(t_pande, n - 1), rel=1e-10)
    assert tab.statistic[0] > one_sample(X10, mu, ddof=1, n_boot=0).statistic[0]  # smaller sd
    assert tab.effect[0] == pytest.approx(cohens_d(X10, mu))  # effect keeps ddof=1


@pytest.mark.parametrize("test", TESTS)
def test_two_sided_is_twice_one_sided_on_symmetric_null(test):
    x = np.array([1.3, -0.4, 2.1, 0.7, 1.9, -1.1, 0.8, 2.6, 1.2, 0.35, 1.75, -0.2])  # no ties
    g = one_sample(x, 0.0, test=test, alternative="greater", n_boot=0).p[0]
    two = one_sample(x, 0.0, test=test, alternative="two-sided", n_boot=0).p[0]
    assert g < 0.5 and two == pytest.approx(2 * g, rel=1e-12)


def test_wilcoxon_equals_scipy_and_hand_rank_biserial():
    d = np.array([1.0, -2, 3, 4, -5, 6, 7, 8, 9, 10])  # ranks of |d| are |d| itself
    tab = one_sample(d, 0.0, test="wilcoxon", alternative="greater", n_boot=0)
    ref = stats.wilcoxon(d, alternative="greater")
    assert tab.statistic[0] == ref.statistic == 48.0  # T+ = 55 - 7
    assert tab.p[0] == pytest.approx(ref.pvalue, rel=1e-12)
    assert tab.effect[0] == pytest.approx((48 - 7) / 55) == pytest.approx(rank_biserial(d))
    rng = np.random.default_rng(3)
    # 10 tied values: scipy's permutation p (n <= 13, 2**10 sign flips); 30: exact; 80: normal
    for x in (np.round(rng.normal(0.2, 1, 10), 1), rng.normal(0.2, 1, 30), rng.normal(0.2, 1, 80)):
        for alt in ALTERNATIVES:
            r = stats.wilcoxon(x - 0.1, alternative=alt)
            t = one_sample(x, 0.1, test="wilcoxon", alternative=alt, n_boot=0)
            assert same(t.statistic, r.statistic) and same(t.p, r.pvalue)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("n", [10, 80])
def test_wilcoxon_effect_is_the_rank_biserial_with_ties_and_zeros(alternative, n):
    """The one-sided effect comes from T+ (no second ranking): it must equal the ranked formula."""
    rng = np.random.default_rng(n)
    # n = 10: scipy's permutation path, 2**n sign flips per column, one column at a time (a third of a second
    # each): 7 columns, the 5 below and 2 of rounded normals
    X = np.round(rng.normal(0.3, 1.0, (n, 7 if n <= 13 else 40)), 1)  # ties, and zeros against popmean 0.1
    X[:, :5] = 0.1 + np.round(rng.normal(0, 1, (n, 5)))  # many ties and zeros
    tab = one_sample(X, 0.1, test="wilcoxon", alternative=alternative, n_boot=0)
    np.testing.assert_allclose(tab.effect, rank_biserial(X, 0.1), rtol=1e-12, atol=1e-15)


def test_sign_test_equals_binomtest_by_hand():
    x = np.array([1.0, 2, 3, 0, 0, -1, 4, 5, 6, 7, 8, 9])  # 9 positive, 1 negative, 2 zeros
    tab = one_sample(x, 0.0, test="sign", alternative="greater", n_boot=0)
    assert tab.statistic[0] == 9 and tab.n[0] == 12
    assert tab.p[0] == pytest.approx(11 / 1024, rel=1e-12)  # P(Binom(10, .5) >= 9)
    assert tab.p[0] == pytest.approx(stats.binomtest(9, 10, 0.5, alternative="greater").pvalue)
    assert tab.effect[0] == pytest.approx(0.8)


def test_mcnemar_hand_counted():
    a = np.array([1] * 5 + [1] * 1 + [0] * 9 + [0] * 3, bool)  # 5 both right, b=1, c=9, 3 both wrong
    b = np.array([1] * 5 + [0] * 1 + [1] * 9 + [0] * 3, bool)
    r = mcnemar_exact(a, b)
    assert (r.b, r.c, r.n_discordant, r.statistic) == (1, 9, 10, 1.0)
    assert r.p == pytest.approx(0.021484375, rel=1e-12)  # 2 * P(Binom(10, .5) <= 1)
    assert r.p == pytest.approx(sm_mcnemar([[5, 1], [9, 3]], exact=True).pvalue, rel=1e-12)
    assert r.estimate == pytest.approx(b.mean() - a.mean()) == pytest.approx(8 / 18)
    same_ = mcnemar_exact([1, 0, 1], [1, 0, 1])
    assert same_.p == 1.0 and same_.n_discordant == 0 and same_.estimate == 0.0
    with pytest.raises(ValueError):
        mcnemar_exact([1, 0, np.nan], [1, 0, 1])


def test_corrections_equal_statsmodels_and_hand():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    hand = {"bonferroni": [0.04, 0.16, 0.12, 0.02], "holm": [0.03, 0.06, 0.06, 0.02],
            "fdr_bh": [0.02, 0.04, 0.04, 0.02], "none": list(p)}
    for m in CORRECTIONS:
        q, rej = correct(p, m, 0.05)
        assert np.allclose(q, hand[m], rtol=1e-12)
        assert (rej == (np.array(hand[m]) <= 0.05)).all()
        if m != "none":
            ref = multipletests(p, alpha=0.05, method=m)
            assert np.allclose(q, ref[1]) and (rej == ref[0]).all()


def test_nan_p_not_tested_not_counted():
    q, rej = correct([0.01, np.nan, 0.02], "bonferroni")
    assert np.allclose(q[[0, 2]], [0.02, 0.04]) and np.isnan(q[1]) and list(rej) == [True, False, True]
    q, rej = correct([0.01, None, 0.02, 0.5], "fdr_bh")
    assert np.isnan(q[1]) and not rej[1]
    assert np.allclose(q[[0, 2, 3]], multipletests([0.01, 0.02, 0.5], method="fdr_bh")[1])
    q, rej = correct([np.nan, np.nan], "holm")
    assert np.isnan(q).all() and not rej.any()
    with pytest.raises(ValueError):
        correct([0.2, 1.5])


def test_family_records_size_and_rejects_duplicates():
    X = np.random.default_rng(0).normal(size=(20, 3))
    X[:15, 1] = np.nan  # n = 5 < min_n: not tested
    X[:, 2] += 3.0
    tab = one_sample(X, 0.0, n_boot=0)
    fam = Family("demo", ["L0-H0/x", "L0-H1/x", "L0-H2/x"], method="bonferroni")
    assert fam.size is None
    q, rej = fam.apply(tab)
    assert fam.size == 2 and fam.n_rejected == 1 and np.isnan(q[1]) and rej[2] and not rej[1]
    assert q[0] == pytest.approx(min(1.0, 2 * tab.p[0]))
    d = json.loads(json.dumps(fam.to_dict(), allow_nan=False))
    assert d["size"] == 2 and d["n_members"] == 3 and d["members"][2] == "L0-H2/x"
    with pytest.raises(ValueError):
        Family("dup", ["a", "a"])
    with pytest.raises(ValueError):
        fam.apply([0.1, 0.2])


# ------------------------------------------------- vectorised == column by column
@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("ci_method", ["percentile", "BCa"])
def test_vectorised_equals_column_by_column(test, ci_method):
    rng = np.random.default_rng(11)
    X = rng.normal(0.1, 1.0, size=(40, 9))
    X[:, 3] = np.round(X[:, 3], 1)  # ties
    X[:7, 4] = np.nan  # another NaN pattern
    X[:7, 5] = np.nan  # same pattern as column 4
    X[::2, 6] = np.nan  # n = 20
    X[:35, 7] = np.nan  # not enough data
    X[:, 8] = 0.25  # zero variance
    kw = dict(test=test, alternative="two-sided", n_boot=300, seed=5, ci_method=ci_method)
    tab = one_sample(X, 0.1, **kw)
    for j in range(X.shape[1]):
        one = one_sample(X[:, j], 0.1, **kw)
        for f in FIELDS:
            assert same(getattr(tab, f)[j], getattr(one, f)[0], rtol=1e-10), (j, f)
        assert tab.n[j] == one.n[0] and tab.status[j] == one.status[0]
    # the vectorised CI equals scipy.stats.bootstrap on the column with the same seed
    for j in (0, 6):
        x = X[:, j][~np.isnan(X[:, j])]
        assert np.allclose((tab.ci_low[j], tab.ci_high[j]),
                           bootstrap_ci(x, np.mean, 0.95, 300, 5, ci_method), rtol=1e-10)
    # tied data (a 0.1 grid): many bootstrap means equal the sample mean exactly, and which side
    # of it their floats fall on depends on the BLAS kernel. On integers (x * 10) every sum is
    # exact, so scipy decides the ties exactly there; headlens's CI of x is that CI / 10.
    ints = np.round(X[:, 3] * 10)
    assert np.allclose((tab.ci_low[3], tab.ci_high[3]),
                       np.array(bootstrap_ci(ints, np.mean, 0.95, 300, 5, ci_method)) / 10, rtol=1e-10)
    assert list(tab.status[7:]) == [NOT_ENOUGH_DATA, ZERO_VARIANCE]


def test_paired_equals_scipy():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(25, 3))
    Y = X + rng.normal(0.3, 1.0, size=(25, 3))
    X[0, 1] = np.nan
    Y[3, 1] = np.nan  # column 1 loses two pairs
    tab = paired(X, Y, test="t", n_boot=0)
    wil = paired(X, Y, test="wilcoxon", alternative="less", n_boot=0)
    for j in range(3):
        ok = ~np.isnan(X[:, j]) & ~np.isnan(Y[:, j])
        x, y = X[ok, j], Y[ok, j]
        r = stats.ttest_rel(x, y)
        assert tab.n[j] == ok.sum() and same(tab.statistic[j], r.statistic) and same(tab.p[j], r.pvalue)
        assert tab.estimate[j] == pytest.approx(np.mean(x - y)) and tab.effect[j] == pytest.approx(cohens_dz(x, y))
        w = stats.wilcoxon(x, y, alternative="less")
        assert same(wil.statistic[j], w.statistic) and same(wil.p[j], w.pvalue)
    assert tab.n[1] == 23 and tab.design == "paired" and tab.effect_name == "cohens_dz"
    with pytest.raises(ValueError):
        paired(X, Y[:, :2])


# ------------------------------------------------------------ defined behaviour
@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("alt", ALTERNATIVES)
def test_zero_variance_all_ties_and_not_enough_data_are_defined(test, alt):
    # n = 10 (the default min_n): the rank test's permutation p takes 2**n sign flips per column
    X = np.column_stack([np.full(10, 0.7), np.full(10, 0.2), np.full(10, 0.5), np.r_[np.full(7, np.nan), 1, 2, 3]])
    tab = one_sample(X, 0.5, test=test, alternative=alt, n_boot=100)
    assert list(tab.status) == [ZERO_VARIANCE, ZERO_VARIANCE, ZERO_VARIANCE, NOT_ENOUGH_DATA]
    assert list(tab.n) == [10, 10, 10, 3]
    assert not np.isnan(tab.p[:3]).any() and np.isnan(tab.p[3])
    assert list(tab.estimate[:3]) == [0.7, 0.2, 0.5] and tab.estimate[3] == 2.0
    assert list(tab.ci_low[:3]) == list(tab.ci_high[:3]) == [0.7, 0.2, 0.5]
    # all ties at popmean: p = 1, statistic = effect = 0 for every test
    assert (tab.p[2], tab.statistic[2], tab.effect[2]) == (1.0, 0.0, 0.0)
    above, below = {"greater": (True, False), "less": (False, True), "two-sided": (True, True)}[alt]
    if test == "t":  # constant != popmean: p by the side rule, statistic/effect undefined
        assert tab.p[0] == (0.0 if above else 1.0) and tab.p[1] == (0.0 if below else 1.0)
        assert np.isnan(tab.statistic[:2]).all() and np.isnan(tab.effect[:2]).all()
    else:  # rank/sign tests are well defined on a constant
        assert list(tab.effect[:2]) == [1.0, -1.0]
        assert (tab.p[0] < 0.01) == above and (tab.p[1] < 0.01) == below
    if test == "sign" and alt == "greater":
        assert tab.p[0] == pytest.approx(0.5**10)
    recs = tab.to_records()
    json.dumps(recs, allow_nan=False)  # raises on NaN / inf
    assert recs[3]["p"] is None and recs[3]["ci_low"] is None and recs[3]["status"] == "not enough data"
    assert all(r["p"] is not None for r in recs[:3])
    arrow = tab.to_arrow()
    assert arrow.num_rows == 4 and arrow.column("p").null_count == 1


def test_table_records_arrow_names_and_validation():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"L0-H0": X10, "L0-H1": X10[::-1] + 1})
    tab = one_sample(df, 0.3, n_boot=50)
    assert isinstance(tab, TestTable) and tab.names == ("L0-H0", "L0-H1")
    recs = tab.to_records()
    assert recs[1]["name"] == "L0-H1" and recs[1]["n_boot"] == 50 and recs[0]["alternative"] == "greater"
    assert tab.to_arrow().column("name").to_pylist() == ["L0-H0", "L0-H1"]
    with pytest.raises(ValueError):
        tab.p[0] = 0.5  # read-only
    for bad in (dict(test="z"), dict(alternative="bigger"), dict(ddof=2), dict(min_n=1), dict(ci=1.0)):
        with pytest.raises(ValueError):
            one_sample(X10, **bad)
    with pytest.raises(ValueError):
        one_sample(np.r_[X10, np.inf])


def test_seeded_and_deterministic():
    X = np.random.default_rng(1).normal(size=(30, 4))
    a, b = one_sample(X, seed=7, n_boot=200), one_sample(X, seed=7, n_boot=200)
    c = one_sample(X, seed=8, n_boot=200)
    assert same(a.ci_low, b.ci_low) and same(a.ci_high, b.ci_high) and not same(a.ci_low, c.ci_low)


# -------------------------------------------------- calibration under H0 and power
ALPHA, TAU, N_SENT, REPS = 0.05, 0.3, 200, 200
SE_REP = math.sqrt(ALPHA * (1 - ALPHA) / REPS)


def _null_pvalues(draw, test, k, seed):
    """p-values [REPS, k]: k heads x roles per repetition, per-sentence scores with H0 exactly true."""
    rng, out, block = np.random.default_rng(seed), [], 25
    for _ in range(REPS // block):  # block repetitions side by side as columns: one vectorised call
        p = one_sample(draw(rng, (N_SENT, k * block)), TAU, test=test, n_boot=0).p
        out.append(p.reshape(block, k))
    return np.concatenate(out)


def _rates(P, method):
    rej = np.array([correct(row, method, ALPHA)[1] for row in P])
    return rej.any(axis=1).mean(), rej.mean()


@pytest.mark.parametrize("case", ["t-normal", "t-right-skewed", "wilcoxon-symmetric", "sign"])
def test_calibration_under_global_null(case, monkeypatch):
    draw, test, k = {
        "t-normal": (lambda r, s: TAU + r.normal(0, 1, s), "t", 576),  # 144 heads x 4 roles
        # right-skewed gamma, mean exactly TAU; one-sided "greater" is on the light-tail side
        "t-right-skewed": (lambda r, s: TAU - 2.0 + r.gamma(2.0, 1.0, s), "t", 576),
        "wilcoxon-symmetric": (lambda r, s: TAU + r.laplace(0, 1, s), "wilcoxon", 144),  # pseudo-median TAU
        "sign": (lambda r, s: TAU + r.laplace(0, 1, s), "sign", 144),  # median TAU
    }[case]
    P = _null_pvalues(draw, test, k, seed=1234)
    fwer_bh, _ = _rates(P, "fdr_bh")
    fwer_bonf, _ = _rates(P, "bonferroni")
    any_none, per_test = _rates(P, "none")
    se_test = math.sqrt(ALPHA * (1 - ALPHA) / P.size)
    # global null: BH (= Simes) and Holm keep P(any rejection) <= alpha
    assert fwer_bh <= ALPHA + 3 * SE_REP and fwer_bonf <= ALPHA + 3 * SE_REP
    # Holm rejects anything iff Bonferroni does (same first step); statsmodels' Holm is slow
    # (gc.collect per call, a quarter of a second in a test process), so check the identity on a few
    # repetitions only, and without the collections (they change no value)
    monkeypatch.setattr(gc, "collect", lambda *args: 0)
    for row in P[:10]:
        assert correct(row, "holm", ALPHA)[1].any() == correct(row, "bonferroni", ALPHA)[1].any()
    # uncorrected: each test at about alpha, yet nearly every repetition has a false rejection
    assert per_test <= ALPHA + 3 * se_test and any_none > 0.95
    if case in ("t-normal", "wilcoxon-symmetric"):  # exact-ish tests: not conservative either
        assert abs(per_test - ALPHA) <= 3 * se_test and fwer_bh >= ALPHA - 3 * SE_REP


def test_power_true_effect_rejected_in_family():
    rng = np.random.default_rng(5)
    n, k, sd = 100, 144, 1.0
    X = TAU + rng.normal(0, sd, size=(n, k))
    X[:, 17] += 0.5 * sd  # true mean TAU + 0.5 sd
    for test in ("t", "wilcoxon"):
        tab = one_sample(X, TAU, test=test, n_boot=0)
        q, rej = Family(f"power-{test}", [f"h{j}" for j in range(k)]).apply(tab)
        assert rej[17] and tab.effect[17] > 0.3
    assert one_sample(X[:, 17], TAU, test="sign", n_boot=0).p[0] < 0.05


# ------------------------------------------------------------------- bootstrap
def test_percentile_ci_equals_direct_numpy():
    x = np.random.default_rng(9).exponential(size=23)
    idx = np.random.default_rng(4).integers(0, 23, (500, 23))
    lo, hi = np.percentile(x[idx].mean(axis=1), [5, 95])
    assert np.allclose(bootstrap_ci(x, np.mean, 0.9, 500, 4), (lo, hi), rtol=1e-12)
    tab = one_sample(x, ci=0.9, n_boot=500, seed=4, min_n=2)
    assert np.allclose((tab.ci_low[0], tab.ci_high[0]), (lo, hi), rtol=1e-12)


@pytest.mark.parametrize("ci_method", ["percentile", "BCa"])
def test_shared_resampling_gives_the_same_intervals(ci_method, monkeypatch):
    """Blocks of columns over the same rows reuse the first block's resampling counts: the intervals are
    bit-identical to drawing them per block, for every block, a new row count and a new seed; a
    resampling over the memory bound is drawn per block as before."""
    from headlens.stats import bootstrap

    rng = np.random.default_rng(3)
    blocks = [rng.normal(size=(40, 5)), rng.exponential(size=(40, 3)), rng.normal(size=(31, 2)), rng.normal(size=(40, 4))]
    seeds = [1, 1, 1, 2]
    alone = [mean_ci(X, 0.9, 300, seed, ci_method) for X, seed in zip(blocks, seeds)]
    drawn = []
    real = bootstrap._counts
    monkeypatch.setattr(bootstrap, "_counts", lambda *a: drawn.append(a) or real(*a))
    with shared_resampling():
        shared = [mean_ci(X, 0.9, 300, seed, ci_method) for X, seed in zip(blocks, seeds)]
    assert drawn == [(40, 300, 1), (31, 300, 1), (40, 300, 2)]  # the second block reused the first's counts
    for (lo, hi), (slo, shi) in zip(alone, shared):
        assert np.array_equal(lo, slo) and np.array_equal(hi, shi)
    monkeypatch.setattr(bootstrap, "_MAX_SHARED", 40 * 300 - 1)
    drawn.clear()
    with shared_resampling():
        over = [mean_ci(X, 0.9, 300, 1, ci_method) for X in blocks[:2]]
    assert len(drawn) == 2 and all(np.array_equal(a[0], b[0]) for a, b in zip(over, alone))


@pytest.mark.parametrize("ci_method", ["percentile", "BCa"])
def test_bootstrap_ci_coverage(ci_method):
    rng, mu, reps = np.random.default_rng(21), 0.3, 400
    X = mu - 1.0 + rng.exponential(1.0, size=(60, reps))  # skewed, true mean mu; one column = one repetition
    tab = one_sample(X, ci=0.9, n_boot=1000, seed=3, ci_method=ci_method)
    cover = np.mean((tab.ci_low <= mu) & (mu <= tab.ci_high))
    se = math.sqrt(0.9 * 0.1 / reps)
    assert 0.9 - 0.03 - 3 * se <= cover <= 0.9 + 3 * se  # percentile under-covers slightly on skewed data


def test_paired_bootstrap_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    a = np.where(rng.random(200) < 0.75, y, 1 - y)
    b = np.where(rng.random(200) < 0.85, y, 1 - y)
    acc = lambda t, p: float(np.mean(t == p))  # noqa: E731
    r = paired_bootstrap(y, a, b, acc, n_boot=999, seed=3)
    idx = np.random.default_rng(3).integers(0, 200, (999, 200))
    deltas = np.array([acc(y[i], b[i]) - acc(y[i], a[i]) for i in idx])
    assert r.estimate == pytest.approx(acc(y, b) - acc(y, a)) and r.estimate > 0
    assert (r.ci_low, r.ci_high) == pytest.approx(tuple(np.quantile(deltas, [0.025, 0.975])))
    assert r.p == pytest.approx(min(1.0, 2 * (np.sum(deltas <= 0) + 1) / 1000))
    assert r.p < 0.05 and r.n_valid == 999
    same_ = paired_bootstrap(y, a, a, acc, n_boot=200)
    assert same_.p == 1.0 and same_.ci_low == same_.ci_high == 0.0
