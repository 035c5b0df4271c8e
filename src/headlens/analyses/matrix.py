"""Per-sentence scores of a run as matrices: one row per sentence, one column per (layer, head)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from ..heads import head_index
from ..store import Run, layout


@dataclass(frozen=True)
class ScoreMatrix:
    metric: str
    sentence_ids: np.ndarray  # int64 [n]: the run's analysed sentences, ascending
    values: np.ndarray  # float64 [n, layers * heads]; NaN where the metric is undefined for a sentence
    layers: int
    heads: int

    def column(self, layer: int, head: int) -> np.ndarray:
        return self.values[:, head_index(layer, head, self.heads)]


def score_matrices(run: Run, metrics: list[str]) -> dict[str, ScoreMatrix]:
    """One scan of the run's score parts for all ``metrics`` (rows: every sentence that has any score)."""
    model = run.manifest["model"]
    layers, heads = int(model["num_layers"]), int(model["num_heads"])
    dataset = run.dataset(layout.SCORES)  # the committed parts, checked against their checksums
    table = run._read(dataset.files, lambda: dataset.to_table(filter=ds.field("metric").isin(metrics),
                                                              columns=["sentence_id", "layer", "head", "metric", "value"]))
    codes = pc.index_in(table["metric"], value_set=pa.array(metrics)).to_numpy(zero_copy_only=False)
    sentence = table["sentence_id"].to_numpy()
    column = head_index(table["layer"].to_numpy().astype(np.int64), table["head"].to_numpy(), heads)
    value = table["value"].to_numpy()
    present = np.bincount(sentence) > 0 if len(sentence) else np.zeros(0, bool)  # ids are small: no sort
    sids = np.flatnonzero(present).astype(np.int64)
    row_of = np.cumsum(present) - 1
    values = np.full((len(metrics), len(sids), layers * heads), np.nan)
    values[codes, row_of[sentence], column] = value  # one scatter for all metrics
    return {metric: ScoreMatrix(metric, sids, values[k], layers, heads) for k, metric in enumerate(metrics)}
