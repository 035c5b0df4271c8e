"""--long window: a sentence over the limit is analysed in word-boundary windows, then joined."""

import numpy as np
import pytest
from conftest import write

import headlens
from headlens.align.encode import Encoder
from headlens.annotate import RegexAnnotator
from headlens.corpus import Sentence
from headlens.runner.windows import combine

LONG = " ".join(["the cat sat on the mat , and the dog ran to new york ."] * 12)  # ~180 tokens > 64


def _annotated(text, index=0, text_b=None):
    words = RegexAnnotator().annotate_texts([text])[0]
    return Sentence(index, text, f"x:{index + 1}", text_b=text_b, words=tuple(words))


def test_windows_cover_the_words_in_order_and_fit(tiny_model):
    encoded = Encoder(tiny_model.tokenizer, tiny_model.max_tokens, "window").encode([_annotated(LONG)])
    assert len(encoded) > 2
    assert [e.window for e in encoded] == list(range(len(encoded)))
    assert all(e.n_windows == len(encoded) and e.n_tokens <= tiny_model.max_tokens for e in encoded)
    forms = [w.form for e in encoded for w in e.sentence.words]
    assert forms == [w.form for w in _annotated(LONG).words]
    for e in encoded:  # each window's words still point at their own text
        assert all(e.sentence.text[w.start : w.end] == w.form for w in e.sentence.words)
        assert e.origin.text == LONG


def test_joined_scores_are_the_token_weighted_mean_of_the_windows(tiny_bert_dir, tiny_model, tmp_path):
    windows = Encoder(tiny_model.tokenizer, tiny_model.max_tokens, "window").encode([_annotated(LONG)])
    whole = headlens.run(out=str(tmp_path / "whole"), model=tiny_bert_dir, corpus=write(tmp_path, "long.txt", LONG + "\n"),
                         annotator="regex", long="window", dtype="float64", progress=False)
    parts = headlens.run(out=str(tmp_path / "parts"), model=tiny_bert_dir,
                         corpus=write(tmp_path, "parts.txt", "\n".join(e.sentence.text for e in windows) + "\n"),
                         annotator="regex", dtype="float64", progress=False)
    rec = whole.sentences().to_pylist()[0]
    assert rec["status"] == "analysed" and rec["windows"] == len(windows) and rec["text"] == LONG
    assert whole.manifest["counts"]["windowed"] == 1
    n = [r["n_tokens"] for r in parts.sentences().to_pylist()]
    assert rec["n_tokens"] == sum(n)
    got = {(r["layer"], r["head"], r["metric"]): r["value"] for r in whole.scores().to_pylist()}
    per = {}
    for r in parts.scores().to_pylist():
        per.setdefault((r["layer"], r["head"], r["metric"]), {})[r["sentence_id"]] = r["value"]
    assert got.keys() == per.keys()
    for key, by_window in per.items():
        expected = sum(n[i] * v for i, v in by_window.items()) / sum(n[i] for i in by_window)
        assert got[key] == pytest.approx(expected, rel=1e-12)


def test_combine_ignores_undefined_cells():
    rows = [np.array([1.0, np.nan, np.nan]), np.array([3.0, 5.0, np.nan])]
    out = combine([1, 3], rows)
    assert out[0] == pytest.approx(2.5) and out[1] == 5.0 and np.isnan(out[2])


def test_pairs_and_giant_words_are_skipped_with_a_reason(tiny_model):
    enc = Encoder(tiny_model.tokenizer, tiny_model.max_tokens, "window")
    (pair,) = enc.encode([_annotated(LONG, text_b="a dog")])
    assert pair.reason == "too_long" and "pairs" in pair.detail
    (giant,) = enc.encode([_annotated("x" * 90, index=1)])  # WordPiece: x ##x ##x ... 90 tokens
    assert giant.reason == "too_long" and "single word" in giant.detail
