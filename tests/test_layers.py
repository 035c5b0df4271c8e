"""The layers analysis: the seeded sample (any order, any batching, resume), the probes, the
structural probe on a planted tree, linear CKA's invariances, context sensitivity."""

import os

import numpy as np
import pytest

import headlens
from headlens.analyses.layers.data import read
from headlens.analyses.layers.sample import Budget, prefix
from headlens.runner.engine import Engine
import test_runner
from test_runner import LINES, corpus  # noqa: F401 - the plain-text corpus fixture


def _run(tiny_bert_dir, corpus, out, **kw):
    return test_runner._run(tiny_bert_dir, corpus, out, analyses=("layers",), dtype="float64",
                            options={"layers": {"max_words": 60, "max_sentences": 10}}, **kw)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_budget_keeps_the_key_order_prefix_whatever_the_order_of_arrival(seed):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 30, 200)
    budget = Budget(300, seed)
    kept, order = {}, rng.permutation(200)
    for chunk in np.array_split(order, 7):  # seven parts
        for sid in chunk:
            budget.offer(int(sid), int(sizes[sid]), lambda sid=sid: int(sid))
        kept.update({s: k for s, k, _ in budget.fresh()})
    held = set(budget.held)
    ids = np.arange(200)
    from headlens.analyses.layers.sample import keys
    want = set(prefix(keys(seed, ids), ids, sizes, 300).tolist())
    assert held == want and sizes[list(want)].sum() <= 300
    assert want <= set(kept)  # the parts hold the sample (and maybe more)
    got = np.array(sorted(kept))
    assert set(got[prefix(keys(seed, got), got, sizes[got], 300)].tolist()) == want
    # a larger budget keeps more; another seed another sample
    assert len(prefix(keys(seed, ids), ids, sizes, 600)) > len(want)
    assert set(prefix(keys(seed + 10, ids), ids, sizes, 300).tolist()) != want


def test_one_sentence_key_equals_the_array_keys():
    """Budget keys one sentence at a time in Python integers (sample.sentence_key): the same uint64 as
    the vectorised keys, for seeds and ids across the int64 range, negative ones included."""
    from headlens.analyses.layers.sample import keys, sentence_key

    rng = np.random.default_rng(5)
    ids = np.concatenate([[0, 1, -1, 2**63 - 1, -(2**63)], rng.integers(-(2**63), 2**63 - 1, 200)])
    for seed in (0, 1, 12345, 2**63 - 1, -7):
        want = keys(seed, ids)
        assert [sentence_key(seed, int(i)) for i in ids] == [int(k) for k in want]


def _same(a, b):
    (wa, sa), (wb, sb) = read(a), read(b)
    np.testing.assert_array_equal(wa.sentences, wb.sentences)
    np.testing.assert_array_equal(wa.index, wb.index)
    np.testing.assert_array_equal(wa.form, wb.form)
    np.testing.assert_array_equal(wa.lemma, wb.lemma)
    np.testing.assert_allclose(wa.vectors.astype(float), wb.vectors.astype(float), rtol=2e-3, atol=2e-3)
    np.testing.assert_array_equal(sa.ids, sb.ids)
    np.testing.assert_allclose(sa.vectors.astype(float), sb.vectors.astype(float), rtol=2e-3, atol=2e-3)


def test_the_sample_does_not_depend_on_batching_nor_on_resume(tiny_bert_dir, corpus, tmp_path, monkeypatch):
    a = _run(tiny_bert_dir, corpus, tmp_path / "a", max_tokens=16, part_size=3)
    words, sentences = read(a)
    assert 0 < len(words.form) <= 60 and len(sentences.ids) == 10
    assert words.vectors.dtype == np.float16 and words.vectors.shape[1] == 3  # embeddings + 2 layers
    assert len(np.unique(words.sentences)) < len(LINES)  # a sample, not everything
    _same(a, _run(tiny_bert_dir, corpus, tmp_path / "b", max_tokens=4096, sort_window=3))
    calls, score = {"n": 0}, Engine.score

    def flaky(self, batch, keep=()):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("device lost")
        return score(self, batch, keep)

    monkeypatch.setattr(Engine, "score", flaky)
    with pytest.raises(RuntimeError, match="device lost"):
        _run(tiny_bert_dir, corpus, tmp_path / "c", max_tokens=40, part_size=2)
    monkeypatch.setattr(Engine, "score", score)
    _same(a, _run(tiny_bert_dir, corpus, tmp_path / "c", max_tokens=40, part_size=2, resume=True))


