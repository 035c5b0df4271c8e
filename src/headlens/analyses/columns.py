"""A run's per-sentence scores as columns on disk: one scan of the score parts, then column blocks.

The statistics steps test every (metric, head) column over all sentences. Holding all of them at
once (``matrix.score_matrices``: metrics x sentences x heads float64) grows with the corpus; here
the score parts are read ONCE, part by part, and each part's values are written to one file per
metric in a temporary folder, laid out column by column ([columns, sentences], the run's value
type). A statistic then reads one block of columns at a time (:meth:`ScoreColumns.blocks`,
``BLOCK_BYTES`` of float64), rows in ascending sentence id, exactly the values ``score_matrices``
gives. Memory: one part's values (metrics x part size x heads) and one block, whatever the
number of sentences. Per-sentence layer means (each sentence's mean over a layer's heads) are
computed part by part in the same scan when asked for (``layers=True``).

The rows are the run's analysed sentences (its sentence parts); the scan checks them against
the manifest's count and each score part against its sentence part, so that the statistics are
never computed over fewer sentences than the run analysed: a missing, unreadable or
schema-mismatched part is a RunStoreError that names the file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import RunStoreError
from ..heads import by_layer, head_index
from ..stats.poisson import PoissonMeans, poisson_weights
from ..store import Run, layout

BLOCK_BYTES = 16 << 20  # float64 values of one block of columns handed to a statistic
_BATCH_ROWS = 1 << 20  # long-form score rows decoded at a time
_KEY_COLUMNS = ["sentence_id", "layer", "head", "metric", "value"]


def layer_means(values: np.ndarray, heads: int) -> np.ndarray:
    """[n, layers * heads] -> [n, layers]: each sentence's mean over a layer's heads (NaN if none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: the metric is undefined there
        return np.nanmean(by_layer(values, heads), axis=2)


def _damaged(run: Run, path: str, what: str) -> RunStoreError:
    return RunStoreError(f"cannot read run {run.path}: {path} {what}. Nothing was computed from it; "
                         f"`headlens runs verify {run.path}` checks every file, and `headlens run ... --out {run.path} "
                         "--resume` recomputes damaged parts.")


def _read_parquet(run: Run, path: str, read):
    try:
        return read()
    except FileNotFoundError as e:
        raise _damaged(run, path, "is missing") from e
    except (pa.ArrowException, OSError) as e:
        raise _damaged(run, path, f"cannot be read ({e})") from e


def _parts(run: Run) -> list[tuple[int, str | None, np.ndarray]]:
    """(part number, score part path or None, sorted analysed sentence ids) of every committed part, in
    part order."""
    sentences = {layout.part_number(p): p for p in run._files(layout.SENTENCES)}
    scores = {layout.part_number(p): p for p in run._files(layout.SCORES)}
    out = []
    for number in sorted(sentences):
        path = sentences[number]
        table = _read_parquet(run, path, lambda: pq.read_table(path, columns=["sentence_id", "status"]))
        ids = np.sort(table.filter(pc.equal(table["status"], "analysed"))["sentence_id"].to_numpy())
        if len(ids) and number not in scores:
            raise _damaged(run, layout.part_path(run.path, layout.SCORES, number),
                           f"is missing, though {path} lists {len(ids)} analysed sentences")
        out.append((number, scores.get(number), ids))
    extra = sorted(set(scores) - set(sentences))
    if extra:
        raise _damaged(run, scores[extra[0]], "has no sentence part: the run directory is inconsistent")
    return out


class ColumnFiles:
    """Per-sentence values of ``metrics`` as column files in a temporary folder ([columns, sentences]
    each): written by rows (:meth:`write_rows`), read by blocks of columns. ``order``: the sentence
    id of each row, in the order the rows are written; reads give rows in ascending sentence id.
    Use as a context manager (the files are removed on exit)."""

    def __init__(self, metrics: list[str], layers: int, heads: int, dtype, order: np.ndarray, with_layers: bool = False):
        self.metrics, self.with_layers = list(dict.fromkeys(metrics)), with_layers
        self.layers, self.heads = int(layers), int(heads)
        self.width = self.layers * self.heads
        self.dtype = np.dtype(dtype)
        self.n = len(order)
        self._inv = None if np.all(order[1:] > order[:-1]) else np.argsort(order, kind="stable")
        self.sentence_ids = order if self._inv is None else order[self._inv]
        self.folder = tempfile.mkdtemp(prefix="headlens-columns-")
        self._fds: dict[tuple[str, str], int] = {}
        self.reads = 0  # blocks read: a statistic holds one block of columns at a time

    # -- writing -----------------------------------------------------------------------------
    def _fd(self, metric: str, level: str) -> int:
        key = (metric, level)
        if key not in self._fds:
            path = os.path.join(self.folder, f"{len(self._fds)}.{level}")
            self._fds[key] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        return self._fds[key]

    def write(self, metric: str, level: str, start: int, block: np.ndarray) -> None:
        """Rows ``start .. start + len(block)`` of every column of ``block`` [rows, columns] (level
        "heads": the run's value type; any other level: float64, e.g. a collector's counts)."""
        block = np.asarray(block, dtype=self.dtype if level == "heads" else np.float64)
        fd, size = self._fd(metric, level), block.dtype.itemsize
        columns = np.ascontiguousarray(block.T)
        for k in range(columns.shape[0]):
            os.pwrite(fd, memoryview(columns[k]).cast("B"), (k * self.n + start) * size)

    def write_rows(self, start: int, values: np.ndarray) -> None:
        """Rows ``start ..`` of every metric, ``values`` [metrics, rows, columns]; with their per-sentence
        layer means when ``with_layers``."""
        for m, metric in enumerate(self.metrics):
            self.write(metric, "heads", start, values[m])
            if self.with_layers:
                self.write(metric, "layers", start, layer_means(np.asarray(values[m], dtype=np.float64), self.heads))

    # -- reading -----------------------------------------------------------------------------
    def read(self, metric: str, start: int, stop: int, level: str = "heads") -> np.ndarray:
        """float64 [sentences, stop - start]: columns ``start:stop`` of ``metric`` (``level`` "layers":
        the per-sentence layer means), rows in ascending sentence id, NaN where undefined."""
        dtype = self.dtype if level == "heads" else np.dtype(np.float64)
        fd = self._fds[(metric, level)]
        self.reads += 1
        raw = os.pread(fd, (stop - start) * self.n * dtype.itemsize, start * self.n * dtype.itemsize)
        block = np.frombuffer(raw, dtype=dtype).reshape(stop - start, self.n).T
        return np.asarray(block if self._inv is None else block[self._inv], dtype=np.float64, order="C")

    def rows(self, metric: str, rows: np.ndarray, level: str = "heads") -> np.ndarray:
        """float64 [len(rows), columns]: rows ``rows`` (positions in ascending sentence id, ascending) of
        every column of ``metric``; one read per column of the stored range that holds them."""
        dtype = self.dtype if level == "heads" else np.dtype(np.float64)
        width = self.level_width(level)
        stored = rows if self._inv is None else self._inv[rows]
        lo, hi = int(stored.min()), int(stored.max()) + 1
        fd, size = self._fds[(metric, level)], dtype.itemsize
        out = np.empty((len(rows), width))
        for k in range(width):
            raw = os.pread(fd, (hi - lo) * size, (k * self.n + lo) * size)
            out[:, k] = np.frombuffer(raw, dtype=dtype)[stored - lo]
        return out

    def level_width(self, level: str) -> int:
        """Columns of a metric at ``level``: heads, or layers (the per-sentence layer means)."""
        return self.width if level == "heads" else self.layers

    def step(self, n: int | None = None) -> int:
        """Columns per block: ``BLOCK_BYTES`` of float64 over ``n`` rows (default: all)."""
        return max(1, BLOCK_BYTES // (8 * max(self.n if n is None else n, 1)))

    def blocks(self, metric: str, level: str = "heads") -> Iterator[tuple[int, np.ndarray]]:
        """(first column, block) over the columns of ``metric``."""
        width = self.level_width(level)
        step = self.step()
        for start in range(0, width, step):
            yield start, self.read(metric, start, min(width, start + step), level)

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds = {}
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ScoreColumns(ColumnFiles):
    """The scores of ``metrics`` of ``run``, read in one scan of its committed score parts (the
    module's docstring); ``sentence_ids``: the rows, ascending."""

    def __init__(self, run: Run, metrics: list[str], layers: bool = False):
        self.run = run
        model = run.manifest["model"]
        parts = _parts(run)
        order = np.concatenate([ids for _, _, ids in parts]) if parts else np.zeros(0, np.int64)
        starts = np.concatenate([[0], np.cumsum([len(ids) for _, _, ids in parts])]).astype(np.int64)
        self._check_count(order)
        super().__init__(metrics, int(model["num_layers"]), int(model["num_heads"]),
                         run.scores_schema.field("value").type.to_pandas_dtype(), order, layers)
        self.parts = [(number, int(start), ids) for (number, _, ids), start in zip(parts, starts)]  # rows of each part
        try:
            self._scan(parts)
        except BaseException:
            self.close()
            raise

    def _check_count(self, order: np.ndarray) -> None:
        if len(np.unique(order)) != len(order):
            raise RunStoreError(f"run {self.run.path}: a sentence is listed as analysed in two parts; the run directory "
                                "is inconsistent. Run it again with --overwrite.")
        expected = (self.run.manifest.get("counts") or {}).get("analysed")
        if self.run.complete and expected is not None and expected != len(order):
            raise RunStoreError(f"run {self.run.path}: its manifest counts {expected} analysed sentences but its committed "
                                f"sentence parts list {len(order)}; a part is missing or was replaced. No statistic is "
                                f"computed over fewer sentences: `headlens runs verify {self.run.path}` names the files.")

    def _scan(self, parts) -> None:
        self.run.score_scans += 1
        codes = {m: i for i, m in enumerate(self.metrics)}
        start = 0
        for _, path, ids in parts:
            buf = np.full((len(self.metrics), len(ids), self.width), np.nan, dtype=self.dtype)
            if path is not None and len(ids):
                _read_parquet(self.run, path, lambda: self._fill(path, ids, codes, buf))
            self.write_rows(start, buf)
            start += len(ids)

    def _fill(self, path: str, ids: np.ndarray, codes: dict[str, int], buf: np.ndarray) -> None:
        """Scatter the rows of the score part ``path`` (sentences ``ids``) into ``buf`` [metrics, ids, columns]."""
        pf = pq.ParquetFile(path)
        want = self.run.scores_schema
        got = pf.schema_arrow
        if [(f.name, f.type) for f in got] != [(f.name, f.type) for f in want]:
            raise _damaged(self.run, path, f"does not have the run's score schema ({', '.join(f'{f.name}: {f.type}' for f in got)}; "
                           f"expected {', '.join(f'{f.name}: {f.type}' for f in want)})")
        rows_seen = 0
        for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=_KEY_COLUMNS):
            rows_seen += batch.num_rows
            metric = batch.column(3)
            lookup = np.asarray([codes.get(d, -1) for d in metric.dictionary.to_pylist()], dtype=np.int64)
            m = lookup[metric.indices.to_numpy(zero_copy_only=False)] if len(lookup) else np.zeros(0, np.int64)
            keep = m >= 0
            sid = batch.column(0).to_numpy()[keep]
            row = np.minimum(np.searchsorted(ids, sid), len(ids) - 1)
            if not np.array_equal(ids[row], sid):
                raise _damaged(self.run, path, f"holds scores of sentence {int(sid[ids[row] != sid][0])}, which its "
                                               "sentence part does not list as analysed")
            layer = batch.column(1).to_numpy()[keep].astype(np.int64)
            head = batch.column(2).to_numpy()[keep].astype(np.int64)
            if len(layer) and (layer.max() >= self.layers or head.max() >= self.heads):
                raise _damaged(self.run, path, f"holds a layer or head outside the model's {self.layers} x {self.heads}")
            buf[m[keep], row, head_index(layer, head, self.heads)] = batch.column(4).to_numpy()[keep]
        if rows_seen == 0:
            raise _damaged(self.run, path, f"holds no scores, though its sentence part lists {len(ids)} analysed sentences")


class PairedColumns:
    """Two runs' columns of ``metrics`` over the sentences analysed in both (for paired tests)."""

    def __init__(self, before: ColumnFiles, after: ColumnFiles):
        self.before, self.after = before, after
        self.sentence_ids = np.intersect1d(before.sentence_ids, after.sentence_ids)
        self._rows = (np.searchsorted(before.sentence_ids, self.sentence_ids),
                      np.searchsorted(after.sentence_ids, self.sentence_ids))
        self.metrics = [m for m in before.metrics if m in set(after.metrics)]

    def level_width(self, level: str) -> int:
        return self.after.level_width(level)

    def rows(self, metric: str, rows: np.ndarray, level: str = "heads") -> np.ndarray:
        """after - before at the paired rows ``rows`` (positions in ``sentence_ids``), every column."""
        return (self.after.rows(metric, self._rows[1][rows], level)
                - self.before.rows(metric, self._rows[0][rows], level))

    def blocks(self, metric: str, level: str = "heads") -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(first column, before, after) blocks of ``metric``, rows paired."""
        width = self.level_width(level)
        step = self.after.step(len(self.sentence_ids))
        for start in range(0, width, step):
            stop = min(width, start + step)
            yield (start, self.before.read(metric, start, stop, level)[self._rows[0]],
                   self.after.read(metric, start, stop, level)[self._rows[1]])


class RowSpill:
    """Per-sentence values that arrive batch by batch, in any sentence order (a model's scores as it
    computes them), appended row by row to a temporary file; :meth:`columns` then writes them, a
    chunk of rows at a time, into :class:`ColumnFiles`. Memory: one batch, then one chunk."""

    def __init__(self, metrics: list[str], layers: int, heads: int, dtype=np.float64):
        self.metrics, self.layers, self.heads, self.dtype = list(metrics), int(layers), int(heads), np.dtype(dtype)
        self.width = self.layers * self.heads
        self._fh = tempfile.TemporaryFile(prefix="headlens-spill-")
        self._ids: list[np.ndarray] = []
        self.chunks = 0  # chunks of rows handed to ColumnFiles by columns()

    @property
    def row_bytes(self) -> int:
        return len(self.metrics) * self.width * self.dtype.itemsize

    def append(self, ids, values) -> None:
        """``values`` [rows, metrics, layers, heads] (or [rows, metrics, layers * heads]) of sentences ``ids``."""
        ids = np.asarray(ids, dtype=np.int64)
        v = np.ascontiguousarray(np.asarray(values, dtype=self.dtype).reshape(len(ids), len(self.metrics), self.width))
        self._fh.write(memoryview(v).cast("B"))
        self._ids.append(ids)

    def columns(self, with_layers: bool = False) -> ColumnFiles:
        """The rows so far as column files (rows by ascending sentence id); the caller closes them."""
        self._fh.flush()
        order = np.concatenate(self._ids) if self._ids else np.zeros(0, np.int64)
        cols = ColumnFiles(self.metrics, self.layers, self.heads, self.dtype, order, with_layers)
        chunk = max(1, BLOCK_BYTES // max(self.row_bytes, 1))
        try:
            for start in range(0, len(order), chunk):
                rows = min(chunk, len(order) - start)
                raw = os.pread(self._fh.fileno(), rows * self.row_bytes, start * self.row_bytes)
                values = np.frombuffer(raw, dtype=self.dtype).reshape(rows, len(self.metrics), self.width)
                cols.write_rows(start, values.transpose(1, 0, 2))
                self.chunks += 1
        except BaseException:
            cols.close()
            raise
        return cols

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RowSpill:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def poisson_means(source, level: str, n_boot: int, seed: int, metrics: list[str] | None = None) -> dict[str, PoissonMeans]:
    """The Poisson bootstrap (``stats.poisson``) of the mean of every column of every metric of
    ``source`` (ColumnFiles: the values; PairedColumns: after - before), in one pass over chunks of
    rows: each chunk's weights are drawn once, from its sentence ids, for all columns. Memory: one
    chunk's weights and values, and replicates x columns per metric."""
    ids = source.sentence_ids
    width = source.level_width(level)
    metrics = source.metrics if metrics is None else metrics
    out = {m: PoissonMeans(n_boot, width) for m in metrics}
    chunk = max(1, BLOCK_BYTES // (8 * max(n_boot, width)))
    for start in range(0, len(ids), chunk):
        rows = np.arange(start, min(len(ids), start + chunk))
        weights = poisson_weights(ids[rows], n_boot, seed)
        for metric in metrics:
            out[metric].add(weights, source.rows(metric, rows, level))
    return out
