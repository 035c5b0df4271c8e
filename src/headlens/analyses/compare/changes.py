"""Paired before/after tests of per-sentence scores, per head and per layer, in recorded families.

The input is, per metric, two matrices [sentences, layers * heads] over the SAME sentences in
the same row order (NaN = undefined for that sentence): a run and another run of the same
corpus, or two models scored on the same batches. For every metric and head, and for every
metric and layer (the per-sentence mean over the layer's heads, Jang et al.'s "head mean"), a
paired t-test of after - before (effect: Cohen's d_z, bootstrap CI of the mean difference)
and a distribution-free paired test (Wilcoxon signed-rank by default); each kind of test is
corrected across its family (all metrics x heads; all metrics x layers). A head or layer is
*significant* when both corrected tests reject, and *changed* when it is significant and its mean
difference exceeds the metric's margin (:mod:`.margins`); its direction is the sign of the mean
difference. A TOST of ``|after - before| < margin`` (:mod:`headlens.stats.equivalence`),
corrected across the same family, makes a head *equivalent*; ``verdict`` is changed, equivalent
or inconclusive. Identical scores give status "zero variance" with p = 1: never a change, and
equivalent (TOST p = 0) when the margin is above 0.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from ...errors import ConfigError
from ...heads import head_label, head_of, layer_label
from ...stats import Family, paired
from ..columns import layer_means, poisson_means  # noqa: F401 - categories and patterns import layer_means from here
from ...stats.poisson import PoissonMeans, large_ci
from ..roles.stats import _finite_or_none
from ...stats.equivalence import VERDICTS, tost_p, verdicts
from .margins import margins
from .options import ChangeSettings

DECISION = ("changed = corrected paired t and corrected distribution-free test both reject and |delta| > margin; "
            "equivalent = corrected TOST rejects |delta| >= margin; else inconclusive")


def _equivalence(before: np.ndarray, after: np.ndarray, before_mean: np.ndarray, metric: str,
                 s: ChangeSettings) -> dict[str, np.ndarray]:
    """Each column's margin and TOST p of |after - before| < margin."""
    margin = margins(metric, before_mean, s)
    return {"margin": margin, "p_equiv": tost_p(after - before, margin, s.min_n)}


@dataclass
class Changes:
    settings: ChangeSettings
    heads: pa.Table  # one row per metric x layer x head
    layers: pa.Table  # one row per metric x layer (head mean per sentence)
    families: dict

    def changed(self, level: str = "heads") -> list[dict]:
        table = self.heads if level == "heads" else self.layers
        return [r for r in table.to_pylist() if r["changed"]]


def _test_block(before: np.ndarray, after: np.ndarray, s: ChangeSettings) -> dict[str, np.ndarray]:
    t = paired(after, before, test="t", min_n=s.min_n, ci=s.ci, n_boot=s.n_boot, seed=s.seed, boot_max_n=s.boot_max_n)
    out = {"n": t.n, "delta": t.estimate, "ci_low": t.ci_low, "ci_high": t.ci_high, "effect": t.effect,
           "statistic": t.statistic, "p": t.p, "status": t.status}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out["before"], out["after"] = np.nanmean(before, axis=0), np.nanmean(after, axis=0)
    if s.distribution_free == "none":
        out["p_free"] = out["effect_free"] = np.full(len(t.p), np.nan)
    else:
        free = paired(after, before, test=s.distribution_free, min_n=s.min_n, n_boot=0, seed=s.seed)
        out["p_free"], out["effect_free"] = free.p, free.effect
    return out


def _blocks(pairs, heads: int, per_layer: bool):
    """(metric, first column, before, after): the matrices of ``pairs``, or the blocks a
    ``columns.PairedColumns`` reads one at a time (bounded memory)."""
    if hasattr(pairs, "blocks"):
        for metric in pairs.metrics:
            for start, before, after in pairs.blocks(metric, "layers" if per_layer else "heads"):
                yield metric, start, before, after
        return
    for metric, (before, after) in pairs.items():
        if per_layer:
            before, after = layer_means(before, heads), layer_means(after, heads)
        yield metric, 0, before, after


def _merged(boots: list) -> PoissonMeans:
    """One PoissonMeans with the columns of ``boots`` side by side (metric after metric)."""
    out = PoissonMeans(boots[0].n_boot, sum(b.columns for b in boots))
    out.s, out.w = np.hstack([b.s for b in boots]), np.hstack([b.w for b in boots])
    return out