def test_word_vectors_are_the_mean_of_their_sub_tokens(tiny_bert_dir, corpus, tmp_path):
    run = _run(tiny_bert_dir, corpus, tmp_path / "r")
    words, _ = read(run)
    from headlens.models import load_model
    import torch

    lm = load_model(tiny_bert_dir, dtype="float64")
    sid = int(words.sentences[0])
    text = LINES[sid]
    enc = lm.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        hidden = lm.model(**enc, output_hidden_states=True).hidden_states
    ids = enc.word_ids()
    mine = words.vectors[words.sentences == sid].astype(float)
    for w in range(mine.shape[0]):
        tokens = [t for t, i in enumerate(ids) if i == w]
        want = np.stack([h[0, tokens].mean(0).numpy() for h in hidden])
        np.testing.assert_allclose(mine[w], want, rtol=2e-3, atol=2e-3)




@pytest.fixture(scope="module")
def gold_run(tiny_bert_dir, tmp_path_factory):
    import os

    corpus = os.path.join(os.path.dirname(headlens.__file__), "data", "en_ewt-ud-dev-sample.conllu")
    return headlens.run(out=str(tmp_path_factory.mktemp("gold") / "r"), model=tiny_bert_dir, corpus=corpus,
                        progress=False, analyses=("layers",), options={"layers": {"max_words": 2000}})


@pytest.fixture(scope="module")
def probed(gold_run):
    """The layers statistics of ``gold_run``, saved as its output "default" (checked, and drawn, below).
    5 epochs of the structural probe, not 30: only its intervals' bounds are checked here (what it
    learns: test_the_structural_probe_recovers_a_planted_tree_metric); its training took 80 % of the time."""
    return headlens.layers(gold_run, n_boot=200, epochs=5, save=True)


def test_probes_on_a_random_model_have_their_intervals_baselines_and_controls(gold_run, probed):
    result = probed
    upos = result.tables["upos"].to_pylist()
    info = result.summary["probes"]["upos"]
    assert [r["layer"] for r in upos] == [0, 1, 2] and info["classes"] > 10
    for r in upos:
        assert r["accuracy_low"] <= r["accuracy"] <= r["accuracy_high"]
        assert r["control_low"] <= r["control"] <= r["control_high"]
        assert r["accuracy"] > info["majority_accuracy"]  # word identity alone beats the majority class
        assert abs(r["selectivity"]) < 0.1  # a random model: the probe does no better than memorising types
    assert {"relation", "structural"} <= set(result.tables) and set(result.summary["skipped"]) == {"sentence"}
    assert "labelled corpus" in result.summary["skipped"]["sentence"]
    for r in result.tables["structural"].to_pylist():
        assert 0 <= r["uuas_low"] <= r["uuas"] <= r["uuas_high"] <= 1 and -1 <= r["spearman"] <= 1
    tables, params = __import__("headlens.store.outputs", fromlist=["x"]).read_outputs(gold_run, "layers")
    assert set(tables) >= {"upos", "relation", "senses", "pca", "pca_points"} and params["words"] <= 2000
    senses = tables["senses"].to_pylist()
    assert [r["layer"] for r in senses] == [0, 1, 2] and params["senses"]["lemmas"] == senses[0]["lemmas"] >= 2
    for r in senses:
        assert r["spread_low"] <= r["spread"] <= r["spread_high"] and r["ratio_low"] <= r["ratio"] <= r["ratio_high"]
    points = tables["pca_points"]
    assert tables["pca"].num_rows == 3 * points.num_rows and points.num_rows == min(params["words"], 2000)
    word = points.to_pylist()[0]
    assert word["form"] in word["text"].split(" ")  # the hover shows the word in its sentence


