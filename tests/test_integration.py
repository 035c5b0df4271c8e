"""The real all-MiniLM-L6-v2 on 200 gold-annotated sentences of UD English EWT dev."""

import math

import numpy as np
import pytest
from conftest import UD_DEV, require_shared

import headlens
from headlens.corpus import CorpusSpec

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ud_run(tmp_path_factory):
    spec = CorpusSpec(require_shared(UD_DEV), limit=200)
    out = tmp_path_factory.mktemp("ud") / "run"
    return headlens.run(out=str(out), corpus=spec, progress=False, analyses=("surface", "surface_rows"), store_maps=("weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713-0001",))


def test_run_covers_every_sentence_layer_and_head(ud_run):
    m = ud_run.manifest
    assert m["counts"]["analysed"] == 200 and m["counts"]["skipped"] == 0
    assert m["annotator"] == {"name": "gold", "scheme": "ud"}
    assert m["model"]["num_layers"] == 6 and m["model"]["num_heads"] == 12
    heads = ud_run.heads("cls").to_pylist()
    assert len(heads) == 72 and all(h["count"] == 200 for h in heads)


def test_scores_respect_probability_bounds(ud_run):
    t = ud_run.scores().to_pydict()
    sents = {r["sentence_id"]: r for r in ud_run.sentences().to_pylist()}
    values, metrics = np.asarray(t["value"]), np.asarray(t["metric"])
    for name in ("cls", "sep", "punct", "self", "prev", "next", "word_cls", "word_prev", "word_self"):
        v = values[metrics == name]
        assert len(v) > 0 and v.min() >= -1e-6 and v.max() <= 1 + 1e-5, name
    ent = metrics == "entropy"
    n = np.array([sents[s]["n_tokens"] for s in np.asarray(t["sentence_id"])[ent]])
    assert np.all(values[ent] <= np.log(n) + 1e-5)
    # word units: specials + words that received tokens
    wn = np.array([sents[s]["n_words"] + 2 for s in np.asarray(t["sentence_id"])[metrics == "word_entropy"]])
    assert np.all(values[metrics == "word_entropy"] <= np.log(wn) + 1e-5)


def test_mass_on_cls_sep_and_rest_adds_up(ud_run):
    """Per sentence and head, attention to [CLS] + [SEP] <= 1 (the rest goes to word tokens)."""
    rows = ud_run.scores().to_pydict()
    key = {}
    for s, l, h, m, v in zip(rows["sentence_id"], rows["layer"], rows["head"], rows["metric"], rows["value"]):
        if m in ("cls", "sep"):
            key[(s, l, h)] = key.get((s, l, h), 0.0) + v
    assert max(key.values()) <= 1 + 1e-5


def test_positional_heads_exist(ud_run):
    """Clark et al.: some heads put most of their attention on the previous or next token."""
    best_prev = ud_run.top_heads("prev", 1)[0]
    best_next = ud_run.top_heads("next", 1)[0]
    assert max(best_prev["mean"], best_next["mean"]) > 0.5


def test_named_sentence_map_is_stored(ud_run):
    z = np.load(f"{ud_run.path}/maps/sentence-0.npz")
    a = z["attention"]
    assert a.shape[:2] == (6, 12)
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
    assert math.isclose(float(a[0, 0].sum()), a.shape[-1], rel_tol=1e-5)