def _level(pairs, heads: int, per_layer: bool, s: ChangeSettings, name: str) -> tuple[pa.Table, dict]:
    cols: dict[str, list] = {}
    for metric, start, before, after in _blocks(pairs, heads, per_layer):
        block = _test_block(before, after, s)
        block.update(_equivalence(before, after, block["before"], metric, s))
        k = before.shape[1]
        index = np.arange(start, start + k)
        block["metric"] = np.asarray([metric] * k, dtype=object)
        block["layer"] = index if per_layer else head_of(index, heads)[0]
        block["head"] = np.full(k, -1) if per_layer else head_of(index, heads)[1]
        for key, v in block.items():
            cols.setdefault(key, []).extend(list(v))
    if hasattr(pairs, "blocks") and len(pairs.sentence_ids) > s.boot_max_n:  # streamed: the Poisson bootstrap's CI
        boot = poisson_means(pairs, "layers" if per_layer else "heads", s.n_boot, s.seed)
        merged = _merged([boot[m] for m in pairs.metrics])
        cols["ci_low"], cols["ci_high"] = large_ci(cols["ci_low"], cols["ci_high"], cols["n"], cols["status"],
                                                   s.boot_max_n, merged, s.ci)
    labels = [layer_label(la) if h < 0 else head_label(la, h) for la, h in zip(cols["layer"], cols["head"])]
    members = [f"{m}/{lab}" for m, lab in zip(cols["metric"], labels)]
    fam = Family(f"{name}: paired t, after - before != 0", members, s.correction, s.alpha)
    q, reject = fam.apply(np.asarray(cols["p"], float))
    families = {"t": fam.to_dict()}
    q_free = np.full(len(q), np.nan)
    if s.distribution_free != "none":
        fam_f = Family(f"{name}: paired {s.distribution_free}, after - before != 0", members, s.correction, s.alpha)
        q_free, reject_free = fam_f.apply(np.asarray(cols["p_free"], float))
        families["distribution_free"] = fam_f.to_dict()
        reject = reject & reject_free
    fam_e = Family(f"{name}: TOST, |after - before| < margin", members, s.correction, s.alpha)
    q_equiv, equivalent = fam_e.apply(np.asarray(cols["p_equiv"], float))
    families["equivalence"] = fam_e.to_dict()
    delta = np.asarray(cols["delta"], float)
    verdict = verdicts(reject, np.abs(delta) > np.asarray(cols["margin"], float), equivalent)
    changed = verdict == "changed"
    direction = np.where(~changed, "", np.where(delta > 0, "up", "down"))
    table = pa.table({
        "metric": pa.array([str(m) for m in cols["metric"]]),
        "layer": pa.array([int(x) for x in cols["layer"]], pa.int32()),
        "head": pa.array([int(x) for x in cols["head"]], pa.int32()),
        "label": pa.array(labels),
        "n": pa.array([int(x) for x in cols["n"]], pa.int32()),
        **{f: pa.array(_finite_or_none([float(x) for x in cols[f]]), pa.float64())
           for f in ("before", "after", "delta", "ci_low", "ci_high", "effect", "statistic", "p", "p_free", "effect_free",
                     "margin", "p_equiv")},
        "q": pa.array(_finite_or_none([float(x) for x in q]), pa.float64()),
        "q_free": pa.array(_finite_or_none([float(x) for x in q_free]), pa.float64()),
        "q_equiv": pa.array(_finite_or_none([float(x) for x in q_equiv]), pa.float64()),
        "status": pa.array([str(x) for x in cols["status"]]),
        "significant": pa.array([bool(x) for x in reject]),
        "changed": pa.array([bool(x) for x in changed]),
        "verdict": pa.array([str(x) for x in verdict]),
        "direction": pa.array([str(x) for x in direction]),
    })
    return table, families


def paired_changes(pairs, heads: int, settings: ChangeSettings | None = None) -> Changes:
    """``pairs``: metric -> (before, after), each [sentences, layers * heads], rows paired; or a
    ``columns.PairedColumns`` (read block by block)."""
    s = settings or ChangeSettings()
    if not (pairs.metrics if hasattr(pairs, "blocks") else pairs):
        raise ConfigError("nothing to compare: no metric is shared by both sides.")
    for metric, (before, after) in ({} if hasattr(pairs, "blocks") else pairs).items():
        if before.shape != after.shape or before.shape[1] % heads:
            raise ValueError(f"{metric}: before {before.shape} and after {after.shape} are not paired [n, layers x {heads}]")
    head_table, head_fams = _level(pairs, heads, False, s, "heads")
    layer_table, layer_fams = _level(pairs, heads, True, s, "layers")
    return Changes(s, head_table, layer_table, {"heads": head_fams, "layers": layer_fams})


def settings_dict(s: ChangeSettings) -> dict:
    return asdict(s)


def summary(changes: Changes) -> dict:
    """Counts of changed heads and layers per metric and direction."""
    out: dict[str, dict] = {}
    for level in ("heads", "layers"):
        for r in changes.changed(level):
            d = out.setdefault(r["metric"], {"heads_up": 0, "heads_down": 0, "layers_up": 0, "layers_down": 0})
            d[f"{level}_{r['direction']}"] += 1
    return out


def verdicts_of(changes: Changes) -> dict[str, dict[str, int]]:
    """How many heads and layers have each verdict."""
    return {"heads": verdict_counts(changes.heads), "layers": verdict_counts(changes.layers)}


def verdict_counts(table: pa.Table) -> dict[str, int]:
    """How many rows of a heads or layers table have each verdict."""
    got = table.column("verdict").to_pylist()
    return {v: got.count(v) for v in VERDICTS}