def test_the_split_never_puts_a_sentence_on_both_sides():
    from headlens.analyses.layers.probes import control_labels, split

    ids = np.repeat(np.arange(50), 7)
    test = split(ids, 0.2, 0)
    assert len(test) == 10 and len(set(test) & set(np.setdiff1d(ids, test))) == 0
    types = np.asarray(["a", "b", "a", "c", "b", "a"])
    control = control_labels(types, np.asarray(["X", "Y", "X", "Y", "X", "Z"]), 0)
    assert control[0] == control[2] == control[5] and control[1] == control[4]  # one label per type
    with pytest.raises(ValueError, match="at least 2 sampled sentences"):
        split(np.zeros(5, np.int64), 0.2, 0)


def test_plain_text_gets_a_clear_message_for_the_syntax_probes(tiny_bert_dir, corpus, tmp_path):
    result = headlens.layers(_run(tiny_bert_dir, corpus, tmp_path / "r"), n_boot=50)
    skipped = result.summary["skipped"]
    assert set(skipped) == {"upos", "relation", "structural", "sentence", "senses"} and "--label-column" in skipped["sentence"]
    assert all("gold syntax" in skipped[t] and "spacy" in skipped[t] for t in ("upos", "relation", "structural"))
    assert "gold lemmas" in skipped["senses"] and "LEMMA" in skipped["senses"] and "senses" not in result.tables
    assert result.tables["pca_points"].num_rows == result.summary["words"]  # fewer words than POINTS: all of them


def _planted(n_sentences: int, seed: int):
    """Sentences whose vectors hold a tree metric in 24 of 48 dimensions: each word is the sum of
    orthonormal edge vectors on its path from the root, so the squared distance is the tree distance;
    the other dimensions are large noise."""
    rng = np.random.default_rng(seed)
    sentences, heads = [], []
    for _ in range(n_sentences):
        n = int(rng.integers(6, 12))
        h = np.asarray([-1] + [int(rng.integers(0, i)) for i in range(1, n)])
        perm = rng.permutation(n)  # the root anywhere, heads renumbered
        inv = np.argsort(perm)
        h = np.asarray([-1 if h[inv[i]] < 0 else perm[h[inv[i]]] for i in range(n)])
        basis = np.linalg.qr(rng.normal(size=(24, 24)))[0][:, :n]  # an orthonormal vector per word's edge
        x = np.zeros((n, 48))
        for i in range(n):
            j = i
            while h[j] >= 0:
                x[i, :24] += basis[:, j]
                j = h[j]
        x[:, 24:] = rng.normal(scale=3.0, size=(n, 24))
        sentences.append(x.astype(np.float32))
        heads.append(h)
    return sentences, heads


def test_the_structural_probe_recovers_a_planted_tree_metric():
    from headlens.analyses.layers.structural import evaluate, train, tree_distances

    train_x, train_h = _planted(200, 0)
    b = train(train_x, [tree_distances(h) for h in train_h], rank=24, epochs=60, seed=0, lr=1e-2)
    test_x, test_h = _planted(30, 1)
    got = evaluate(b, test_x, test_h)
    assert got["correct"].sum() / got["edges"].sum() == 1.0  # UUAS
    assert np.nanmean(got["spearman"]) > 0.95
    assert np.nanmean(got["raw_spearman"]) < 0.5  # the noise hides the tree from the plain distance


def test_linear_cka_is_one_on_itself_invariant_to_rotation_and_scale_not_to_any_linear_map():
    from headlens.analyses.layers.geometry import linear_cka

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 20)) @ rng.normal(size=(20, 20))  # correlated features
    q = np.linalg.qr(rng.normal(size=(20, 20)))[0]
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, 3.7 * x @ q) == pytest.approx(1.0, abs=1e-10)
    m = np.diag(np.geomspace(0.05, 20, 20)) @ rng.normal(size=(20, 20))  # invertible, far from orthogonal
    assert abs(np.linalg.det(m)) > 1e-6 and linear_cka(x, x @ m) < 0.95
    y = rng.normal(size=(300, 20))
    assert linear_cka(x, y) < 0.3  # unrelated features
    with pytest.raises(ValueError, match="same items"):
        linear_cka(x, y[:10])


