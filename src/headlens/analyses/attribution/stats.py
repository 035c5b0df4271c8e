"""The statistics step of ``--analyses attribution``, over a stored run (never the model).

Tables (``RUN/attribution/<name>/``):

- ``layers``: per method, statistic and layer, the mean over sentences with a bootstrap CI (``ci``, ``n_boot``);
- ``agreement``: per pair of methods and layer, the mean over sentences of the per-sentence agreement (mean
  Spearman rho between the rolled-out rows), with a bootstrap CI; the matrix of the report;
- ``methods``: per statistic, layer and pair of methods, a paired t-test over sentences of method a - method b
  (mean difference, its CI, Cohen's d_z), corrected across the family of every pair x statistic x layer.

Two runs (a base and a fine-tuned model) are compared by ``headlens compare`` like any other metrics: the
attribution metrics hold one number per sentence and layer (head slot 1, see ``metrics.py``).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pyarrow as pa

from ...errors import ConfigError
from ...stats import Family, one_sample, paired
from ...store import Run
from ...store.outputs import write_outputs
from ..matrix import score_matrices
from .names import ANALYSIS, METHODS, STATS, agree_metric, pairs, stat_metric
from .options import AttributionSettings


def run_methods(run: Run) -> list[str]:
    """The methods a run computed (from its metrics)."""
    have = set(run.metrics)
    methods = [m for m in METHODS if stat_metric(m, "self") in have]
    if not methods:
        raise ConfigError(f"{run.path} has no attribution metrics: make it with headlens run --analyses attribution.")
    return methods


def per_layer(run: Run, metrics: list[str]) -> dict[str, np.ndarray]:
    """metric -> [sentences, layers]: the per-sentence, per-layer values (head slot 0 of each layer)."""
    mats = score_matrices(run, metrics)
    return {m: s.values[:, ::s.heads] for m, s in mats.items()}


def _means(values: np.ndarray, s: AttributionSettings) -> dict[str, np.ndarray]:
    t = one_sample(values, test="t", alternative="two-sided", min_n=2, ci=s.ci, n_boot=s.n_boot, seed=s.seed)
    return {"n": t.n, "mean": t.estimate, "ci_low": t.ci_low, "ci_high": t.ci_high}


def _rows(keys: dict[str, object], block: dict[str, np.ndarray]) -> list[dict]:
    k = len(next(iter(block.values())))
    return [{**keys, "layer": layer, **{c: (int(v[layer]) if c == "n" else float(v[layer])) for c, v in block.items()}}
            for layer in range(k)]


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows) if rows else pa.table({})


def attribution(run: Run, settings: AttributionSettings | None = None) -> dict[str, pa.Table]:
    s = settings or AttributionSettings()
    methods = run_methods(run)
    names = [stat_metric(m, st) for m in methods for st in STATS] + [agree_metric(a, b) for a, b in pairs(methods)]
    values = per_layer(run, names)
    layers = [r for m in methods for st in STATS
              for r in _rows({"method": m, "stat": st}, _means(values[stat_metric(m, st)], s))]
    agree = [r for a, b in pairs(methods) for r in _rows({"a": a, "b": b}, _means(values[agree_metric(a, b)], s))]
    tests = []
    for a, b in pairs(methods):
        for st in STATS:
            t = paired(values[stat_metric(a, st)], values[stat_metric(b, st)], test="t", min_n=s.min_n, ci=s.ci,
                       n_boot=s.n_boot, seed=s.seed)
            block = {"n": t.n, "delta": t.estimate, "ci_low": t.ci_low, "ci_high": t.ci_high, "effect": t.effect,
                     "p": t.p}
            tests += _rows({"a": a, "b": b, "stat": st}, block)
    fam = Family("attribution: paired t, method a - method b != 0",
                 [f"{r['a']}-{r['b']}/{r['stat']}/L{r['layer'] + 1}" for r in tests], s.correction, s.alpha)
    q, reject = fam.apply(np.asarray([r["p"] for r in tests], float))
    for r, qv, rej in zip(tests, q, reject):
        r["q"], r["reject"] = float(qv), bool(rej)
    return {"layers": _table(layers), "agreement": _table(agree), "methods": _table(tests), "family": fam.to_dict(),
            "settings": s}


def save_attribution(run: Run, result: dict) -> str:
    tables = {k: v for k, v in result.items() if isinstance(v, pa.Table)}
    params = {"settings": asdict(result["settings"]), "family": result["family"]}
    return write_outputs(run, ANALYSIS, result["settings"].name, tables, params)


def finalize(run: Run) -> str:
    """The default summary of a finished ``--analyses attribution`` run, saved under RUN/attribution/default/."""
    return save_attribution(run, attribution(run))
