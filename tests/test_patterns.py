"""Pattern types (Kovaleva et al. 2019): features on hand-built maps, the classifier's confusion matrix on
synthetic maps of every type, and the run's per-layer and per-head tables."""

import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from conftest import write

import headlens
from headlens.align.encode import CLS, SEP, WORD
from headlens.store.outputs import read_outputs
from headlens.analyses.patterns.metrics import TYPES, classify, pattern_features
from headlens.metrics.view import AttentionView

def _layout(a: int, b: int = 0):
    """kinds and segments of [CLS] a-words [SEP] (b-words [SEP])."""
    kinds = [CLS] + [WORD] * a + [SEP] + ([WORD] * b + [SEP] if b else [])
    seg = [-1] + [0] * a + [-1] + ([1] * b + [-1] if b else [])
    return np.asarray(kinds), np.asarray(seg)


def _view(maps: np.ndarray, kinds, seg) -> AttentionView:
    """One sentence, heads = the maps [H, N, N]."""
    n = len(kinds)
    return AttentionView(torch.tensor(maps, dtype=torch.float64)[None], torch.ones(1, n, dtype=torch.bool),
                         torch.tensor(kinds, dtype=torch.int8)[None], torch.zeros(1, n, dtype=torch.bool),
                         segment=torch.tensor(seg, dtype=torch.int8)[None])