def test_context_sensitivity_tells_fixed_from_contextual_vectors():
    from headlens.analyses.layers.geometry import context_sensitivity

    rng = np.random.default_rng(0)
    sentences = np.repeat(np.arange(60), 8)
    types = rng.integers(0, 20, len(sentences)).astype(str)
    static = rng.normal(size=(20, 16))[types.astype(int)]  # layer 0: the type's vector whatever the context
    context = rng.normal(size=(60, 16))[sentences] + 0.3 * rng.normal(size=(len(sentences), 16))  # layer 1: the sentence's
    rows = context_sensitivity(np.stack([static, context], 1), sentences, types, 0)
    assert rows[0]["self_similarity"] == pytest.approx(1.0) and rows[0]["types"] == 20
    assert rows[1]["self_similarity_adjusted"] < 0.2 < rows[0]["self_similarity_adjusted"]
    assert rows[1]["intra_similarity_adjusted"] > rows[0]["intra_similarity_adjusted"] + 0.3


def test_compare_matches_words_and_gives_cka_one_against_itself(gold_run, capsys):
    from headlens.analyses.layers.compare import compare
    from headlens.cli import main

    tables, summary = compare(gold_run, gold_run)
    rows = tables["cka"].to_pylist()
    assert len(rows) == 9 and summary["words"] == summary["words_a"] and "probes" not in tables
    assert all(r["cka"] == pytest.approx(1.0) for r in rows if r["layer_a"] == r["layer_b"])
    assert main(["layers", "compare", gold_run.path, gold_run.path, "--name", "self", "--n-boot", "100"]) == 0
    out = capsys.readouterr().out
    assert "upos layer 2:" in out and "relation layer 0:" in out and "delta +0.000" in out
    assert main(["layers", "compare", gold_run.path]) != 0
    assert "takes two runs (RUN_A RUN_B)" in capsys.readouterr().err


def test_compare_refuses_runs_that_do_not_hold_the_same_words(gold_run, monkeypatch):
    from headlens.analyses.layers import compare as cmp
    from headlens.errors import ConfigError

    (a, s), read_ = read(gold_run), cmp.data.read
    other = a.subset(np.arange(len(a.form)))
    other.form = other.form.copy()
    other.form[5] = other.form[5] + "x"  # another corpus: the same places, another word
    b = __import__("types").SimpleNamespace(path="B")
    monkeypatch.setattr(cmp.data, "read", lambda run: (other, s) if run is b else read_(run))
    with pytest.raises(ConfigError, match=r"do not hold the same words: 1 of \d+ .* first word \d+ of sentence \d+"):
        cmp.shared(gold_run, b)


def _planted_words(seed: int, planted: bool):
    """200 sentences of 8 words, 4 UPOS tags, 40 word types; layer 1 holds the tag when ``planted``."""
    from headlens.analyses.layers.data import WordSample

    rng = np.random.default_rng(seed)
    n = 200 * 8
    tags = rng.integers(0, 4, n)
    x = rng.normal(size=(n, 2, 12))
    if planted:
        x[:, 1, :4] += 3 * np.eye(4)[tags]
    return WordSample(sentences=np.repeat(np.arange(200), 8), index=np.tile(np.arange(8), 200),
                      vectors=x.astype(np.float16), form=rng.integers(0, 40, n).astype(str),
                      upos=np.asarray(["NOUN", "VERB", "ADJ", "ADP"])[tags], head=np.full(n, -2),
                      deprel=np.full(n, ""))


