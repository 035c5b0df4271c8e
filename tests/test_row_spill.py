"""compare-models' statistics in bounded memory (issue 16): values that arrive batch by batch in any
sentence order are spilled to disk (columns.RowSpill) and tested a block of columns at a time, with
the same numbers as the whole in-memory matrices."""

import numpy as np
import pytest

from headlens.analyses import columns
from headlens.analyses.columns import PairedColumns, RowSpill
from headlens.analyses.compare.changes import ChangeSettings, paired_changes
from headlens.stats import mean_ci

LAYERS, HEADS, N = 3, 4, 90
METRICS = ["prev", "entropy"]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    before = rng.normal(0.5, 0.1, (N, len(METRICS), LAYERS, HEADS))
    after = before + rng.normal(0.0, 0.05, before.shape)
    after[:, 0, 1, 2] += 0.2  # one planted change
    after[:7, 1, 0, 0] = np.nan  # undefined for some sentences
    before[:, 1, 2, 3] = after[:, 1, 2, 3] = 0.25  # a constant column
    ids = rng.permutation(N) * 3 + 5  # sentence ids: not 0..N-1, arriving out of order
    return ids, before, after


def _spill(ids, values, sizes=(1, 7, 13, 30)):
    spill = RowSpill(METRICS, LAYERS, HEADS)
    start, k = 0, 0
    while start < len(ids):
        stop = start + sizes[k % len(sizes)]
        spill.append(ids[start:stop], values[start:stop])
        start, k = stop, k + 1
    return spill


@pytest.mark.parametrize("block_bytes", [8 * N * 2, 16 << 20])
def test_spilled_columns_give_the_in_memory_results(monkeypatch, block_bytes):
    monkeypatch.setattr(columns, "BLOCK_BYTES", block_bytes)
    ids, before, after = _data()
    s = ChangeSettings(n_boot=300)
    order = np.argsort(ids)
    pairs = {m: (before[order, k].reshape(N, -1), after[order, k].reshape(N, -1)) for k, m in enumerate(METRICS)}
    expected = paired_changes(pairs, HEADS, s)
    with _spill(ids, before) as sb, _spill(ids, after) as sa, sb.columns(True) as b, sa.columns(True) as a:
        got = paired_changes(PairedColumns(b, a), HEADS, s)
        assert list(b.sentence_ids) == sorted(ids)
    for level in ("heads", "layers"):
        e, g = getattr(expected, level), getattr(got, level)
        assert e.column_names == g.column_names and e.num_rows == g.num_rows
        for name in ("delta", "ci_low", "ci_high", "p", "p_free", "q", "q_free", "p_equiv", "q_equiv", "effect"):
            np.testing.assert_allclose(np.asarray(g[name].to_pylist(), float), np.asarray(e[name].to_pylist(), float),
                                       rtol=1e-9, atol=0, equal_nan=True)
        for name in ("verdict", "status", "n", "metric", "layer", "head", "changed", "direction"):
            assert g[name].to_pylist() == e[name].to_pylist(), name
    assert "changed" in got.heads["verdict"].to_pylist()


def test_the_step_reads_blocks_not_the_whole_matrix(monkeypatch):
    """Fails if the spill or the tests densify every sentence of a metric at once."""
    monkeypatch.setattr(columns, "BLOCK_BYTES", 8 * N * 2)  # 2 columns per block; 10 rows per spill chunk
    ids, before, after = _data(1)
    seen = []
    read = columns.ColumnFiles.read

    def spy(self, metric, start, stop, level="heads"):
        block = read(self, metric, start, stop, level)
        seen.append(block.size)
        return block

    monkeypatch.setattr(columns.ColumnFiles, "read", spy)
    with _spill(ids, before) as sb, _spill(ids, after) as sa, sb.columns(True) as b, sa.columns(True) as a:
        paired_changes(PairedColumns(b, a), HEADS, ChangeSettings(n_boot=50))
        assert sb.chunks == sa.chunks > 1
        assert b.reads > len(METRICS)
    assert max(seen) <= N * 2 < N * LAYERS * HEADS


def test_cosine_tables_per_block_equal_the_whole_matrix(monkeypatch):
    from headlens.modelcompare.job import COSINE, _cosine_tables

    monkeypatch.setattr(columns, "BLOCK_BYTES", 8 * N * 5)
    rng = np.random.default_rng(3)
    cos = rng.uniform(0.2, 1.0, (N, LAYERS, HEADS))
    ids = rng.permutation(N)
    with RowSpill([COSINE], LAYERS, HEADS) as spill:
        for start in range(0, N, 16):
            spill.append(ids[start:start + 16], cos[start:start + 16, None])
        with spill.columns(True) as c:
            heads, layers = _cosine_tables(c, seed=4)
    flat = cos[np.argsort(ids)].reshape(N, -1)
    low, high = mean_ci(flat, seed=4)
    np.testing.assert_allclose(heads["cosine"].to_numpy(), flat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(heads["ci_low"].to_numpy(), low, rtol=1e-12)
    np.testing.assert_allclose(heads["ci_high"].to_numpy(), high, rtol=1e-12)
    per_layer = cos[np.argsort(ids)].mean(2)
    np.testing.assert_allclose(layers["cosine"].to_numpy(), per_layer.mean(0), rtol=1e-12)
    np.testing.assert_allclose(layers["ci_low"].to_numpy(), mean_ci(per_layer, seed=4)[0], rtol=1e-12)
