"""Statistics of an ablation sweep: per ablation and metric, the change with a CI and a paired test.

Per ablation (heads removed) and metric, over the dev examples, with ``delta = ablated - base``:

- accuracy: exact McNemar test on per-example correctness (``stats.mcnemar_exact``); the CI is
  the percentile bootstrap CI of the mean correctness difference (``stats.mean_ci``: one shared
  resampling of the examples for every ablation);
- F1 and MCC: paired bootstrap (``stats.paired_bootstrap``: CI and two-sided p from the same
  resamples of the examples for both predictions).

Above ``boot_max_n`` dev examples (issue 16: memory bounded in n) the table is computed in one
streamed pass over the sweep's parts (:class:`AblationSums`): McNemar's counts, the accuracy TOST
(the correctness differences take the values -1, 0, 1, so their moments are the discordant
counts) and every observed score stay exact; the accuracy CI and the F1 / MCC CI, p and TOST come
from the Poisson bootstrap of confusion matrices (``stats.poisson.PoissonConfusion``: weights keyed
by example id, so independent of the parts' size and order). At or below it the predictions (at
most ``boot_max_n`` examples) are gathered from the parts and tested as above, as before.

Each metric's p-values are corrected across the whole sweep (every ablation of the run) in one
recorded family (Benjamini-Hochberg by default). ``decision`` is ``helps`` when the corrected
test rejects and the metric went up without the heads by more than ``min_effect`` (the smallest
change worth reporting, as compare's margin), ``hurts`` when it went down by more than that,
``none`` otherwise (``significant`` says whether the corrected test rejected).

Equivalence (issue 16, as ``headlens compare``): ``min_effect`` is also each metric's *margin*, an
absolute margin in the metric's own units (accuracy, F1 and MCC are proportions: compare's "mass"
scale, ``analyses/compare/margins.py``, with the same default 0.01). A TOST of
``|ablated - base| < margin`` per ablation, corrected across the sweep in its own family, makes an
ablation *equivalent*: for accuracy the two one-sided t-tests of the per-example correctness
differences (``stats.tost_p``); for F1 and MCC the bootstrap TOST from the paired bootstrap's own
resamples (``stats.bootstrap_tost_p``). ``verdict`` is ``changed`` (the decision is helps or
hurts), ``equivalent`` (the corrected TOST rejects) or ``inconclusive``; below ``min_n`` examples it
is always ``inconclusive``.

The sweep's ``detectable`` accuracy change: an ablation that changes fewer than
``k = ceil(log2(2 m / alpha))`` predictions (m tests in the family; m = 1 without correction)
cannot reach the corrected level even when every change goes the same way (exact McNemar's
smallest p with d discordant examples is 2 * 0.5**d, and the first rejection of BH, Holm or
Bonferroni needs p <= alpha / m); ``k / n`` is the smallest accuracy change the sweep can
detect at all.

``underpowered`` (the data cannot support a finding either way) is set when

- the dev set has fewer than ``min_n`` examples: no decision is made at all; or
- the test does not reject and either the CI still contains both -min_effect and +min_effect,
  or the sweep cannot detect an accuracy change of min_effect at all (k / n > min_effect): a
  harm or a gain of that size (default 0.01, one point of accuracy, the size of the single-head
  effects Kovaleva et al. report) could not be told from no change.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pyarrow as pa

from ...stats import Family, mcnemar_exact, mean_ci, paired_bootstrap, tost_p, verdicts
from ...stats.confusion import SCORES, confusion
from .options import AblationStats
from .spec import Ablation
from .streamed import EXACT_TEST, POISSON_TEST, AblationSums, ci_method

DECISIONS = ("helps", "hurts", "none")


def detectable(n: int, tests: int, alpha: float, correction: str = "fdr_bh") -> tuple[int, float]:
    """(k, k / n): fewest changed predictions an exact McNemar test can find among ``tests`` (see above)."""
    m = 1 if correction == "none" else max(tests, 1)
    k = math.ceil(math.log2(2 * m / alpha))
    return k, k / n


def _metric_fn(metric: str, n_classes: int):
    return lambda y, p: SCORES[metric](confusion(y, p, n_classes))


def _tests(metric: str, y: np.ndarray, base: np.ndarray, preds: np.ndarray, n_classes: int, s: AblationStats) -> dict:
    """The exact path (n <= boot_max_n): the whole predictions in memory, resampled."""
    a = len(preds)
    if metric == "accuracy":
        ok_base, ok = base == y, preds == y[None, :]
        tests = [mcnemar_exact(ok_base, ok[k]) for k in range(a)]
        diff = (ok.astype(np.float64) - ok_base).T
        low, high = mean_ci(diff, s.ci, s.n_boot, s.seed)
        return {"base": np.full(a, ok_base.mean()), "ablated": ok.mean(1), "delta": np.asarray([t.estimate for t in tests]),
                "ci_low": low, "ci_high": high, "p": np.asarray([t.p for t in tests]),
                "p_equiv": tost_p(diff, s.min_effect, min_n=1)}
    fn = _metric_fn(metric, n_classes)
    res = [paired_bootstrap(y, base, preds[k], fn, s.n_boot, s.seed, s.ci, margin=s.min_effect) for k in range(a)]
    return {f: np.asarray([getattr(r, name) for r in res], dtype=np.float64)
            for f, name in (("base", "metric_a"), ("ablated", "metric_b"), ("delta", "estimate"), ("ci_low", "ci_low"),
                            ("ci_high", "ci_high"), ("p", "p"), ("p_equiv", "p_equiv"))}


def ablation_table(y, base_pred, preds, ablations: list[Ablation], mode: str, n_classes: int,
                   stats: AblationStats) -> tuple[pa.Table, dict]:
    """One row per ablation and metric from predictions in memory (one part); returns (table,
    {metric: family record})."""
    y = np.asarray(y, dtype=np.int64)
    pred = np.vstack([np.asarray(base_pred, dtype=np.int64)[None, :],
                      np.asarray(preds, dtype=np.int64).reshape(len(ablations), len(y))])
    return parts_table([(np.arange(len(y)), pred)], y, ablations, mode, n_classes, stats)


def parts_table(parts: Iterable[tuple[np.ndarray, np.ndarray]], y, ablations: list[Ablation], mode: str,
                n_classes: int, stats: AblationStats) -> tuple[pa.Table, dict]:
    """:func:`ablation_table` from the sweep's parts (example ids, predictions [ablations + 1, m], row 0
    the unablated model), read once, in any order and size, with ``y`` the dev labels by example id."""
    y = np.asarray(y, dtype=np.int64)
    return sums_table(AblationSums(len(y), len(ablations), n_classes, stats).read(parts, y), y, ablations, mode,
                      n_classes, stats)


def sums_table(sums: AblationSums, y: np.ndarray, ablations: list[Ablation], mode: str, n_classes: int,
               stats: AblationStats) -> tuple[pa.Table, dict]:
    """:func:`parts_table` from the parts' sums (read)."""
    n = sums.n
    worse, better, flipped = sums.worse, sums.better, sums.flipped
    blind = detectable(n, len(ablations), stats.alpha, stats.correction)[1] > stats.min_effect
    method = "exact McNemar" if sums.exact else f"exact McNemar; CI {ci_method(n, stats)}"
    test = EXACT_TEST if sums.exact else POISSON_TEST
    cols: dict[str, list] = {}
    families = {}
    for metric in stats.metrics:
        t = _tests(metric, y, sums.kept[0], sums.kept[1:], n_classes, stats) if sums.exact else sums.tests(metric)
        fam = Family(f"ablation sweep ({mode}): {metric}, ablated - base != 0 "
                     f"({method if metric == 'accuracy' else test.replace('_', ' ')})",
                     [a.label for a in ablations], stats.correction, stats.alpha)
        q, reject = fam.apply(t["p"])
        families[metric] = fam.to_dict()
        fam_e = Family(f"ablation sweep ({mode}): {metric}, TOST |ablated - base| < {stats.min_effect:g}",
                       [a.label for a in ablations], stats.correction, stats.alpha)
        q_equiv, equivalent = fam_e.apply(t["p_equiv"])
        families[f"{metric} equivalence"] = fam_e.to_dict()
        small = n < stats.min_n
        significant = reject & (not small)
        beyond = np.abs(t["delta"]) > stats.min_effect
        decision = np.where(~significant | ~beyond, "none", np.where(t["delta"] > 0, "helps", "hurts"))
        verdict = verdicts(significant, beyond, equivalent & (not small))
        inconclusive = (decision == "none") & (blind | ((t["ci_low"] < -stats.min_effect) & (t["ci_high"] > stats.min_effect)))
        block = {
            "kind": [a.kind for a in ablations], "layer": [a.layer for a in ablations], "head": [a.head for a in ablations],
            "label": [a.label for a in ablations], "mode": [mode] * len(ablations), "metric": [metric] * len(ablations),
            "test": ["mcnemar_exact" if metric == "accuracy" else test] * len(ablations),
            "ci_method": [ci_method(n, stats)] * len(ablations),
            "n": [n] * len(ablations), **{k: list(v) for k, v in t.items()}, "q": list(q),
            "margin": [stats.min_effect] * len(ablations), "q_equiv": list(q_equiv),
            "significant": list(significant), "decision": list(decision), "verdict": list(verdict),
            "underpowered": list(small | inconclusive),
            "flipped": list(flipped), "worse": list(worse), "better": list(better),
        }
        for k, v in block.items():
            cols.setdefault(k, []).extend(v)
    floats = ("base", "ablated", "delta", "ci_low", "ci_high", "p", "q", "p_equiv", "margin", "q_equiv")
    ints = ("layer", "head", "n", "flipped", "worse", "better")
    table = pa.table({
        k: pa.array([None if not np.isfinite(x) else float(x) for x in v], pa.float64()) if k in floats
        else pa.array([int(x) for x in v], pa.int32()) if k in ints
        else pa.array([bool(x) for x in v]) if k in ("significant", "underpowered") else pa.array([str(x) for x in v])
        for k, v in cols.items()})
    return table, families
