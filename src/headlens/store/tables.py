"""Arrow schemas of the run tables (tidy long form) and their builders.

Layers and heads are stored 0-based; ``label`` columns and every display show them 1-based
("L8H11" = layer 8, head 11), as the papers do (docs/conventions.md).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..heads import head_label

# The store format of a run (manifest "format_version"): 1 stored score values as float64 (runs
# made before issue 16); 2 stores them in the precision the engine computes them in (manifest
# "score_dtype": float32, or float64 for a --dtype float64 model), so nothing is rounded and a
# float32 store is about a third smaller. Readers read both; every reader widens values to float64.
STORE_FORMAT = 2
SCORE_DTYPES = {"float32": pa.float32(), "float64": pa.float64()}


def score_dtype(manifest: dict) -> str:
    """The type of the stored score values of the run whose manifest is ``manifest``."""
    return manifest.get("score_dtype", "float64")  # format 1 (no such key): float64


def scores_schema(dtype: str = "float32") -> pa.Schema:
    """The schema of the score parts whose values are of type ``dtype`` (float32, float64)."""
    return pa.schema(
        [
            pa.field("sentence_id", pa.int64(), metadata={"doc": "0-based position of the item in the corpus"}),
            pa.field("layer", pa.int16(), metadata={"doc": "0-based layer"}),
            pa.field("head", pa.int16(), metadata={"doc": "0-based head"}),
            pa.field("metric", pa.dictionary(pa.int16(), pa.string()), metadata={"doc": "metric name"}),
            pa.field("value", SCORE_DTYPES[dtype], metadata={"doc": "the metric for this sentence and head"}),
        ]
    )


SCORES_SCHEMA = scores_schema()

# The scores are the bulk of a run: lz4, and dictionaries only for the key columns (a
# dictionary of float values costs a hash per value and is then abandoned): half the write time
# of zstd with default dictionaries, and a smaller file.
SCORES_WRITE_OPTIONS = {"compression": "lz4", "use_dictionary": ["sentence_id", "layer", "head", "metric"]}

SENTENCES_SCHEMA = pa.schema(
    [
        pa.field("sentence_id", pa.int64()),
        pa.field("source", pa.string(), metadata={"doc": "file:line where the item starts"}),
        pa.field("sent_id", pa.string(), metadata={"doc": "the corpus's own id (CoNLL-U sent_id), if any"}),
        pa.field("text", pa.string(), metadata={"doc": "the text, verbatim"}),
        pa.field("text_b", pa.string(), metadata={"doc": "second text of a pair, verbatim"}),
        pa.field("label", pa.string()),
        pa.field("status", pa.string(), metadata={"doc": "'analysed' or 'skipped'"}),
        pa.field("reason", pa.string(), metadata={"doc": "why it was skipped"}),
        pa.field("n_tokens", pa.int32()),
        pa.field("n_words", pa.int32(), metadata={"doc": "words that received at least one sub-token"}),
        pa.field("words_without_tokens", pa.int32()),
        pa.field("truncated", pa.bool_()),
        pa.field("windows", pa.int32(), metadata={"doc": "number of windows (--long window), 1 for a whole sentence"}),
    ]
)


def scores_table(sentence_ids: np.ndarray, values: np.ndarray, metric_names: list[str],
                 schema: pa.Schema = SCORES_SCHEMA) -> pa.Table:
    """Long-form rows from ``values[B, M, L, H]``; NaN cells (undefined) produce no row. Values are
    stored in ``schema``'s value type (the engine's compute precision: a cast that rounds nothing)."""
    b, m, layers, heads = values.shape
    ok = np.isfinite(values)
    bi, mi, li, hi = np.nonzero(ok)
    metric = pa.DictionaryArray.from_arrays(pa.array(mi.astype(np.int16)), pa.array(metric_names, pa.string()))
    return pa.Table.from_arrays(
        [
            pa.array(np.asarray(sentence_ids, dtype=np.int64)[bi]),
            pa.array(li.astype(np.int16)),
            pa.array(hi.astype(np.int16)),
            metric,
            pa.array(values[ok].astype(schema.field("value").type.to_pandas_dtype(), copy=False)),
        ],
        schema=schema,
    )


def heads_table(moments, metric_names: list[str], metric_levels: list[str]) -> pa.Table:
    """Per (metric, layer, head) summary from a Moments of shape [M, L, H]."""
    m, layers, heads = moments.shape
    mi, li, hi = (a.ravel() for a in np.meshgrid(np.arange(m), np.arange(layers), np.arange(heads), indexing="ij"))
    count = moments.count.ravel()
    has = count > 0
    return pa.table(
        {
            "metric": pa.array([metric_names[i] for i in mi]),
            "level": pa.array([metric_levels[i] for i in mi]),
            "layer": pa.array(li.astype(np.int16)),
            "head": pa.array(hi.astype(np.int16)),
            "label": pa.array([head_label(int(a), int(b)) for a, b in zip(li, hi)]),
            "count": pa.array(count),
            "mean": pa.array(np.where(has, moments.mean.ravel(), np.nan), from_pandas=True),
            "std": pa.array(moments.std.ravel(), from_pandas=True),
            "min": pa.array(np.where(has, moments.min.ravel(), np.nan), from_pandas=True),
            "max": pa.array(np.where(has, moments.max.ravel(), np.nan), from_pandas=True),
        }
    )
