"""compare-models: map cosine equals a computation from stored maps; metric deltas equal two runs' deltas."""

import os

import numpy as np
import pyarrow.parquet as pq
import pytest
from tiny import make_tiny, make_tiny_bert

import headlens
from headlens.cli import main
from headlens.errors import ConfigError, ModelError
from headlens.modelcompare import compare_models

LINES = ["the cat sat on the mat", "a dog ran in the house", "she said it was good", "they play", "he went to new york"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_bert_dir):
    root = tmp_path_factory.mktemp("cm")
    other = make_tiny_bert(str(root / "other"), seed=5)  # same tokenizer, other weights
    corpus = root / "c.txt"
    corpus.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return root, other, str(corpus)


def _compare(a, b, corpus, out, **kw):
    return compare_models(a, b, out, corpus=corpus, annotator="regex", progress=False, dtype="float64", **kw)


def test_a_model_with_itself_has_cosine_one_and_no_change(setup, tiny_bert_dir):
    root, _, corpus = setup
    params = _compare(tiny_bert_dir, tiny_bert_dir, corpus, str(root / "self"))
    cos = pq.read_table(os.path.join(params["out"], "cosine_heads.parquet")).column("cosine").to_numpy()
    assert np.allclose(cos, 1.0) and params["sentences"] == 5
    assert params["changed"] == {}


@pytest.mark.parametrize("dtype", ["float64", "float32"])  # float32: the spills hold the values as computed
def test_cosine_and_deltas_equal_two_separate_runs(setup, tiny_bert_dir, dtype):
    root, other, corpus = setup
    params = compare_models(tiny_bert_dir, other, str(root / f"pair-{dtype}"), corpus=corpus, annotator="regex",
                            progress=False, dtype=dtype, analyses=("surface",))
    runs = [headlens.run(out=str(root / f"run{k}-{dtype}"), model=m, corpus=corpus, annotator="regex", progress=False,
                         dtype=dtype, store_maps=tuple(str(i) for i in range(5))) for k, m in enumerate((tiny_bert_dir, other))]
    sims = []
    for sid in range(5):
        a, b = (np.load(f"{r.path}/maps/sentence-{sid}.npz")["attention"].astype(np.float64) for r in runs)
        flat_a, flat_b = a.reshape(*a.shape[:2], -1), b.reshape(*b.shape[:2], -1)
        sims.append((flat_a * flat_b).sum(-1) / np.linalg.norm(flat_a, axis=-1) / np.linalg.norm(flat_b, axis=-1))
    expected = np.mean(sims, axis=0)  # [L, H]
    table = pq.read_table(os.path.join(params["out"], "cosine_heads.parquet")).to_pylist()
    got = np.array([r["cosine"] for r in table]).reshape(expected.shape)
    assert got == pytest.approx(expected, abs=1e-6)  # maps were stored in float32
    assert (got < 0.9999).any()
    heads = {(r["metric"], r["layer"], r["head"]): r for r in pq.read_table(os.path.join(params["out"], "heads.parquet")).to_pylist()}
    sa, sb = (run.heads("prev").to_pylist() for run in runs)
    for ra, rb in zip(sa, sb):
        assert heads[("prev", ra["layer"], ra["head"])]["delta"] == pytest.approx(
            rb["mean"] - ra["mean"], abs=1e-9 if dtype == "float64" else 1e-6)


def test_different_tokenizers_are_refused(setup, tiny_bert_dir, tmp_path):
    _, _, corpus = setup
    roberta = make_tiny("roberta", str(tmp_path / "roberta"))
    with pytest.raises(ModelError, match="different tokenizers"):
        _compare(tiny_bert_dir, roberta, corpus, str(tmp_path / "x"))
    assert not os.path.exists(tmp_path / "x")


def test_existing_output_and_windows_are_refused(setup, tiny_bert_dir):
    root, other, corpus = setup
    (root / "full").mkdir()
    (root / "full" / "f").write_text("x")
    with pytest.raises(ConfigError, match="never overwritten"):
        _compare(tiny_bert_dir, other, corpus, str(root / "full"))
    with pytest.raises(ConfigError, match="--long skip or truncate"):
        _compare(tiny_bert_dir, other, corpus, str(root / "w"), long="window")


def test_cli_compare_models(setup, tiny_bert_dir, capsys):
    root, other, corpus = setup
    out = str(root / "cli")
    assert main(["compare-models", tiny_bert_dir, other, "--corpus", corpus, "--annotator", "regex", "--out", out,
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "L1" in printed and "L2" in printed and "cosine" in printed
    assert sorted(f for f in os.listdir(out)) == ["cosine_heads.parquet", "cosine_layers.parquet", "heads.parquet",
                                                   "layers.parquet", "params.json"]
