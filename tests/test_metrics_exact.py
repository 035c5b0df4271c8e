"""Exact cases and a reference comparison for the surface metrics."""

import math

import numpy as np
import pytest
import torch
from reference import surface, word_map

import headlens
from headlens.align.encode import CLS, SEP
from headlens.corpus import CorpusSpec
from headlens.models import load_model

TEXT = "the cat sat on the mat .\nnew york is a city , he said !\nplaying dogs ran\nun ##able x\n"


@pytest.fixture()
def corpus(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text(TEXT, encoding="utf-8")
    return str(p)


def _uniform(model) -> None:
    """Zero the query and key projections: every score is 0, so attention is uniform over valid keys."""
    for layer in model.encoder.layer:
        for lin in (layer.attention.self.query, layer.attention.self.key):
            torch.nn.init.zeros_(lin.weight)
            torch.nn.init.zeros_(lin.bias)


def _scores(run, metric):
    t = run.scores(metric).to_pydict()
    return t["sentence_id"], np.asarray(t["value"])


def test_uniform_attention_gives_exact_values(tiny_bert_dir, corpus, tmp_path, monkeypatch):
    lm = load_model(tiny_bert_dir, dtype="float64")
    _uniform(lm.model)
    monkeypatch.setattr("headlens.pipeline.load_model", lambda *a, **k: lm)
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=corpus, annotator="regex",
                       dtype="float64", progress=False, max_tokens=16)  # small budget: several padded batches
    sents = {r["sentence_id"]: r for r in run.sentences().to_pylist()}
    assert len(sents) == 4
    for metric in ("prev", "next", "self", "cls"):
        ids, values = _scores(run, metric)
        expected = np.array([1.0 / sents[i]["n_tokens"] for i in ids])
        np.testing.assert_allclose(values, expected, rtol=1e-13, atol=0)
    ids, values = _scores(run, "entropy")
    np.testing.assert_allclose(values, [math.log(sents[i]["n_tokens"]) for i in ids], rtol=1e-13)
    ids, values = _scores(run, "cls_entropy")
    np.testing.assert_allclose(values, [math.log(sents[i]["n_tokens"]) for i in ids], rtol=1e-13)
    ids, values = _scores(run, "sep")  # one [SEP] per single sentence
    np.testing.assert_allclose(values, [1.0 / sents[i]["n_tokens"] for i in ids], rtol=1e-13)
    # every layer and head is covered
    assert len(ids) == 4 * lm.num_layers * lm.num_heads


def test_uniform_word_level_follows_clark_aggregation(tiny_bert_dir, corpus, tmp_path, monkeypatch):
    """Under uniform token attention, attention TO a word is (its sub-token count) / N."""
    lm = load_model(tiny_bert_dir, dtype="float64")
    _uniform(lm.model)
    monkeypatch.setattr("headlens.pipeline.load_model", lambda *a, **k: lm)
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=corpus, annotator="regex",
                       dtype="float64", progress=False, store_maps=("2",), metrics=("word_prev", "word_self"))
    z = np.load(f"{run.path}/maps/sentence-2.npz")
    unit = z["token_unit"]
    n = len(unit)
    sizes = np.bincount(unit[unit >= 0])
    # 'playing dogs ran' -> [CLS] play ##ing dog ##s ran [SEP]: units CLS, playing, dogs, ran, SEP
    assert sizes.tolist() == [1, 2, 2, 1, 1]
    u = len(sizes)
    got = {r["metric"]: r["value"] for r in run.scores().to_pylist() if r["sentence_id"] == 2 and r["layer"] == 0 and r["head"] == 0}
    assert got["word_prev"] == pytest.approx(np.mean(sizes[:-1]) / n, rel=1e-13)
    assert got["word_self"] == pytest.approx(np.mean(sizes) / n, rel=1e-13)
    assert u == 5


def test_metrics_match_reference_on_real_attention(tiny_bert_dir, corpus, tmp_path):
    """Token- and word-level metrics from the batched engine equal loop-based numpy on stored maps."""
    for mode in ("clark", "first", "mean"):
        run = headlens.run(out=str(tmp_path / mode), model=tiny_bert_dir, corpus=corpus, annotator="regex",
                           dtype="float64", progress=False, store_maps=("0", "1", "2", "3"), word_aggregation=mode,
                           analyses=("surface", "surface_rows"))
        rows = run.scores().to_pylist()
        stored = {(r["sentence_id"], r["layer"], r["head"], r["metric"]): r["value"] for r in rows}
        for sid in range(4):
            z = np.load(f"{run.path}/maps/sentence-{sid}.npz")
            attn, unit = z["attention"], z["token_unit"]
            tokens = list(z["tokens"])
            kinds = np.array([CLS if t == "[CLS]" else SEP if t == "[SEP]" else 0 for t in tokens])
            words = list(z["words"])
            unit_word = z["unit_word"]
            unit_punct = np.array([w >= 0 and all(not c.isalnum() for c in words[w]) for w in unit_word])
            token_punct = np.array([u >= 0 and unit_punct[u] for u in unit])
            unit_kinds = np.array([kinds[np.nonzero(unit == u)[0][0]] for u in range(len(unit_word))])
            for layer in range(attn.shape[0]):
                for head in range(attn.shape[1]):
                    a = attn[layer, head].astype(np.float64)
                    ref = surface(a, kinds, token_punct)
                    wref = surface(word_map(a, unit, len(unit_word), mode), unit_kinds, unit_punct)
                    for name, value in ref.items():
                        assert stored[(sid, layer, head, name)] == pytest.approx(value, abs=1e-6), (mode, name)
                    for name, value in wref.items():
                        key = (sid, layer, head, "word_" + name)
                        if math.isnan(value):
                            assert key not in stored
                        else:
                            assert stored[key] == pytest.approx(value, abs=1e-6), (mode, name)


def test_attention_rows_sum_to_one_in_word_view(tiny_bert_dir, corpus, tmp_path):
    run = headlens.run(out=str(tmp_path / "r"), model=tiny_bert_dir, corpus=corpus, annotator="regex",
                       dtype="float64", progress=False, store_maps=("1",))
    z = np.load(f"{run.path}/maps/sentence-1.npz")
    a = z["attention"][0, 0].astype(np.float64)
    w = word_map(a, z["token_unit"], len(z["unit_word"]))
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)
