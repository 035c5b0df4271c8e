"""The fused attention path equals the eager maps (runner/fused.py, metrics/fused.py).

Every metric with a fused Need is computed from the kernel's log-sum-exp, its extra value
columns and diagonal pair gathers; here each is compared with the same metric on the eager
implementation's maps, on tiny models of every family, on the real MiniLM from 8 to 512 tokens
with pairs and mixed padding, and on exact (uniform) cases.
"""

import json
import math
import random

import numpy as np
import pytest
import torch
from conftest import UD_DEV, require_shared, write
from tiny import make_tiny, make_tiny_bert

import headlens
from headlens.corpus import CorpusSpec
from headlens.errors import ConfigError
from headlens.analyses.registry import available
from headlens.metrics.fused import FusedLayer, Need
from headlens.models import load_model
from headlens.runner.fused import stack_size

TOL = 1e-5  # float32: fused against eager, every metric (docs/performance.md)
FAMILIES = ("bert", "roberta", "distilbert", "electra", "albert")
DEFAULT = ("surface", "roles", "categories", "features", "patterns")  # every metric of these is fused
ANALYSES = ("surface", "surface_rows", "roles", "features", "patterns")
TSV = ("the cat sat on the mat .\tthe dog ran to the house , he said !\n"
       "new york is a city .\tgood\n"
       "playing dogs ran unable to go .\tthe man went to the city and the woman said hello .\n"
       "hello\tworld\n")


def _values(run) -> dict:
    t = run.scores().to_pydict()
    return {k: v for k, v in zip(zip(t["sentence_id"], t["layer"], t["head"], t["metric"]), t["value"])}


def _both(tmp_path, **kw) -> tuple[dict, dict, dict]:
    """(eager scores, fused scores, the fused run's manifest) of the same run (the fused path forced:
    ``auto`` may take the eager maps for short batches, runner/cost.py)."""
    out = {}
    for attention in ("eager", "fused"):
        run = headlens.run(out=str(tmp_path / attention), attention=attention, progress=False, **kw)
        out[attention] = run
    with open(out["fused"].path + "/manifest.json") as fh:
        manifest = json.load(fh)
    return _values(out["eager"]), _values(out["fused"]), manifest


def _max_diff(a: dict, b: dict) -> dict[str, float]:
    """Per metric, the largest |a - b| / max(1, |a|): absolute for probabilities and entropies,
    relative for the sieve scores, which are ratios to uniform attention (up to N times a mass)."""
    assert a.keys() == b.keys()  # the same sentences, layers, heads and metrics are defined
    worst: dict[str, float] = {}
    for key, value in a.items():
        both_nan = math.isnan(value) and math.isnan(b[key])
        worst[key[3]] = max(worst.get(key[3], 0.0), 0.0 if both_nan else abs(value - b[key]) / max(1.0, abs(value)))
    return worst


@pytest.fixture(scope="module", params=FAMILIES)
def family_dir(request, tmp_path_factory):
    return make_tiny(request.param, str(tmp_path_factory.mktemp(request.param)), max_positions=128)


@pytest.mark.parametrize("aggregation", ["clark", "first", "mean"])
def test_fused_equals_eager_on_every_family(family_dir, aggregation, tmp_path):
    corpus = write(tmp_path, "pairs.tsv", TSV)
    eager, fused, manifest = _both(
        tmp_path, model=family_dir, corpus=CorpusSpec(corpus, format="tsv", text_column=0, text_b_column=1),
        annotator="regex", word_aggregation=aggregation, max_tokens=64,  # several batches with padding
        analyses=ANALYSES)
    worst = _max_diff(eager, fused)
    assert {"role_block", "pattern_segment", "feat_recv_sep", "word_prev", "word_entropy"} <= set(worst)
    assert max(worst.values()) < TOL, worst
    paths = manifest["attention"]["metrics"]
    assert manifest["attention"]["path"] == "fused"
    assert {m for m, p in paths.items() if p == "full-rows"} == {"word_entropy", "word_cls_entropy"}
    assert all(p == "fused" for m, p in paths.items() if m not in ("word_entropy", "word_cls_entropy"))