def test_probe_deltas_find_a_planted_layer_and_only_that_one():
    from headlens.analyses.layers.compare import probe_deltas
    from headlens.analyses.layers.options import LayersSettings

    a = _planted_words(0, planted=False)
    b = _planted_words(0, planted=True)
    b.vectors[:, 0] = a.vectors[:, 0]  # layer 0 the same in both runs
    table, summary = probe_deltas(a, b, LayersSettings(n_boot=500))
    rows = {r["layer"]: r for r in table.to_pylist()}
    assert rows[0]["delta"] == 0 and rows[0]["q"] == 1.0
    assert rows[1]["delta_low"] > 0.3 and rows[1]["q"] < 0.01 and rows[1]["p"] <= rows[1]["q"]
    assert rows[1]["accuracy_b"] > 0.9 > 0.5 > rows[1]["accuracy_a"]
    assert "needs gold syntax" in summary["skipped"]["relation"] and summary["layers_compared"] == 2


def test_a_labelled_tsv_stores_each_sentence_label_and_gets_the_sentence_probe(tiny_bert_dir, tmp_path):
    from headlens import CorpusSpec

    path = tmp_path / "labelled.tsv"
    lines = [(str(k % 2), LINES[k % len(LINES)] + f" number {k}") for k in range(40)]
    path.write_text("".join(f"{label}\t{text}\n" for label, text in lines), encoding="utf-8")
    spec = CorpusSpec(str(path), format="tsv", text_column=1, label_column=0)
    run = headlens.run(out=str(tmp_path / "r"), model=tiny_bert_dir, corpus=spec, progress=False, analyses=("layers",),
                       options={"layers": {"max_sentences": 30}})
    _, sentences = read(run)
    assert len(sentences.ids) == 30 and [sentences.labels[k] for k in range(30)] == [lines[i][0] for i in sentences.ids]
    result = headlens.layers(run, n_boot=50)
    table = result.tables["sentence"].to_pylist()
    assert {r["task"] for r in table} == {"sentence_pooled", "sentence_cls"} and len(table) == 2 * 3
    assert "sentence" not in result.summary["skipped"] and result.summary["probes"]["sentence"]["cls"]["classes"] == 2


def test_the_sentence_probe_finds_a_planted_label_and_the_control_does_not():
    from headlens.analyses.layers.data import SentenceSample
    from headlens.analyses.layers.options import LayersSettings
    from headlens.analyses.layers.stats import sentence_probe

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    x = rng.normal(size=(600, 2, 2, 16))
    x[:, 1, 0, :3] += 3 * np.eye(3)[labels]  # layer 1, pooled vector: the label; [CLS]: nothing
    table, summary = sentence_probe(SentenceSample(np.arange(600), x.astype(np.float16), labels.astype(str)),
                                    LayersSettings(n_boot=200))
    rows = {(r["task"], r["layer"]): r for r in table.to_pylist()}
    assert rows["sentence_pooled", 1]["accuracy"] > 0.9 and rows["sentence_pooled", 1]["selectivity_low"] > 0.4
    for key in (("sentence_pooled", 0), ("sentence_cls", 0), ("sentence_cls", 1)):
        assert rows[key]["accuracy_low"] < 0.5 and abs(rows[key]["selectivity"]) < 0.15


def test_figures_draw_the_curves_the_compare_panel_and_a_pca_panel_per_layer(gold_run, probed, tmp_path):
    from headlens.analyses.layers.cli import _compare
    from headlens.analyses.layers.figures import draw_layers
    from headlens.analyses.layers.options import LayersSettings
    from headlens.render.plot import Writer

    _compare(gold_run, gold_run, LayersSettings(n_boot=50, name="fig", compare_probes=False))
    w = Writer(str(tmp_path), "svg", 100)
    draw_layers(w, {"run": {"path": gold_run.path}})
    panels = {os.path.basename(f.path): f.panels for f in w.files}
    assert panels["layers-default.svg"] == 6  # accuracy, selectivity, UUAS, Spearman, self-similarity, word senses
    assert panels["layers-compare-fig.svg"] == 1  # CKA (no probe deltas asked for)
    assert panels["layers-pca.svg"] == 3  # one per layer of the tiny model (embeddings, 2 blocks)
    text = open(os.path.join(tmp_path, "layers-default.svg"), encoding="utf-8").read()
    assert "upos" in text and "relation" in text and "structural" in text


