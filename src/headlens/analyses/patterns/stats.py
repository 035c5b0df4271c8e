"""Pattern-type distributions of a run (Kovaleva et al. 2019): per layer, per head, and over the whole run.

A run with ``--analyses patterns`` has, per sentence and head, the four map features and the
one-hot type of the map (see :mod:`headlens.metrics.patterns`). Its finalizer leaves in
``RUN/patterns/default/``:

- ``layers.parquet``: per layer, the share of maps (heads x sentences) of each type and the
  number of heads whose majority type it is (``heads_<type>``), and a row with ``layer = -1``
  for the whole model (Kovaleva et al.'s per-task distribution);
- ``heads.parquet``: per head, the share of its maps of each type, its majority type, and the
  mean of each feature;
- ``params.json``: the thresholds, the overall distribution, the distribution of the heads'
  majority types, and the counts.

``headlens patterns RUN --set NAME=VALUE`` classifies the stored features again with other
thresholds (``RUN/patterns/<name>/``), without running the model.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pyarrow as pa

from ...errors import ConfigError
from ...heads import all_heads, by_layer, head_labels
from .metrics import FEATURES, THRESHOLDS, TYPES, check_thresholds, classify
from ...store import Run, layout
from ..compare.changes import layer_means
from ..matrix import score_matrices
from ...store.outputs import write_outputs

ONE_HOT = tuple(f"pattern_is_{t}" for t in TYPES)
FEATURE_METRICS = tuple(f"pattern_{f}" for f in FEATURES)


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature undefined everywhere (segment of single sentences)
        return np.nanmean(x, axis=axis)


def _one_hots(run: Run, changes: dict[str, float] | None) -> tuple[dict, list[str], dict]:
    """The maps' one-hot types (stored, or reclassified from the stored features with ``changes``)."""
    features = [m for m in FEATURE_METRICS if m in run.metrics]
    if changes is None:
        missing = [m for m in ONE_HOT if m not in run.metrics]
        if missing:
            raise ConfigError(f"run {run.path} has no pattern types; run it with --analyses patterns.")
        return score_matrices(run, [*ONE_HOT, *features]), features, dict(THRESHOLDS)
    thresholds = check_thresholds(changes)
    if len(features) < len(FEATURE_METRICS):
        raise ConfigError(f"run {run.path} lacks the pattern features {sorted(set(FEATURE_METRICS) - set(features))}; "
                          "run it with --analyses patterns to classify with other thresholds.")
    import torch  # only to reclassify with other thresholds (metrics.patterns.classify); reading needs none

    mats = score_matrices(run, features)
    stacked = np.stack([mats[m].values for m in FEATURE_METRICS], axis=-1)  # [n, layers * heads, 4]
    types = classify(torch.from_numpy(stacked), thresholds).numpy()
    missing = np.isnan(stacked[..., 0])
    for k, m in enumerate(ONE_HOT):
        values = np.where(missing, np.nan, (types == k).astype(np.float64))
        mats[m] = replace(mats[FEATURE_METRICS[0]], metric=m, values=values)
    return mats, features, thresholds


def pattern_tables(run: Run, thresholds: dict[str, float] | None = None) -> tuple[dict[str, pa.Table], dict]:
    """The tables of the run's pattern types; ``thresholds`` (changes to THRESHOLDS) reclassify every map
    from its stored features."""
    mats, features, used = _one_hots(run, thresholds)
    heads = int(run.manifest["model"]["num_heads"])
    layers = int(run.manifest["model"]["num_layers"])
    share = np.stack([_nanmean(mats[m].values, 0) for m in ONE_HOT], axis=1)  # [layers * heads, types]
    n = int(np.sum(np.isfinite(mats[ONE_HOT[0]].values).any(axis=1)))
    per_layer = np.stack([_nanmean(layer_means(mats[m].values, heads), 0) for m in ONE_HOT], axis=1)  # [layers, types]
    overall = np.stack([_nanmean(mats[m].values.ravel(), 0) for m in ONE_HOT])
    majority = np.asarray(TYPES, dtype=object)[np.argmax(share, axis=1)]
    layer_rows = {"layer": pa.array([*range(layers), -1], pa.int32()), "n_sentences": pa.array([n] * (layers + 1), pa.int32())}
    for k, t in enumerate(TYPES):
        layer_rows[t] = pa.array([*per_layer[:, k], overall[k]], pa.float64())
    for t in TYPES:  # heads whose majority type is t, per layer and in all
        per = [int(n) for n in np.sum(by_layer(majority, heads) == t, axis=1)]
        layer_rows[f"heads_{t}"] = pa.array([*per, sum(per)], pa.int32())
    head_rows = {
        "layer": pa.array(all_heads(layers, heads)[0], pa.int32()),
        "head": pa.array(all_heads(layers, heads)[1], pa.int32()),
        "label": pa.array(head_labels(layers, heads)),
        "n": pa.array(np.sum(np.isfinite(mats[ONE_HOT[0]].values), axis=0), pa.int32()),
        **{t: pa.array(share[:, k], pa.float64()) for k, t in enumerate(TYPES)},
        "majority": pa.array([str(m) for m in majority]),
    }
    for m in features:
        mean = _nanmean(mats[m].values, 0)
        head_rows[m] = pa.array([None if not np.isfinite(x) else float(x) for x in mean], pa.float64())
    counts = {t: int(np.sum(majority == t)) for t in TYPES}
    params = {
        "types": list(TYPES), "thresholds": used, "changed_thresholds": dict(thresholds or {}),
        "rules": "metrics/patterns.py, docs/patterns.md",
        "sentences": n, "maps": int(np.sum(np.isfinite(mats[ONE_HOT[0]].values))),
        "distribution": {t: float(overall[k]) for k, t in enumerate(TYPES)},
        "majority_types": {"heads": layers * heads, "counts": counts,
                           "shares": {t: c / (layers * heads) for t, c in counts.items()}},
    }
    return {"layers": pa.table(layer_rows), "heads": pa.table(head_rows)}, params


def save_patterns(run: Run, thresholds: dict[str, float] | None = None, name: str = layout.DEFAULT_OUTPUT) -> str:
    tables, params = pattern_tables(run, thresholds)
    return write_outputs(run, "patterns", name, tables, params)
