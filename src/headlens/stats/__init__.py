"""Statistics for head analyses: many one-sample / paired tests at once, with honest families.

Conventions
-----------
Shapes and missing data
    :func:`one_sample` / :func:`paired` take X [n_observations, k] (k independent tests, one per
    column, e.g. heads x roles over the same sentences) or a 1-D X (one test). NaN marks a
    missing observation: each column uses its non-NaN rows (paired: rows where X or Y is NaN are
    dropped). Columns sharing the same missing rows are computed together, fully vectorised
    (scipy with axis=0 and one shared bootstrap resampling of rows), so the result for a column
    is the same as testing that column alone (same seed). ``+-inf`` is rejected.

Result: :class:`TestTable`, one entry per column: n, estimate, ci_low, ci_high, statistic, p,
effect, status, plus the settings. ``status`` is one of

    "ok"
        every field is defined (finite).
    NOT_ENOUGH_DATA = "not enough data"
        n < min_n (min_n >= 2). Not tested: p, statistic, effect, CI are NaN in the arrays and
        None in :meth:`TestTable.to_records`; ``estimate`` is the mean of the available values
        (NaN/None when n == 0). :func:`correct` and :meth:`Family.apply` treat such a p as not
        tested: excluded from the family size, never rejected, q stays NaN.
    ZERO_VARIANCE = "zero variance"
        n >= min_n and all values (differences) equal a constant c. Always tested (p defined,
        counts in the family): estimate = ci_low = ci_high = c (CI NaN only if n_boot == 0).
        * c == popmean (all differences zero, "all ties"), every test: p = 1.0,
          statistic = 0.0, effect = 0.0.
        * c != popmean, test "t": p = 0.0 if c lies strictly on the H1 side of popmean
          (c > popmean for "greater", c < popmean for "less", c != popmean for "two-sided"),
          else p = 1.0 (the limits of the t-test p as the variance goes to 0); statistic and
          effect are undefined (would be +-inf): NaN / None.
        * c != popmean, "wilcoxon" and "sign": these tests are well defined on a constant, and
          are computed as usual (e.g. sign test p = 0.5**n one-sided; effect = +-1).

Effect and estimate
    t: Cohen's d = (mean - popmean) / sd (ddof=1), d_z for paired; wilcoxon: matched-pairs
    rank-biserial correlation; sign: (pos - neg) / (pos + neg). ``estimate`` is the mean (mean
    difference) for every test and the CI is a two-sided bootstrap CI of the mean (percentile,
    or BCa with ``ci_method="BCa"``), not a CI of the test's own location parameter (Wilcoxon
    tests the pseudo-median, the sign test the median).

Families
    Multiple-testing correction is explicit: a :class:`Family` names its members (test ids) and
    method ("fdr_bh", "holm", "bonferroni", "none") and records the size actually tested, so a
    reported q-value always says which family it was corrected in.

Equivalence
    :func:`tost_p` (:mod:`.equivalence`): two one-sided t-tests that a mean difference lies
    inside ``(-margin, margin)``; the p-value corrects like any other. :func:`verdicts` turns a
    corrected test of no change, the margin and the corrected TOST into changed / equivalent /
    inconclusive (used by compare, categories and compare-models).

Caveat: the t-test on skewed scores at corrected thresholds
    The t p-value is accurate near 0.05 but its extreme tail (the ~1e-4 level that BH / Holm
    use with hundreds of tests) is not, for skewed per-sentence scores: simulated 576 tests,
    n=200, gamma(shape 2) scores with the mean exactly at popmean: P(any rejection after BH)
    = 0.24 when H1 points to the long tail (e.g. left-skewed, "greater"), 0.17 two-sided,
    0.01 on the short-tail side (nominal 0.05). With skewed scores prefer the short-tail
    direction, larger n, or "wilcoxon"/"sign" (which test the pseudo-median / median).

Reproducibility
    Every resampling draws from ``np.random.default_rng(seed)``; the same call gives the same
    result. Bootstrap indices follow ``scipy.stats.bootstrap`` (see :mod:`.bootstrap`).
"""

from ..lazy import lazy_exports

# Imported on first use (PEP 562): the constants of ``table`` (CORRECTIONS, ...) are read by the
# options classes when ``headlens --help`` builds its flags, which must not import scipy.
_WHERE = {
    "CI_METHODS": ".bootstrap", "bootstrap_ci": ".bootstrap", "mean_ci": ".bootstrap",
    "shared_resampling": ".bootstrap",
    "McNemarResult": ".compare", "PairedBootstrapResult": ".compare", "mcnemar_exact": ".compare", "mcnemar_counts": ".compare",
    "paired_bootstrap": ".compare",
    "Family": ".correction", "correct": ".correction",
    "VERDICTS": ".equivalence", "bootstrap_tost_p": ".equivalence", "tost_p": ".equivalence",
    "tost_p_moments": ".equivalence", "verdicts": ".equivalence",
    "cohens_d": ".effects", "cohens_dz": ".effects", "rank_biserial": ".effects", "sign_effect": ".effects",
    "ALTERNATIVES": ".table", "CORRECTIONS": ".table", "NOT_ENOUGH_DATA": ".table", "OK": ".table",
    "STATUSES": ".table", "TESTS": ".table", "ZERO_VARIANCE": ".table", "TestTable": ".table",
    "one_sample": ".tests", "paired": ".tests", "ci_method_used": ".tests",
    "RatioComparison": ".ratio", "paired_ratio_bootstrap": ".ratio", "paired_ratio_normal": ".ratio",
}

__all__ = [
    "ALTERNATIVES", "CI_METHODS", "CORRECTIONS", "NOT_ENOUGH_DATA", "OK", "STATUSES", "TESTS",
    "VERDICTS", "tost_p", "tost_p_moments", "verdicts",
    "ZERO_VARIANCE", "Family", "McNemarResult", "PairedBootstrapResult", "TestTable",
    "bootstrap_ci", "cohens_d", "cohens_dz", "correct", "mcnemar_counts", "mcnemar_exact", "mean_ci", "one_sample",
    "paired", "paired_bootstrap", "paired_ratio_bootstrap", "paired_ratio_normal", "RatioComparison", "rank_biserial",
    "sign_effect", "ci_method_used", "shared_resampling",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