def _senses_planted(seed: int):
    """30 sentences each of 'bank' (two senses: half near one centre, half near another), 'cat' (one
    sense) and 8 filler lemmas; layer 0 the lemma's static vector, layer 1 the sense geometry."""
    rng = np.random.default_rng(seed)
    lemmas, sentences, layer1 = [], [], []
    centres = rng.normal(size=(12, 32)) * 4
    for s in range(300):
        lemma = ["bank", "cat", *[f"w{k}" for k in range(8)]][s % 10]
        centre = {"bank": 0 if s % 20 < 10 else 1, "cat": 2}.get(lemma, 3 + int(lemma[1:]) if lemma[0] == "w" else 0)
        lemmas.append(lemma)
        sentences.append(s)
        layer1.append(centres[centre] + rng.normal(size=32))
    lemmas = np.asarray(lemmas)
    static = {lemma: rng.normal(size=32) for lemma in np.unique(lemmas)}
    layer0 = np.stack([static[x] for x in lemmas]) + 0.01 * rng.normal(size=(300, 32))
    return np.stack([layer0, np.stack(layer1)], 1), np.asarray(sentences), lemmas


def test_word_sense_spread_is_larger_for_a_lemma_used_in_two_senses():
    from headlens.analyses.layers.senses import lemma_spreads, word_senses

    vectors, sentences, lemmas = _senses_planted(0)
    names, spread, between, base = lemma_spreads(vectors, sentences, lemmas, seed=0)
    ratio = dict(zip(names, spread[:, 1] / between[:, 1]))
    assert len(names) == 10 and ratio["bank"] > 2 * ratio["cat"]  # two clusters vs one
    assert ratio["bank"] > max(v for k, v in ratio.items() if k != "bank")
    assert spread[:, 0].max() < 0.01  # a static layer: every lemma's occurrences coincide
    rows, summary = word_senses(vectors, sentences, lemmas, seed=0, n_boot=200)
    assert summary["most_spread_last_layer"][0]["lemma"] == "bank" and rows[1]["ratio"] > rows[0]["ratio"]
    assert rows[0]["spread_adjusted"] < 0 and rows[1]["ratio_low"] <= rows[1]["ratio"] <= rows[1]["ratio_high"]
    with pytest.raises(ValueError, match="at least 2 lemmas"):
        word_senses(vectors, sentences, np.where(lemmas == "cat", "cat", ""), seed=0)


def test_word_senses_are_the_same_whatever_the_batch_size(tiny_bert_dir, tmp_path):
    from headlens.analyses.layers.senses import word_senses

    corpus = os.path.join(os.path.dirname(headlens.__file__), "data", "en_ewt-ud-dev-sample.conllu")
    common = dict(model=tiny_bert_dir, corpus=headlens.CorpusSpec(corpus, limit=150), progress=False, analyses=("layers",),
                  dtype="float64", options={"layers": {"max_words": 400}})
    found = []
    for k, tokens in enumerate((64, 4096)):
        run = headlens.run(out=str(tmp_path / f"r{k}"), max_tokens=tokens, **common)
        words, _ = read(run)
        found.append(word_senses(words.vectors, words.sentences, words.lemma, seed=0, n_boot=100)[0])
    assert found[0][0]["lemmas"] >= 2
    for a, b in zip(*found):
        assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], abs=2e-3) for k in a)


def test_too_few_repeated_lemmas_skip_word_senses_with_the_reason_and_the_rest_runs(gold_run, monkeypatch):
    from headlens.analyses.layers import stats

    def few(*args, **kw):
        raise ValueError("word-sense geometry needs at least 2 lemmas found in >= 5 sentences of the sample, got 1")

    monkeypatch.setattr(stats, "word_senses", few)
    result = headlens.layers(gold_run, n_boot=20, epochs=1)
    assert "at least 2 lemmas" in result.summary["skipped"]["senses"] and "senses" not in result.tables
    assert {"upos", "relation", "structural", "context", "pca"} <= set(result.tables)
