"""The sweep's prediction parts: ``OUT/parts/batch-NNNNN.parquet``, one per batch of dev examples.

A part holds the predictions of the unablated model and of every ablation for its examples:
columns ``example`` (int32, the example's index in the dev file), ``ablation`` (int32, -1 for the
unablated model, then 0, 1, ... in the sweep's order) and ``pred`` (int16, the predicted class),
one block of rows per ablation, each block in the same example order. Parts are written
atomically (a part is whole or absent). No torch here: the statistics read the parts without it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ...errors import RunStoreError
from ...store.atomic import atomic_write_parquet

PARTS = "parts"
SCHEMA = pa.schema([("example", pa.int32()), ("ablation", pa.int32()), ("pred", pa.int16())])


def part_path(out: str, b: int) -> str:
    return os.path.join(out, PARTS, f"batch-{b:05d}.parquet")


def write_part(path: str, idx: np.ndarray, pred: np.ndarray) -> None:
    """Predictions ``pred`` [ablations + 1, len(idx)] (row 0 the unablated model) of examples ``idx``."""
    a = pred.shape[0]
    atomic_write_parquet(path, pa.table({
        "example": pa.array(np.tile(idx, a), pa.int32()),
        "ablation": pa.array(np.repeat(np.arange(-1, a - 1), len(idx)), pa.int32()),  # -1: the unablated model
        "pred": pa.array(pred.ravel(), pa.int16()),
    }))


def _load(path: str, n_ablations: int) -> tuple[np.ndarray, np.ndarray]:
    """(example ids [m], predictions [n_ablations + 1, m]) of one part; RunStoreError naming what is wrong."""
    try:
        t = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same message
        raise RunStoreError(f"{path}: the prediction part cannot be read ({e}); delete it and continue the sweep with "
                            "--resume, which computes it again.") from None
    if t.schema.remove_metadata() != SCHEMA:
        raise RunStoreError(f"{path}: the prediction part has columns {t.schema.names} of types "
                            f"{[str(f.type) for f in t.schema]}, not {SCHEMA.names} (int32, int32, int16); it was not "
                            "written by this sweep: delete it and continue the sweep with --resume.")
    rows = n_ablations + 1
    if t.num_rows == 0 or t.num_rows % rows:
        raise RunStoreError(f"{path}: {t.num_rows} rows are not {rows} blocks (the unablated model and "
                            f"{n_ablations} ablations) of equal size; delete it and continue the sweep with --resume.")
    m = t.num_rows // rows
    examples = t["example"].to_numpy().reshape(rows, m)
    ablations = t["ablation"].to_numpy().reshape(rows, m)
    if not ((examples == examples[0]).all() and (ablations == np.arange(-1, rows - 1)[:, None]).all()):
        raise RunStoreError(f"{path}: the blocks of the prediction part do not list the same examples for the "
                            f"ablations -1..{rows - 2} in order; delete it and continue the sweep with --resume.")
    return examples[0].astype(np.int64), t["pred"].to_numpy().reshape(rows, m)


def read_part(path: str, idx: np.ndarray, n_ablations: int) -> np.ndarray | None:
    """[n_ablations + 1, len(idx)] predictions of a finished part of examples ``idx``, None if unusable
    (the sweep computes it again)."""
    try:
        examples, pred = _load(path, n_ablations)
    except RunStoreError:
        return None
    return pred if len(examples) == len(idx) and (examples == idx).all() else None


def iter_parts(out: str, batches: int, n_ablations: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(example ids, predictions [n_ablations + 1, m]) of parts 0..batches-1, one at a time; a missing,
    unreadable or malformed part is a RunStoreError that names it."""
    for b in range(batches):
        path = part_path(out, b)
        if not os.path.exists(path):
            raise RunStoreError(f"{path}: the prediction part of batch {b} is missing; continue the sweep with "
                                "--resume, which computes it.")
        yield _load(path, n_ablations)