GOLD = [
    [("the", "DET", 2, "det"), ("cat", "NOUN", 3, "nsubj"), ("sat", "VERB", 0, "root"), ("not", "PART", 3, "advmod"),
     ("on", "ADP", 7, "case"), ("the", "DET", 7, "det"), ("mat", "NOUN", 3, "obl"), (".", "PUNCT", 3, "punct")],
    [("playing", "VERB", 0, "root"), ("dogs", "NOUN", 1, "obj"), ("unable", "ADJ", 2, "amod"),
     ("he", "PRON", 5, "nsubj"), ("ran", "VERB", 1, "parataxis")],
]


def _gold_corpus(tmp_path) -> CorpusSpec:
    conllu = "".join(
        f"# sent_id = s{i}\n# text = {' '.join(f for f, _, _, _ in words)}\n"
        + "".join(f"{k + 1}\t{f}\t{f}\t{u}\t_\t_\t{h}\t{r}\t_\t_\n" for k, (f, u, h, r) in enumerate(words)) + "\n"
        for i, words in enumerate(GOLD))
    return CorpusSpec(write(tmp_path, "gold.conllu", conllu), format="conllu")


@pytest.mark.parametrize("aggregation", ["clark", "mean"])
def test_fused_equals_eager_with_gold_syntax(tiny_bert_dir, tmp_path, aggregation):
    """Gold UPOS and arcs: categories, features of interest and the syntactic sieve on the fused path."""
    eager, fused, manifest = _both(tmp_path, model=tiny_bert_dir, corpus=_gold_corpus(tmp_path),
                                   analyses=DEFAULT, word_aggregation=aggregation)
    worst = _max_diff(eager, fused)
    assert {"cat_pref", "feat_recv_noun", "feat_recv_subject", "role_syn_nsubj_d2h", "role_syn_all_h2d"} <= set(worst)
    assert max(worst.values()) < TOL, worst
    assert set(manifest["attention"]["metrics"].values()) == {"fused"}


@pytest.mark.parametrize("size", [1, 2])
def test_layers_stacked_in_groups_equal_eager(tmp_path, monkeypatch, size):
    """The fused metrics reduce several layers at once (runner.fused.LayerStack): with stacks of 1
    or 2 of 3 layers (the last stack shorter) every value lands at its own layer and head."""
    model = make_tiny_bert(str(tmp_path / "bert3"), layers=3)
    monkeypatch.setattr("headlens.runner.fused.stack_size", lambda *a: size)
    eager, fused, _ = _both(tmp_path, model=model, corpus=_gold_corpus(tmp_path), analyses=DEFAULT)
    assert {layer for _, layer, _, _ in fused} == {0, 1, 2}
    worst = _max_diff(eager, fused)
    assert max(worst.values()) < TOL, worst


@pytest.mark.parametrize("aggregation", ["clark", "first", "mean"])
def test_stored_word_maps_equal_the_dense_aggregation(tiny_bert_dir, tmp_path, aggregation):
    """runner.maps.word_maps sums into each token's unit what R @ A @ C computes with dense matrices."""
    from headlens.align.encode import Encoder
    from headlens.corpus.reader import Corpus
    from headlens.metrics.view import aggregate
    from headlens.runner.batch import Batch
    from headlens.runner.maps import word_maps

    lm = load_model(tiny_bert_dir)
    items = Encoder(lm.tokenizer, 64).encode(list(Corpus(_gold_corpus(tmp_path))))
    assert any((np.bincount(e.token_unit[e.token_unit >= 0]) > 1).any() for e in items)  # words of several tokens
    torch.manual_seed(0)
    for enc in items:
        n, u = enc.n_tokens, enc.n_units
        attn = torch.softmax(torch.randn(2, 3, n, n), -1)
        batch = Batch([enc], torch.device("cpu"), torch.float32, words=True, aggregation=aggregation)
        dense = aggregate(attn, batch.row_agg[:, :u, :n].expand(2, u, n).contiguous(),
                          batch.col_agg[:, :n, :u].expand(2, n, u).contiguous())
        np.testing.assert_allclose(word_maps(enc, attn.numpy(), aggregation), dense.numpy(), atol=1e-6, rtol=0)


def test_stack_size_fits_the_budget_and_evens_out_the_layers():
    assert stack_size(6, 10, 60) == 6
    assert stack_size(6, 10, 50) == 3  # 5 fit: two stacks, of 3 each rather than 5 and 1
    assert stack_size(12, 10, 1) == 1  # at least one layer
    assert stack_size(7, 10, 30) == 3  # stacks 3, 3, 1


