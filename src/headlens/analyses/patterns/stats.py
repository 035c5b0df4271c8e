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
import numpy as np
import pyarrow as pa

from ...errors import ConfigError
from ...heads import all_heads, by_layer, head_labels, head_of
from .metrics import FEATURES, THRESHOLDS, TYPES, check_thresholds, classify
from ...store import Run, layout
from ..columns import ScoreColumns, layer_means
from ...store.outputs import write_outputs

ONE_HOT = tuple(f"pattern_is_{t}" for t in TYPES)
FEATURE_METRICS = tuple(f"pattern_{f}" for f in FEATURES)


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature undefined everywhere (segment of single sentences)
        return np.nanmean(x, axis=axis)


def _check(run: Run, changes: dict[str, float] | None) -> tuple[list[str], list[str], dict]:
    """(metrics to read, the run's features, the thresholds) for the stored types or, with
    ``changes``, the types reclassified from the stored features."""
    features = [m for m in FEATURE_METRICS if m in run.metrics]
    if changes is None:
        missing = [m for m in ONE_HOT if m not in run.metrics]
        if missing:
            raise ConfigError(f"run {run.path} has no pattern types; run it with --analyses patterns.")
        return [*ONE_HOT, *features], features, dict(THRESHOLDS)
    thresholds = check_thresholds(changes)
    if len(features) < len(FEATURE_METRICS):
        raise ConfigError(f"run {run.path} lacks the pattern features {sorted(set(FEATURE_METRICS) - set(features))}; "
                          "run it with --analyses patterns to classify with other thresholds.")
    return features, features, thresholds


def _one_hot_blocks(cols: ScoreColumns, reclassify: dict | None):
    """(first column, {one-hot metric: block}) over blocks of whole layers: the stored types, or the
    maps' types reclassified from the stored features with the thresholds ``reclassify``."""
    step = max(cols.heads, cols.step() // cols.heads * cols.heads)
    for start in range(0, cols.width, step):
        stop = min(cols.width, start + step)
        if reclassify is None:
            yield start, {m: cols.read(m, start, stop) for m in ONE_HOT}
            continue
        import torch  # only to reclassify with other thresholds (metrics.patterns.classify); reading needs none

        stacked = np.stack([cols.read(m, start, stop) for m in FEATURE_METRICS], axis=-1)  # [n, columns, 4]
        types = classify(torch.from_numpy(stacked), reclassify).numpy()
        missing = np.isnan(stacked[..., 0])
        yield start, {m: np.where(missing, np.nan, (types == k).astype(np.float64)) for k, m in enumerate(ONE_HOT)}


def _sums(run: Run, changes: dict[str, float] | None):
    """One scan of the store: per head and type the maps and their count, per layer the mean over
    sentences of the head mean, the sentences with a map, and the features' means per head."""
    metrics, features, used = _check(run, changes)
    heads, layers = int(run.manifest["model"]["num_heads"]), int(run.manifest["model"]["num_layers"])
    k = heads * layers
    hits, maps = np.zeros((k, len(TYPES))), np.zeros(k, np.int64)
    per_layer = np.full((layers, len(TYPES)), np.nan)
    feature_means = {m: np.full(k, np.nan) for m in features}
    with ScoreColumns(run, metrics) as cols:
        seen = np.zeros(cols.n, bool)
        for start, block in _one_hot_blocks(cols, used if changes is not None else None):
            stop = start + block[ONE_HOT[0]].shape[1]
            finite = np.isfinite(block[ONE_HOT[0]])
            seen |= finite.any(axis=1)
            maps[start:stop] = finite.sum(axis=0)
            for t, m in enumerate(ONE_HOT):
                hits[start:stop, t] = np.nansum(block[m], axis=0)
                per_layer[head_of(start, heads)[0]: head_of(stop, heads)[0], t] = _nanmean(layer_means(block[m], heads), 0)
        for m in features:
            for start, v in cols.blocks(m):
                feature_means[m][start:start + v.shape[1]] = _nanmean(v, 0)
    return hits, maps, per_layer, int(seen.sum()), feature_means, features, used


def pattern_tables(run: Run, thresholds: dict[str, float] | None = None) -> tuple[dict[str, pa.Table], dict]:
    """The tables of the run's pattern types; ``thresholds`` (changes to THRESHOLDS) reclassify every map
    from its stored features. The store is read once, a block of columns at a time."""
    hits, maps, per_layer, n, feature_means, features, used = _sums(run, thresholds)
    heads = int(run.manifest["model"]["num_heads"])
    layers = int(run.manifest["model"]["num_layers"])
    with np.errstate(invalid="ignore", divide="ignore"):
        share = hits / maps[:, None]  # [layers * heads, types]; the sums of 0/1 values are exact
        overall = hits.sum(0) / maps.sum()
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
        "n": pa.array(maps, pa.int32()),
        **{t: pa.array(share[:, k], pa.float64()) for k, t in enumerate(TYPES)},
        "majority": pa.array([str(m) for m in majority]),
    }
    for m in features:
        mean = feature_means[m]
        head_rows[m] = pa.array([None if not np.isfinite(x) else float(x) for x in mean], pa.float64())
    counts = {t: int(np.sum(majority == t)) for t in TYPES}
    params = {
        "types": list(TYPES), "thresholds": used, "changed_thresholds": dict(thresholds or {}),
        "rules": "metrics/patterns.py, docs/patterns.md",
        "sentences": n, "maps": int(maps.sum()),
        "distribution": {t: float(overall[k]) for k, t in enumerate(TYPES)},
        "majority_types": {"heads": layers * heads, "counts": counts,
                           "shares": {t: c / (layers * heads) for t, c in counts.items()}},
    }
    return {"layers": pa.table(layer_rows), "heads": pa.table(head_rows)}, params


def save_patterns(run: Run, thresholds: dict[str, float] | None = None, name: str = layout.DEFAULT_OUTPUT) -> str:
    tables, params = pattern_tables(run, thresholds)
    return write_outputs(run, "patterns", name, tables, params)
