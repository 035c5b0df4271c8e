"""The pipeline on a tiny model: store layout, provenance, batching invariance, crash safety."""

import hashlib
import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

import headlens
from headlens.align.encode import Encoder
from headlens.corpus import CorpusSpec, Sentence, Word
from headlens.runner import plan_batches

LINES = [
    "the cat sat on the mat .",
    "new york is a city , he said !",
    "playing dogs ran",
    "a man went to the house and the woman said good day .",
    "i run",
    "they played in the city of new york for a year .",
] * 5


@pytest.fixture()
def corpus(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return str(p)


def _run(tiny_bert_dir, corpus, out, **kw):
    kw.setdefault("progress", False)
    return headlens.run(out=str(out), model=tiny_bert_dir, corpus=corpus, annotator="regex", **kw)


def _by_key(run):
    t = run.scores().to_pydict()
    return {k: v for k, v in zip(zip(t["sentence_id"], t["layer"], t["head"], t["metric"]), t["value"])}


def test_manifest_records_provenance(tiny_bert_dir, corpus, tmp_path):
    run = _run(tiny_bert_dir, corpus, tmp_path / "r")
    m = json.load(open(os.path.join(run.path, "manifest.json")))
    assert m["status"] == "complete" and m["finished"] >= m["started"]
    weights = open(os.path.join(tiny_bert_dir, "model.safetensors"), "rb").read()
    assert m["model"]["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    assert m["corpus"]["sha256"] == hashlib.sha256(open(corpus, "rb").read()).hexdigest()
    assert m["annotator"]["name"] == "regex" and m["annotator"]["scheme"] == "none"
    assert m["counts"]["analysed"] == len(LINES) and m["counts"]["skipped"] == 0
    assert m["versions"]["torch"] and m["versions"]["transformers"]
    assert m["config"]["word_aggregation"] == "clark" and m["word_aggregation"] == "clark"
    assert [x["name"] for x in m["metrics"]] == run.metrics


def test_head_summary_equals_per_sentence_scores(tiny_bert_dir, corpus, tmp_path):
    run = _run(tiny_bert_dir, corpus, tmp_path / "r", part_size=7, max_tokens=40)
    parts = sorted(os.listdir(os.path.join(run.path, "scores")))
    assert len(parts) > 1 and all(p.endswith(".parquet") for p in parts)
    ids = run.sentences()["sentence_id"].to_pylist()
    assert sorted(ids) == list(range(len(LINES)))
    scores = _by_key(run)
    for row in run.heads("entropy").to_pylist():
        vals = [v for (s, l, h, m), v in scores.items() if (l, h, m) == (row["layer"], row["head"], "entropy")]
        assert row["count"] == len(LINES)
        assert row["mean"] == pytest.approx(np.mean(vals), rel=1e-9)
        assert row["std"] == pytest.approx(np.std(vals, ddof=1), rel=1e-6)
        assert row["label"] == f"L{row['layer'] + 1}H{row['head'] + 1}"  # docs/conventions.md


def test_scores_do_not_depend_on_batching(tiny_bert_dir, corpus, tmp_path):
    a = _by_key(_run(tiny_bert_dir, corpus, tmp_path / "a", max_tokens=16, dtype="float64"))
    b = _by_key(_run(tiny_bert_dir, corpus, tmp_path / "b", max_tokens=4096, sort_window=3, dtype="float64"))
    assert a.keys() == b.keys()
    np.testing.assert_allclose([a[k] for k in a], [b[k] for k in a], rtol=1e-9, atol=1e-12)


def test_full_maps_of_the_first_three_sentences_by_default_else_as_asked(tiny_bert_dir, corpus, tmp_path):
    run = _run(tiny_bert_dir, corpus, tmp_path / "r")
    assert sorted(os.listdir(os.path.join(run.path, "maps"))) == ["sentence-0.npz", "sentence-1.npz", "sentence-2.npz"]
    run = _run(tiny_bert_dir, corpus, tmp_path / "none", store_maps=())
    assert not os.path.exists(os.path.join(run.path, "maps"))
    run = _run(tiny_bert_dir, corpus, tmp_path / "m", store_maps=("3",))
    assert os.listdir(os.path.join(run.path, "maps")) == ["sentence-3.npz"]
    z = np.load(os.path.join(run.path, "maps", "sentence-3.npz"))
    assert z["attention"].shape[:2] == (2, 4)
    assert z["attention"].shape[2] == z["attention"].shape[3] == len(z["tokens"])
    units = len(z["unit_labels"])  # the head view's word maps: [CLS], the words, [SEP]
    assert z["word_attention"].shape == (2, 4, units, units) and units == z["token_unit"].max() + 1
    assert list(z["unit_kinds"][[0, -1]]) == ["cls", "sep"] and list(z["unit_labels"][1:-1]) == list(z["words"])


def test_sentence_pairs_have_two_separators(tiny_bert_dir, tmp_path):
    p = tmp_path / "pairs.tsv"
    p.write_text("id\ts1\ts2\tlabel\n0\tthe cat sat\ta dog ran .\t1\n1\tnew york\tthe city\t0\n", encoding="utf-8")
    spec = CorpusSpec(str(p), text_column="s1", text_b_column="s2", label_column="label")
    run = headlens.run(out=str(tmp_path / "r"), model=tiny_bert_dir, corpus=spec, annotator="regex", progress=False,
                       store_maps=("0",), metrics=("sep_sep", "sep"))
    z = np.load(os.path.join(run.path, "maps", "sentence-0.npz"))
    assert list(z["tokens"]).count("[SEP]") == 2
    sent = run.sentences().to_pylist()
    assert sent[0]["text_b"] == "a dog ran ." and sent[0]["label"] == "1"


def test_a_failing_run_keeps_finished_parts(tiny_bert_dir, corpus, tmp_path, monkeypatch):
    from headlens.runner.engine import Engine

    calls = {"n": 0}
    original = Engine.score

    def flaky(self, batch, keep=()):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("device lost")
        return original(self, batch, keep)

    monkeypatch.setattr(Engine, "score", flaky)
    with pytest.raises(RuntimeError, match="device lost"):
        _run(tiny_bert_dir, corpus, tmp_path / "r", max_tokens=40, part_size=1)
    m = json.load(open(tmp_path / "r" / "manifest.json"))
    assert m["status"] == "failed" and m["error"] == "RuntimeError: device lost"
    assert m["counts"]["analysed"] > 0
    with pytest.raises(headlens.RunStoreError, match="not complete"):
        headlens.open_run(tmp_path / "r")
    partial = headlens.open_run(tmp_path / "r", allow_incomplete=True)
    stored = set(partial.scores()["sentence_id"].to_pylist())
    assert len(stored) == m["counts"]["analysed"]  # every finished batch is on disk, readable
    for f in os.listdir(tmp_path / "r" / "scores"):
        assert ".tmp-" not in f
        pq.read_table(tmp_path / "r" / "scores" / f)


def test_batches_respect_budget_and_window(tiny_model):
    words = lambda t: tuple(Word(w, t.index(w), t.index(w) + len(w)) for w in t.split())  # noqa: E731
    sents = [Sentence(i, t, f"x:{i}", words=words(t)) for i, t in enumerate(LINES)]
    consumed = []

    def stream():
        for e in Encoder(tiny_model.tokenizer, tiny_model.max_tokens, chunk=1).stream(sents):
            consumed.append(e)
            yield e

    seen = []
    for batch in plan_batches(stream(), max_tokens=50, max_batch=4, window=5):
        assert len(consumed) <= 5 * (len(seen) // 5 + 1) + 5  # never reads far beyond the window
        assert len(batch) <= 4
        assert len(batch) == 1 or len(batch) * max(e.n_tokens for e in batch) <= 50
        seen.extend(e.sentence.index for e in batch)
    assert sorted(seen) == list(range(len(LINES)))


def test_unknown_map_names_are_reported(tiny_bert_dir, corpus, tmp_path, capsys):
    from headlens.cli import main

    out = tmp_path / "r"
    assert main(["run", "--model", tiny_bert_dir, "--corpus", corpus, "--annotator", "regex", "--out", str(out),
                 "--store-maps", "1,nope", "--quiet"]) == 0
    assert "no analysed sentence has the id nope" in capsys.readouterr().out
    m = headlens.open_run(out).manifest
    assert m["maps"] == {"requested": ["1", "nope"], "not_found": ["nope"]}
    assert os.listdir(out / "maps") == ["sentence-1.npz"]
    assert main(["run", "--model", tiny_bert_dir, "--corpus", corpus, "--annotator", "regex", "--out", str(tmp_path / "n"),
                 "--store-maps", "none", "--quiet"]) == 0
    assert not os.path.exists(tmp_path / "n" / "maps") and headlens.open_run(tmp_path / "n").manifest["maps"]["requested"] == []


def test_interrupted_run_is_marked_and_keeps_its_parts(tiny_bert_dir, corpus, tmp_path, monkeypatch, capsys):
    from headlens.cli import main
    from headlens.runner.engine import Engine

    calls = {"n": 0}
    original = Engine.score

    def interrupted(self, batch, keep=()):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, batch, keep)

    monkeypatch.setattr(Engine, "score", interrupted)
    out = tmp_path / "r"
    rc = main(["run", "--model", tiny_bert_dir, "--corpus", corpus, "--annotator", "regex", "--out", str(out),
               "--max-tokens", "40", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 130 and "Interrupted" in err and "Traceback" not in err
    run = headlens.open_run(out, allow_incomplete=True)
    assert run.manifest["status"] == "interrupted"
    assert run.scores()["sentence_id"].unique().to_pylist() and run.manifest["counts"]["analysed"] > 0


def test_collector_parts_of_blocks_merge_as_the_collector_declares():
    """collect.merge_parts (the driver of --engine ray): per-sentence arrays concatenated, sums added,
    the rest checked equal; a disagreement fails with the array's name."""
    from headlens.collect import Collector, merge_parts

    class Counting(Collector):
        name = "counting"
        per_sentence = ("sentence_ids", "counts")
        summed = ("total",)

    a = {"sentence_ids": np.array([3, 1]), "counts": np.array([[1, 2], [3, 4]]), "total": np.array([1.5]), "k": np.array(7)}
    b = {"sentence_ids": np.array([8]), "counts": np.array([[5, 6]]), "total": np.array([2.0]), "k": np.array(7)}
    merged = merge_parts(Counting(), [a, b])
    assert merged["sentence_ids"].tolist() == [3, 1, 8] and merged["counts"].tolist() == [[1, 2], [3, 4], [5, 6]]
    assert merged["total"].tolist() == [3.5] and int(merged["k"]) == 7
    with pytest.raises(RuntimeError, match="disagree on 'k'"):
        merge_parts(Counting(), [a, {**b, "k": np.array(8)}])