def test_mpnet_takes_the_eager_path_and_says_why(tmp_path):
    model = make_tiny("mpnet", str(tmp_path / "mpnet"))
    corpus = write(tmp_path, "c.txt", "the cat sat on the mat .\nhello world\n")
    run = headlens.run(out=str(tmp_path / "run"), model=model, corpus=corpus, annotator="regex", progress=False)
    with open(run.path + "/manifest.json") as fh:
        attention = json.load(fh)["attention"]
    assert attention["path"] == "eager" and "attention interface" in attention["why"]
    assert set(attention["metrics"].values()) == {"eager"}
    with pytest.raises(ConfigError, match="fused attention path is not available"):
        headlens.run(out=str(tmp_path / "run2"), model=model, corpus=corpus, annotator="regex", progress=False,
                     attention="fused")


@pytest.mark.parametrize("attention", ["auto", "fused", "eager"])
def test_uniform_attention_is_exact_on_both_paths(tiny_bert_dir, tmp_path, monkeypatch, attention):
    """Zero query/key projections: every row is uniform over the n valid keys."""
    lm = load_model(tiny_bert_dir, dtype="float64")
    for layer in lm.model.encoder.layer:
        for lin in (layer.attention.self.query, layer.attention.self.key):
            torch.nn.init.zeros_(lin.weight)
            torch.nn.init.zeros_(lin.bias)
    monkeypatch.setattr("headlens.pipeline.load_model", lambda *a, **k: lm)
    corpus = write(tmp_path, "c.txt", "the cat sat on the mat .\nnew york\nplaying dogs ran , he said !\n")
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=corpus, annotator="regex",
                       dtype="float64", progress=False, attention=attention, max_tokens=16)
    n = {r["sentence_id"]: r["n_tokens"] for r in run.sentences().to_pylist()}
    values = _values(run)
    for (sid, _, _, metric), value in values.items():
        if metric in ("cls", "self", "prev", "next", "sep", "sep_sep"):  # one [CLS], one [SEP]
            assert value == pytest.approx(1.0 / n[sid], rel=1e-12), metric
        elif metric in ("entropy", "cls_entropy"):
            assert value == pytest.approx(math.log(n[sid]), rel=1e-12), metric


def test_cost_model_takes_the_eager_maps_for_short_full_batches_only():
    """runner/cost.py on MiniLM's shape (6 x 12). Against the flash calls: the eager maps below about
    90 padded tokens for full batches; the fused path for long batches, for a batch of a few sentences,
    and where the eager path would pay one more pass for the stored maps of a small batch. Against the
    one-pass kernel: the eager maps for the shortest full batches only."""
    from headlens.runner.cost import COSTS, cheaper

    assert cheaper(6, 12, 128, 32) == "eager" and cheaper(6, 12, 64, 64) == "eager"
    assert cheaper(6, 12, 16, 512) == "fused" and cheaper(6, 12, 64, 128) == "fused"
    assert cheaper(6, 12, 1, 32) == "fused"  # a batch of one: the stacked layers make fewer calls
    assert cheaper(6, 12, 16, 32) != cheaper(6, 12, 16, 32, kept=16) == "fused"
    assert cheaper(6, 12, 128, 16, kernel="onepass") == "eager"
    assert cheaper(6, 12, 128, 32, kernel="onepass") == cheaper(6, 12, 32, 32, kernel="onepass") == "fused"
    for eager, fused in COSTS.values():
        for length in (64, 128, 256):  # the eager cost grows faster with the length
            assert eager.ms(6, 12, 32, 2 * length) / eager.ms(6, 12, 32, length) > fused.ms(6, 12, 32, 2 * length) / fused.ms(6, 12, 32, length)


_MIXED = ["the cat sat .", "new york is a city .", "a dog ran to the house , he said !", "hello world",
          "playing dogs ran unable to go .", "the man went to the city and the woman said hello ."]