def _rows(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum(-1, keepdims=True)


def _noise(n: int, share: float, rng) -> np.ndarray:
    return share * rng.dirichlet(np.full(n, 2.0), size=n)


def synthetic(kind: str, kinds: np.ndarray, seg: np.ndarray, rng, local: bool = False) -> np.ndarray:
    """A noisy map [N, N] of ``kind`` for the given layout (heterogeneous: peaky random rows, or with
    ``local`` a broad window of +-3 tokens)."""
    n = len(kinds)
    special, word = kinds != WORD, kinds == WORD
    i = np.arange(n)
    neighbours = np.zeros((n, n))
    for d in (-1, 1):
        ok = (i + d >= 0) & (i + d < n)
        neighbours[i[ok], i[ok] + d] = rng.uniform(0.3, 1.0, ok.sum())
    neighbours *= word[None, :]
    neighbours[neighbours.sum(1) == 0] = word / word.sum()  # a row without word neighbours spreads over the words
    columns = np.tile(special * rng.uniform(0.2, 1.0, n), (n, 1))
    own = ((seg[:, None] == seg[None, :]) & word[None, :] & (seg[:, None] >= 0)).astype(float)
    own[own.sum(1) == 0] = word / word.sum()
    if kind == "vertical":
        return 0.85 * _rows(columns) + _noise(n, 0.15, rng)
    if kind == "diagonal":
        return 0.85 * _rows(neighbours) + _noise(n, 0.15, rng)
    if kind == "vertical_diagonal":
        return 0.42 * _rows(columns) + 0.42 * _rows(neighbours) + _noise(n, 0.16, rng)
    if kind == "block":
        return 0.9 * _rows(own * rng.uniform(0.5, 1.0, (n, n))) + _noise(n, 0.1, rng)
    if not local:
        return rng.dirichlet(np.full(n, 0.7), size=n)
    window = (np.abs(i[:, None] - i[None, :]) <= 3).astype(float) * rng.uniform(0.5, 1.0, (n, n))
    return 0.9 * _rows(window) + _noise(n, 0.1, rng)


def test_features_of_hand_built_maps():
    kinds, seg = _layout(4, 3)  # [CLS] a a a a [SEP] b b b [SEP]: 10 tokens
    n = len(kinds)
    uniform = np.full((n, n), 1 / n)
    prev = np.eye(n, k=-1)
    prev[0, 0] = 1.0
    f = pattern_features(_view(np.stack([uniform, prev]), kinds, seg))[0].numpy()
    assert f[0, 0] == pytest.approx(3 / n)  # special mass: 3 special columns of 10
    assert f[0, 1] == pytest.approx(2 / n * (3 / 7) + 1 / n * (4 / 7))  # a2 a3 b2 have two word neighbours, 4 words one
    assert f[0, 2] == pytest.approx(0.5)  # balanced own-text share of uniform attention, whatever the lengths
    assert f[0, 3] == pytest.approx(1.0)  # entropy / log N
    # previous token: words whose previous unit is a word put everything there (a2 a3 a4, b2 b3)
    assert f[1, 1] == pytest.approx(5 / 7)
    assert f[1, 0] == pytest.approx(3 / n)  # a1 -> [CLS], b1 -> [SEP], [SEP] -> a4 ... : queries on special keys
    assert f[1, 2] == pytest.approx(1.0)  # word attention of word queries never leaves their text
    single = pattern_features(_view(uniform[None, :6, :6] * n / 6, *_layout(4)))[0, 0].numpy()
    assert math.isnan(single[2]) and single[0] == pytest.approx(2 / 6)


def test_the_classifier_labels_synthetic_maps_of_each_type():
    rng = np.random.default_rng(0)
    confusion = np.zeros((len(TYPES), len(TYPES)), dtype=int)
    for truth in TYPES:
        for k in range(60):
            local = truth == "heterogeneous" and k % 4 >= 2
            # a +-3 window keeps 80% in its text like a block; only in longer pairs is it narrower (docs/patterns.md)
            a, b = (int(rng.integers(25, 40)), int(rng.integers(15, 25))) if local else \
                (int(rng.integers(8, 30)), int(rng.integers(6, 20)))
            layout = _layout(a, b) if truth == "block" or k % 2 else _layout(a + b)
            maps = synthetic(truth, *layout, rng, local=local)[None]
            got = int(classify(pattern_features(_view(maps, *layout)))[0, 0])
            confusion[TYPES.index(truth), got] += 1
    print("confusion (rows: truth, columns: predicted)", TYPES, confusion, sep="\n")
    assert (confusion == np.diag(np.full(len(TYPES), 60))).all(), confusion


def test_uniform_and_one_hot_maps_are_heterogeneous_and_vertical():
    kinds, seg = _layout(6, 5)
    n = len(kinds)
    to_sep = np.zeros((n, n))
    to_sep[:, 7] = 1.0  # everything on the first [SEP]
    types = classify(pattern_features(_view(np.stack([np.full((n, n), 1 / n), to_sep]), kinds, seg)))[0]
    assert [TYPES[t] for t in types] == ["heterogeneous", "vertical"]


@pytest.fixture(scope="module")
def pattern_run(tmp_path_factory, tiny_bert_dir):
    root = tmp_path_factory.mktemp("patterns")
    corpus = write(root, "pairs.jsonl", "\n".join(
        '{"text": "%s", "text_b": "%s"}' % (a, b) for a, b in [
            ("the cat sat on the mat .", "a dog ran ."), ("we play in the new city", "they went to the house"),
            ("she said it was good", "it was bad"), ("the man ran to the house .", "the woman sat .")]) + "\n")
    return headlens.run(out=str(root / "run"), model=tiny_bert_dir, corpus=headlens.CorpusSpec(corpus, text_b_field="text_b"),
                        analyses=("patterns",), annotator="regex", progress=False)


def test_a_run_leaves_layer_and_head_distributions(pattern_run):
    tables, params = read_outputs(pattern_run, "patterns")
    layers, heads = tables["layers"].to_pandas(), tables["heads"].to_pandas()
    assert list(layers["layer"]) == [0, 1, -1] and len(heads) == 2 * 4
    assert np.allclose(layers[list(TYPES)].sum(axis=1), 1.0) and np.allclose(heads[list(TYPES)].sum(axis=1), 1.0)
    per_head = pattern_run.heads().to_pandas()
    for t in TYPES:  # the layer share is the mean over the layer's heads of their share of maps
        mine = per_head[per_head.metric == f"pattern_is_{t}"].sort_values(["layer", "head"])
        assert np.allclose(layers[t][:2], mine.groupby("layer")["mean"].mean())
        assert params["distribution"][t] == pytest.approx(mine["mean"].mean())
    assert (layers[[f"heads_{t}" for t in TYPES]].sum(axis=1) == [4, 4, 8]).all()
    assert set(heads["majority"]) <= set(TYPES) and heads["pattern_segment"].notna().all()
    assert params["thresholds"]["block_min_own"] == 0.8
    assert pq.read_table(f"{pattern_run.path}/patterns/default/heads.parquet").num_rows == 8


def test_reclassifying_the_stored_features(pattern_run, capsys):
    from headlens.analyses.patterns.stats import pattern_tables
    from headlens.cli import main
    from headlens.errors import ConfigError

    stored, _ = pattern_tables(pattern_run)
    again, params = pattern_tables(pattern_run, {})  # the default thresholds, from the features
    assert again["layers"].equals(stored["layers"]) and again["heads"].equals(stored["heads"])
    everything_vertical, _ = pattern_tables(pattern_run, {"mixed_min_each": 2.0, "vertical_min_special": 0.0})
    assert everything_vertical["layers"].column("vertical").to_pylist() == [1.0, 1.0, 1.0]
    with pytest.raises(ConfigError, match="unknown pattern threshold"):
        pattern_tables(pattern_run, {"block": 0.5})
    assert main(["patterns", pattern_run.path, "--set", "block_min_entropy=0.2", "--name", "loose"]) == 0
    printed = capsys.readouterr().out
    assert "block_min_entropy=0.2" in printed and "heterogeneous" in printed
    _, loose = read_outputs(pattern_run, "patterns", "loose")
    assert loose["changed_thresholds"] == {"block_min_entropy": 0.2}
    assert main(["patterns", pattern_run.path, "--set", "block_min_entropy"]) == 2