def test_auto_mixes_the_paths_per_batch_with_equal_results(tiny_bert_dir, tmp_path, monkeypatch):
    """attention="auto" scores each batch on the path the cost model picks (here: eager up to 8
    padded tokens); a run whose batches took both paths equals the eager and the fused runs, and its
    manifest counts the batches of each path."""
    monkeypatch.setattr("headlens.runner.cost.cheaper", lambda layers, heads, b, t, kept=0, kernel="flash": "eager" if t <= 8 else "fused")
    corpus = write(tmp_path, "mixed.txt", "\n".join(_MIXED * 3) + "\n")
    runs = {a: headlens.run(out=str(tmp_path / a), model=tiny_bert_dir, corpus=corpus, annotator="regex", progress=False,
                            attention=a, max_batch=4, analyses=ANALYSES) for a in ("auto", "eager", "fused")}
    batches = runs["auto"].manifest["attention"]["batches"]
    assert batches["eager"] > 0 and batches["fused"] > 0
    assert runs["fused"].manifest["attention"]["batches"]["eager"] == 0
    assert runs["eager"].manifest["attention"]["batches"]["fused"] == 0
    assert "per batch" in runs["auto"].manifest["attention"]["choice"]
    auto = _values(runs["auto"])
    for other in ("eager", "fused"):
        worst = _max_diff(_values(runs[other]), auto)
        assert max(worst.values()) < TOL, (other, worst)


@pytest.mark.integration
def test_auto_on_minilm_takes_both_paths_on_a_mixed_length_corpus(tmp_path, monkeypatch):
    """MiniLM, 96 short sentences (one full batch) on the eager maps and 4 long ones (100 words) on
    the fused path in one run (the choice made by padded length here: the calibrated model takes the
    eager maps for few batches next to the one-pass kernel), equal to the eager and the fused runs."""
    monkeypatch.setattr("headlens.runner.cost.cheaper", lambda layers, heads, b, t, kept=0, kernel="flash": "eager" if t <= 64 else "fused")
    with open(require_shared(UD_DEV), encoding="utf-8") as fh:
        words = [line[len("# text = "):].split() for line in fh if line.startswith("# text = ")]
    short = [" ".join(w[:10]) for w in words[:96]]
    long = [" ".join(sum(words[100 + 20 * i:120 + 20 * i], [])[:100]) for i in range(4)]
    corpus = CorpusSpec(write(tmp_path, "texts.txt", "\n".join(short + long) + "\n"), format="text")
    runs = {a: headlens.run(out=str(tmp_path / a), corpus=corpus, annotator="regex", progress=False, attention=a,
                            long="truncate", analyses=DEFAULT) for a in ("auto", "eager", "fused")}
    assert runs["auto"].manifest["attention"]["batches"] == {"eager": 1, "fused": 1}
    auto = _values(runs["auto"])
    for other in ("eager", "fused"):
        worst = _max_diff(_values(runs[other]), auto)
        assert max(worst.values()) < TOL, (other, worst)


def test_results_do_not_depend_on_batch_composition(tiny_bert_dir, tmp_path):
    corpus = write(tmp_path, "c.txt", "\n".join(["the cat sat on the mat and the dog ran to the house , he said !",
                                                  "hello", "new york is a city .", "a b c d e f g h i j k"]) + "\n")
    runs = [headlens.run(out=str(tmp_path / str(b)), model=tiny_bert_dir, corpus=corpus, annotator="regex",
                         progress=False, max_batch=b) for b in (1, 4)]
    worst = _max_diff(_values(runs[0]), _values(runs[1]))
    assert max(worst.values()) < 1e-6, worst


def test_pair_gathers_equal_the_map_entries():
    torch.manual_seed(0)
    b, h, t, d = 2, 3, 9, 4
    q, k = torch.randn(b, h, t, d), torch.randn(b, h, t, d)
    valid = torch.ones(b, t, dtype=torch.bool)
    valid[1, 6:] = False
    bias = torch.zeros(b, t).masked_fill(~valid, float("-inf"))
    scores = q @ k.transpose(-1, -2) * 0.5 + bias[:, None, None, :]
    probs = scores.softmax(-1)
    queries = torch.randint(0, 6, (b, 40))
    keys = torch.randint(0, 6, (b, 40))
    keys[0, :3] = queries[0, :3]  # some pairs on the diagonal, some far from it
    expected_pairs = probs[torch.arange(b)[:, None], :, queries, keys].transpose(1, 2)  # [B, H, P]
    for reach in (0, 1, 2, 20):  # no band; a band narrower than some pairs; a band wider than the sequence
        layer = FusedLayer(q, k, torch.logsumexp(scores, -1), bias, 0.5, torch.float32, reach=reach)
        for offset in (-3, -1, 0, 1, 4, 9):
            expected = torch.zeros(b, h, t)
            for i in range(t):
                if 0 <= i + offset < t:
                    expected[:, :, i] = probs[:, :, i, i + offset]
            torch.testing.assert_close(layer.pair(offset), expected, atol=1e-6, rtol=0)
        assert layer.pair(1)[1, :, 5].abs().max() == 0  # the key after position 5 is padding
        torch.testing.assert_close(layer.gather(queries, keys), expected_pairs, atol=1e-6, rtol=0)


def test_needs_are_validated():
    with pytest.raises(ValueError, match="key set"):
        Need("mass", "nouns")
    with pytest.raises(ValueError, match="offset"):
        Need("pair", 2)
    with pytest.raises(ValueError, match="queries"):
        Need("entropy", queries="words")


def _long_texts(n_items: int, seed: int) -> list[str]:
    """Texts of UD words, from about 8 to about 512 tokens, in a mixed order (every batch pads)."""
    with open(require_shared(UD_DEV), encoding="utf-8") as fh:
        sentences = [line[len("# text = "):].split() for line in fh if line.startswith("# text = ")]
    rng = random.Random(seed)
    texts = []
    for target in np.geomspace(5, 420, n_items).astype(int):
        words: list[str] = []
        while len(words) < target:
            words += rng.choice(sentences)
        texts.append(" ".join(words[:target]))
    rng.shuffle(texts)
    return texts


@pytest.mark.integration
@pytest.mark.parametrize("pairs", [False, True])
def test_fused_equals_eager_on_minilm_8_to_512_tokens(tmp_path, pairs):
    texts = _long_texts(12, seed=3)
    if pairs:
        lines = [json.dumps({"text": t[: len(t) // 2], "text_b": t[len(t) // 2:] or "."}) for t in texts]
        corpus = CorpusSpec(write(tmp_path, "pairs.jsonl", "\n".join(lines) + "\n"), format="jsonl", text_b_field="text_b")
    else:
        corpus = CorpusSpec(write(tmp_path, "texts.txt", "\n".join(texts) + "\n"), format="text")
    eager, fused, manifest = _both(tmp_path, corpus=corpus, annotator="regex", max_tokens=2048, long="truncate",
                                   sort_window=4, analyses=ANALYSES)
    n_tokens = [r["n_tokens"] for r in headlens.open_run(str(tmp_path / "fused")).sentences().to_pylist()]
    assert min(n_tokens) <= 12 and max(n_tokens) >= 500
    worst = _max_diff(eager, fused)
    assert max(worst.values()) < TOL, worst
    assert manifest["attention"]["path"] == "fused"


@pytest.mark.integration
def test_fused_equals_eager_on_minilm_gold_ud(tmp_path):
    eager, fused, manifest = _both(tmp_path, corpus=CorpusSpec(require_shared(UD_DEV), limit=40), analyses=DEFAULT)
    worst = _max_diff(eager, fused)
    assert set(manifest["attention"]["metrics"]) - set(worst) == {"role_block", "role_block_h", "pattern_segment"}  # pairs only
    assert max(worst.values()) < TOL, worst
    assert set(manifest["attention"]["metrics"].values()) == {"fused"}


# --- full rows, a block of query rows at a time (runner/rows.py) ---------------------------------

ROW_ANALYSES = ("surface_rows", "syntax", "cluster")  # every full-row metric and rows collector of a run


def _npz(run) -> dict:
    import glob
    import os

    out = {}
    for path in sorted(glob.glob(os.path.join(run.path, "maps", "*.npz"))):
        with np.load(path) as z:
            out[os.path.basename(path)] = {k: z[k] for k in ("attention", "word_attention")}
    return out


@pytest.mark.integration  # gold UD sentences from ../shared/data
@pytest.mark.parametrize("block,aggregation", [(3, "clark"), (7, "clark"), (4096, "clark"), (5, "first"), (5, "mean")])
def test_full_row_metrics_and_collectors_in_blocks_equal_eager(tiny_bert_dir, tmp_path, monkeypatch, block, aggregation):
    """surface_rows, syntax (dependency argmax), cluster (JS) and the stored maps, from blocks of
    ``block`` query rows (smaller than T, not dividing it, or all of it), against the eager maps, in
    padded batches of gold UD sentences."""
    from headlens.collect import read_parts

    monkeypatch.setattr("headlens.metrics.view.ROW_BLOCK", block)
    runs = {}
    for attention in ("eager", "fused"):
        runs[attention] = headlens.run(
            out=str(tmp_path / attention), attention=attention, progress=False, model=tiny_bert_dir,
            corpus=CorpusSpec(require_shared(UD_DEV), limit=14), analyses=ROW_ANALYSES, word_aggregation=aggregation,
            max_tokens=96, long="truncate", store_maps=("0", "3", "5"))
    eager, fused = _values(runs["eager"]), _values(runs["fused"])
    worst = _max_diff(eager, fused)
    assert {"word_entropy", "word_cls_entropy", "dep_nsubj_d2h", "dep_all_h2d"} <= set(worst)
    assert max(worst.values()) < TOL, {m: v for m, v in worst.items() if v >= TOL}
    paths = runs["fused"].manifest["attention"]["metrics"]
    assert {m for m, p in paths.items() if p == "full-rows"} == {m for m in paths if m.startswith(("word_", "dep_"))}
    assert {m for m, p in paths.items() if p != "full-rows"} <= {m for m, p in paths.items() if p == "fused"}
    (a,), (b,) = read_parts(runs["eager"], "cluster"), read_parts(runs["fused"], "cluster")
    assert a["tokens"] == b["tokens"]
    np.testing.assert_allclose(b["js_sum"], a["js_sum"], rtol=1e-4, atol=1e-6)
    maps_a, maps_b = _npz(runs["eager"]), _npz(runs["fused"])
    assert len(maps_a) == 3 and maps_a.keys() == maps_b.keys()
    for name, arrays in maps_a.items():
        for key, value in arrays.items():
            np.testing.assert_allclose(maps_b[name][key], value, atol=1e-6, rtol=0)


@pytest.mark.integration  # gold UD sentences from ../shared/data
@pytest.mark.parametrize("block", [1, 3, 5, 100, None])
def test_row_blocks_equal_the_whole_map(tiny_bert_dir, block):
    """Every read of runner/rows.py from q and k, at several block heights, equals the same read of
    the whole map (a word's rows are never split: block 1 still gives whole words)."""
    from headlens.align.encode import Encoder
    from headlens.corpus.reader import Corpus
    from headlens.metrics.arcs import DEFAULT_RELATIONS
    from headlens.analyses.syntax.metrics import predicted
    from headlens.metrics.view import level_blocks, row_statistics, word_map
    from headlens.modelcompare.similarity import map_cosine, rows_cosine
    from headlens.runner.batch import Batch
    from headlens.runner.rows import LayerRows, MapRows

    lm = load_model(tiny_bert_dir)
    sentences = [s for s in Corpus(CorpusSpec(require_shared(UD_DEV), limit=6))]
    batch = Batch(Encoder(lm.tokenizer, 512).encode(sentences), torch.device("cpu"), torch.float32, words=True,
                  relations=DEFAULT_RELATIONS)
    assert batch.n_tokens.min() < batch.n_tokens.max()  # padding
    torch.manual_seed(0)
    b, t, h, d = len(batch), int(batch.n_tokens.max()), 3, 8
    q, k = torch.randn(b, h, t, d), torch.randn(b, h, t, d)
    bias = torch.zeros(b, t).masked_fill(~batch.token_valid, float("-inf"))
    rows = LayerRows(q, k, bias, 0.7, torch.float32)
    attn = rows.full()
    whole = MapRows(attn)
    for start, stop, part in rows.blocks(block):
        torch.testing.assert_close(part, attn[:, :, start:stop], atol=1e-6, rtol=0)
    for i in range(b):
        n = int(batch.n_tokens[i])
        torch.testing.assert_close(rows.sentence_map(i, n, block), attn[i, :, :n, :n], atol=1e-6, rtol=0)
    pb, pi = torch.nonzero(batch.token_valid, as_tuple=True)
    torch.testing.assert_close(rows.pick(pb, pi), whole.pick(pb, pi), atol=1e-6, rtol=0)
    words = batch.word_view(attn)
    torch.testing.assert_close(word_map(rows, batch, block), words.attn, atol=1e-6, rtol=0)
    seen = [(u0, u1) for u0, u1, _ in level_blocks(rows, batch, "word", block)]
    assert seen[0][0] == 0 and seen[-1][1] == words.attn.shape[-1]
    assert all(a[1] == c[0] for a, c in zip(seen, seen[1:]))
    for level, view in (("token", batch.token_view(attn)), ("word", words)):
        stats = row_statistics(level_blocks(rows, batch, level, block),
                               ("row_entropy", "dependency_argmax_d2h", "dependency_argmax_h2d"),
                               view.valid, view.kinds, batch.arcs, h, torch.float32)
        torch.testing.assert_close(stats["row_entropy"], view.row_entropy(), atol=1e-5, rtol=0)
        if level == "word":
            for direction in ("d2h", "h2d"):
                assert torch.equal(stats[("dependency_argmax", direction)], predicted(view, direction))
    other = LayerRows(k, q, bias, 0.5, torch.float32)
    torch.testing.assert_close(rows_cosine(rows, other, batch.token_valid),
                               map_cosine(attn, other.full(), batch.token_valid), atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(3, 1, 1, 9), (3, 4, 1, 9), (2, 4, 1, 32)])
def test_the_cuda_bias_is_aligned_and_unchanged(shape):
    """CUDA's efficient kernel reads the bias's batch and head rows 16 elements at a time
    (runner/fused.py ``_aligned``, verified on an H200 by tests/test_gpu.py)."""
    from headlens.runner.fused import _aligned

    bias = torch.randn(shape)
    aligned = _aligned(bias)
    assert torch.equal(aligned, bias)
    assert all(s % 16 == 0 for s, n in zip(aligned.stride()[:-1], shape[:-1]) if n > 1)
    assert (aligned is bias) == (shape[-1] % 16 == 0)  # a copy only where the rows are misaligned


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_widened_buffers_reused_across_layers_hold_each_layers_values(dtype):
    from headlens.runner.fused import _widened

    torch.manual_seed(0)
    buffers = {}
    shape = (2, 3, 7, 5)
    for _ in range(3):  # three layers of one shape through the same buffers
        q, k, v = (torch.randn(shape, dtype=torch.float16) for _ in range(3))
        columns = torch.rand((2, 3, 7, 4))
        wq, wk, wv = _widened(q, k, [v, k, columns], dtype, buffers)
        assert wq.shape == wk.shape == wv.shape == (2, 3, 7, 16) and wq.dtype == dtype
        assert torch.equal(wq[..., :5], q.to(dtype)) and torch.equal(wk[..., :5], k.to(dtype))
        assert torch.equal(wv[..., :14], torch.cat([v.to(dtype), k.to(dtype), columns.to(dtype)], -1))
        assert not wq[..., 5:].any() and not wk[..., 5:].any() and not wv[..., 14:].any()
    assert len(buffers) == 1
    fresh = _widened(q, k, [v, k, columns], dtype)
    assert all(torch.equal(a, b) for a, b in zip(fresh, (wq, wk, wv)))


def test_a_view_query_mean_equals_query_mean():
    """A view keeps each query mask's weights and count (Memoised.query_mean): the same numbers as
    metrics.fused.query_mean, NaN where a sentence has no query, for a mask reused and a new one."""
    from headlens.metrics.fused import Memoised, query_mean

    class View(Memoised):
        def __init__(self):
            self._cache = {}

    v, x = View(), torch.rand(2, 3, 5)
    mask = torch.tensor([[True, False, True, True, False], [False] * 5])
    for per_query, queries in [(x, mask), (x * 2, mask), (x, mask.clone()), (x.double(), mask)]:
        got = v.query_mean(per_query, queries)
        torch.testing.assert_close(got, query_mean(per_query, queries), rtol=0, atol=0, equal_nan=True)
        assert torch.isnan(got[1]).all() and not torch.isnan(got[0]).any()
    assert len(v._cache) == 3  # the mask and its clone, and the mask again in float64
