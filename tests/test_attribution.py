"""The attribution analysis (methods.md section 7): invariants of each method on tiny random models, the planted
heads, value zeroing against literal zeroed forward passes, flow, and a stored run read back."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from scipy.stats import spearmanr
from tiny import make_tiny_bert
from wired import HEADS, HIDDEN, POSITIONS, make_previous_token_bert

import headlens
from headlens.align import Encoder
from headlens.analyses.attribution import methods as M
from headlens.analyses.attribution.collect import Attributor
from headlens.analyses.attribution.names import METHODS, agree_metric, stat_metric
from headlens.analyses.attribution.reduce import STATS, Masks, agreement, midranks, statistics
from headlens.analyses.registry import resolve
from headlens.corpus import Sentence, Word
from headlens.corpus.types import ROOT
from headlens.errors import ConfigError
from headlens.models import load_model
from headlens.runner import Engine
from headlens.runner.batch import Batch
from headlens.store import layout

TEXTS = ["the cat sat on the mat .", "new york", "a man said hello to the woman in the city ."]


def encode(lm, texts):
    sents = [Sentence(index=i, text=t, source=f"t:{i}") for i, t in enumerate(texts)]
    return Encoder(lm.tokenizer, lm.max_tokens).encode(sents)


def attributed(lm, texts=TEXTS, methods=METHODS, **kw):
    """The collector after one padded batch with every row kept: (collector, values, batch, metric names)."""
    att = Attributor(lm, methods, **kw)
    metrics = resolve(("attribution",), options={"attribution": {"methods": methods}})
    engine = Engine(lm, metrics, collectors=[att])
    batch = engine.batch(encode(lm, texts))
    values, _ = engine.score(batch, keep=list(range(len(texts))))
    return att, values, batch, [m.name for m in metrics]


@pytest.fixture(scope="module")
def tiny64(tmp_path_factory):
    return load_model(make_tiny_bert(str(tmp_path_factory.mktemp("attr-tiny"))), dtype="float64")


def test_rows_are_non_negative_and_sum_to_one_for_every_method(tiny64):
    att, values, batch, names = attributed(tiny64)
    for row, maps in att.done_maps.items():
        n = int(batch.n_tokens[row])
        for m in METHODS:
            assert maps[m].shape == (tiny64.num_layers, n, n)
            assert (maps[m] >= 0).all(), m
            np.testing.assert_allclose(maps[m].sum(-1), 1.0, atol=1e-6, err_msg=m)  # stored in float32
    # one number per sentence and layer, in head slot 0; the other heads stay NaN
    k = names.index(stat_metric("alti", "self"))
    assert np.isfinite(values[:, k, :, 0]).all() and np.isnan(values[:, k, :, 1:]).all()


def test_the_self_metric_is_the_mean_diagonal_of_the_rolled_out_map(tiny64):
    att, values, batch, names = attributed(tiny64)
    for m in METHODS:
        k = names.index(stat_metric(m, "self"))
        for row, maps in att.done_maps.items():
            diag = np.diagonal(maps[m], axis1=-2, axis2=-1).mean(-1)  # [L]
            np.testing.assert_allclose(values[row, k, :, 0], diag, rtol=1e-6)


def _hand_sentence():
    """'the cat sat .' with gold words: the -det-> cat -nsubj-> sat (root) <-punct- ."""
    words = (Word("the", 0, 3, upos="DET", head=1, deprel="det"),
             Word("cat", 4, 7, upos="NOUN", head=2, deprel="nsubj"),
             Word("sat", 8, 11, upos="VERB", head=ROOT, deprel="root"),
             Word(".", 12, 13, upos="PUNCT", head=2, deprel="punct"))
    return Sentence(index=0, text="the cat sat .", source="t:0", words=words)


def test_statistics_of_hand_made_maps(tiny64):
    """[CLS] the cat sat . [SEP], one token per word: the uniform map and the identity, worked out by hand."""
    items = Encoder(tiny64.tokenizer, 64).encode([_hand_sentence()])
    batch = Batch(items, torch.device("cpu"), torch.float64, words=True)
    assert batch.input_ids.shape == (1, 6)
    masks = Masks.build(batch, batch)
    got = {k: v.item() for k, v in statistics(torch.full((1, 6, 6), 1 / 6, dtype=torch.float64), masks).items()}
    want = {"self": 1 / 6, "special": 2 / 6, "punct": 1 / 6,
            "content": (2 + 1 + 1) / 18,  # the: cat, sat; cat: sat; sat: cat
            "function": (0 + 1 + 1) / 18,  # cat: the; sat: the
            "head": 1 / 6,  # the -> cat, cat -> sat (sat is the root)
            "deps": 1 / 6,  # cat <- the, sat <- cat (the punctuation dependent is left out)
            "other": (1 + 0 + 1) / 18,  # the: sat; cat: none; sat: the
            "distance": (1.5 + 1 + 1.5) / 3}
    assert got == pytest.approx(want, abs=1e-12)
    eye = statistics(torch.eye(6, dtype=torch.float64)[None], masks)
    assert eye["self"].item() == 1 and all(eye[k].item() == 0 for k in STATS[1:-1]) and eye["distance"].isnan().all()
    # several methods at once ([B, K, T, T]): each column is that method's own statistics
    uniform, identity = torch.full((1, 6, 6), 1 / 6, dtype=torch.float64), torch.eye(6, dtype=torch.float64)[None]
    both = statistics(torch.stack([uniform, identity], 1), masks)
    for name in STATS:
        torch.testing.assert_close(both[name][:, 0], torch.tensor([want[name]], dtype=torch.float64), equal_nan=True)
        torch.testing.assert_close(both[name][:, 1], eye[name], equal_nan=True)


def test_rollout_of_identity_attention_is_the_identity():
    t = 6
    valid = torch.ones(2, t, dtype=torch.bool)
    probs = torch.eye(t, dtype=torch.float64).expand(2, 3, t, t)
    mixed = M.residual_mixed(probs, valid)
    rolled = M.rollout(torch.stack([mixed] * 4))
    torch.testing.assert_close(rolled, torch.eye(t, dtype=torch.float64).expand(4, 2, t, t))


def test_rollout_rows_sum_to_one_and_padding_stays_zero():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(3, 2, 5, 5, generator=g, dtype=torch.float64)
    valid = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0]], dtype=torch.bool)
    probs = probs * valid[:, None, None, :]
    probs = probs / probs.sum(-1, keepdim=True)
    rolled = M.rollout(torch.stack([M.residual_mixed(probs, valid)] * 3))
    rows = rolled.sum(-1)
    torch.testing.assert_close(rows, valid.to(rows.dtype).expand_as(rows))
    assert (rolled[:, ~valid] == 0).all() and (rolled.transpose(-1, -2)[:, ~valid] == 0).all()


def test_flow_of_one_layer_is_its_residual_mixed_attention():
    g = torch.Generator().manual_seed(1)
    probs = torch.softmax(torch.randn(1, 3, 7, 7, generator=g, dtype=torch.float64), -1)
    mixed = M.residual_mixed(probs, torch.ones(1, 7, dtype=torch.bool))[0].numpy()
    np.testing.assert_allclose(M.attention_flow(mixed[None])[0], mixed, atol=1.0 / M.FLOW_SCALE)


def test_flow_of_a_one_layer_model_run_equals_its_rollout(tmp_path):
    lm = load_model(make_tiny_bert(str(tmp_path / "one"), layers=1), dtype="float64")
    att, *_ = attributed(lm, methods=("rollout",))
    for maps in att.done_maps.values():
        np.testing.assert_allclose(maps["flow"], maps["rollout"], atol=1.0 / M.FLOW_SCALE)


def test_flow_is_bounded_by_the_cut_at_the_output():
    """Two layers: the flow from j to i is at most what enters i (its row sums to 1), and at least the rollout."""
    g = torch.Generator().manual_seed(2)
    probs = torch.softmax(torch.randn(2, 2, 6, 6, generator=g, dtype=torch.float64), -1)
    mixed = M.residual_mixed(probs, torch.ones(2, 6, dtype=torch.bool)).numpy()
    flow = M.attention_flow(mixed)
    assert (flow[1] <= 1 + 1e-6).all() and (flow >= 0).all()
    roll = M.rollout(torch.from_numpy(mixed)).numpy()
    # the paths j -> k -> i use disjoint edges and each carries min(C2_ik, C1_kj) >= C2_ik C1_kj: flow >= rollout
    assert (flow[1] >= roll[1] - 1e-6).all()


def test_spearman_agreement_matches_scipy_with_ties():
    g = torch.Generator().manual_seed(3)
    a = torch.randint(0, 4, (2, 6, 6), generator=g).to(torch.float64)  # many ties
    b = torch.rand(2, 6, 6, generator=g, dtype=torch.float64)
    valid = torch.tensor([[1] * 6, [1] * 4 + [0] * 2], dtype=torch.bool)
    got = agreement(midranks(a, valid), midranks(b, valid), valid)
    for s in range(2):
        n = int(valid[s].sum())
        rhos = [spearmanr(a[s, i, :n], b[s, i, :n]).statistic for i in range(n)]
        assert got[s].item() == pytest.approx(np.nanmean(rhos), abs=1e-12)


@pytest.mark.parametrize("layer", [0, 1])
def test_value_zeroing_equals_literal_zeroed_forward_passes(tiny64, monkeypatch, layer):
    """Zeroing token j's value rows in one layer with a hook on the value projection, then the cosine distance of
    the layer's outputs, rows normalised: the batched closed form must give the same matrix."""
    per_layer = []
    monkeypatch.setattr(M, "value_zeroing", lambda *a, **k: per_layer.append(vz(*a, **k)) or per_layer[-1])
    vz = _VALUE_ZEROING
    _, _, batch, _ = attributed(tiny64, [TEXTS[0]], methods=("rollout", "vz"))
    model = tiny64.model
    inputs = batch.model_inputs()
    t = batch.input_ids.shape[1]
    with torch.no_grad():
        actual = model(**inputs, output_hidden_states=True).hidden_states[layer + 1][0]
        value = model.encoder.layer[layer].attention.self.value
        dist = np.zeros((t, t))
        for j in range(t):
            def zero(module, args, out, j=j):
                out = out.clone()
                out[:, j] = 0
                return out
            handle = value.register_forward_hook(zero)
            try:
                zeroed = model(**inputs, output_hidden_states=True).hidden_states[layer + 1][0]
            finally:
                handle.remove()
            dist[:, j] = 1 - torch.nn.functional.cosine_similarity(zeroed, actual, dim=-1).numpy()
    np.testing.assert_allclose(per_layer[layer][0].numpy(), dist / dist.sum(-1, keepdims=True), atol=1e-9)


_VALUE_ZEROING = M.value_zeroing


def _planted_bert(path: str, target: str, sharpness: float = 8.0) -> str:
    """The wired model of tests/wired.py, whose layer 1 head 1 attends to the previous token, rewired to attend to
    [SEP] or to position 2 instead; its value and output projections are the identity, so that the attention terms
    are as large as the residual (with the random ones they are ~100 times smaller, and every method says "self")."""
    from transformers import BertModel

    make_previous_token_bert(path, sharpness=sharpness)
    model = BertModel.from_pretrained(path, attn_implementation="eager")
    head_dim = HIDDEN // HEADS
    spare = POSITIONS + 1  # a hidden dimension no position uses
    with torch.no_grad():
        first = model.encoder.layer[0].attention
        for lin in (first.self.value, first.output.dense):
            lin.weight.copy_(torch.eye(HIDDEN))
            lin.bias.zero_()
        if target != "previous":
            first.self.query.weight.zero_(), first.self.key.weight.zero_()
            first.self.query.bias[:head_dim] = sharpness  # every query alike: the key alone decides
            if target == "sep":
                model.embeddings.word_embeddings.weight[3, spare] = 1.0  # [SEP] is id 3 in tests/tiny.py's vocabulary
                first.self.key.weight[0, spare] = 1.0
            else:
                first.self.key.weight[0, 2] = 1.0
    model.save_pretrained(path)
    return path


@pytest.mark.parametrize("target", ["previous", "sep", "position"])
@pytest.mark.parametrize("method", ["rollout", "alti"])
def test_planted_sources_come_first(tmp_path_factory, target, method):
    lm = load_model(_planted_bert(str(tmp_path_factory.mktemp(f"planted-{target}")), target), dtype="float64")
    att, _, batch, _ = attributed(lm, TEXTS[::2], methods=("rollout", "alti"))
    for row, maps in att.done_maps.items():
        n = int(batch.n_tokens[row])
        source = {"previous": np.arange(n) - 1, "sep": np.full(n, n - 1), "position": np.full(n, 2)}[target]
        queries = [i for i in range(n) if 0 <= source[i] != i]
        for layer in range(lm.num_layers):  # planted in layer 1, carried through the rollout of layer 2
            rolled = maps[method][layer].copy()
            np.fill_diagonal(rolled, -1)  # the token itself is not a source here
            assert (rolled[queries].argmax(-1) == source[queries]).all(), (target, method, layer)


def test_stored_rollout_equals_rollout_of_the_eager_maps(tiny_bert_dir, tmp_path):
    out = str(tmp_path / "run")
    run = headlens.run(model=tiny_bert_dir, analyses=("attribution",), out=out, progress=False,
                       store_maps=tuple(map(str, range(8))),
                       options={"attribution": {"methods": ["rollout", "alti"]}},
                       corpus=headlens.CorpusSpec(headlens.default_corpus_path(), format="conllu", limit=8))
    lm = load_model(tiny_bert_dir)
    stored_ids = [r["sentence_id"] for r in run.sentences().to_pylist() if r["status"] == "analysed"][:2]
    for sid in stored_ids:
        with np.load(f"{out}/{layout.MAPS}/{layout.map_name(sid, kind='attribution')}{layout.MAP_SUFFIX}") as z:
            stored, ids = z["rollout"], z["input_ids"]
        with torch.no_grad():
            attn = lm.model(input_ids=torch.as_tensor(ids)[None], output_attentions=True).attentions
        valid = torch.ones(1, len(ids), dtype=torch.bool)
        eager = M.rollout(torch.stack([M.residual_mixed(a.double(), valid) for a in attn]))[:, 0].numpy()
        np.testing.assert_allclose(stored, eager, atol=1e-6)
    assert {stat_metric("alti", "head"), agree_metric("rollout", "alti")} <= set(run.metrics)
    assert stat_metric("vz", "self") not in run.metrics
    table = pq.read_table(f"{out}/attribution/default/layers.parquet")  # the run's finalizer left the summary
    assert set(table["method"].to_pylist()) == {"rollout", "alti"}
    assert table.num_rows == 2 * 9 * lm.num_layers


def test_runs_beside_the_decomposition_each_filling_its_own_metrics(tiny64):
    from headlens.decompose.analysis import Decomposer

    metrics = resolve(("decomposition", "attribution"), options={"attribution": {"methods": ["rollout"]}})
    engine = Engine(tiny64, metrics, collectors=[Decomposer(tiny64), Attributor(tiny64, ("rollout",))])
    values, _ = engine.score(engine.batch(encode(tiny64, TEXTS)))
    names = [m.name for m in metrics]
    assert np.isfinite(values[:, names.index("dec_fnorm")]).all()
    assert np.isfinite(values[:, names.index(stat_metric("rollout", "self")), :, 0]).all()


def test_compare_tests_attribution_metrics_per_layer(tmp_path):
    """Two models on one corpus: ``headlens compare`` tests each attribution metric per layer; the head slots other
    than the first hold no values, so the per-head family does not count them."""
    spec = headlens.CorpusSpec(headlens.default_corpus_path(), format="conllu", limit=20)
    runs = [headlens.run(model=make_tiny_bert(str(tmp_path / f"m{seed}"), seed=seed), analyses=("attribution",),
                         out=str(tmp_path / f"r{seed}"), progress=False, corpus=spec,
                         options={"attribution": {"methods": ["rollout", "alti"]}}) for seed in (0, 1)]
    changes, _ = headlens.compare(*runs, min_n=2, metrics=[stat_metric("alti", "self")])
    layers = changes.layers.to_pylist()
    assert len(layers) == 2 and all(r["n"] >= 2 and r["p"] is not None for r in layers)
    heads = [r for r in changes.heads.to_pylist() if r["head"] > 0]
    assert heads and all(r["n"] == 0 and r["p"] is None and not r["changed"] for r in heads)
    assert changes.families["heads"]["t"]["size"] == 2  # only the first head slot of each layer is tested


def alti_of_the_whole_batch(parts, w, valid):
    """ALTI by its definition, from the ATB vectors of the whole padded batch at once (no chunks, no groups)."""
    from headlens.decompose.terms import atb_inputs, atb_pairs, ln_scale

    x, y = parts["value.in"], parts["attention_norm.out"]
    s1 = ln_scale(parts["attention_norm.in"], w.ln1[2])
    a, fl, x_ln = atb_inputs(x, parts["value.out"], parts.probs.to(x.dtype), s1, w)
    z = atb_pairs(a, fl, x_ln, slice(0, x.shape[1]))  # [B, Tj, Ti, d]
    dist = (y.unsqueeze(1) - z).abs().sum(-1)
    return M.normalise_rows((y.abs().sum(-1).unsqueeze(1) - dist).clamp_min(0).transpose(1, 2), valid)


def test_length_groups_bound_the_padding_and_cover_every_sentence():
    lengths = [5, 40, 0, 7, 6, 39, 12, 41]
    groups = M.length_groups(lengths)
    rows = sorted(r for g, _ in groups for r in g.tolist())
    assert rows == [r for r, n in enumerate(lengths) if n > 0]
    for g, n in groups:
        own = [lengths[r] for r in g.tolist()]
        assert n == max(own)
        assert len(own) == 1 or len(own) * n * n <= 1.25 * sum(k * k for k in own)


def test_normroll_is_the_decompositions_atb_map_and_alti_its_definition(tiny64):
    """The norms of the ATB terms equal the decomposition's ATB map (both from Gram matrices), the terms are
    complete, and ALTI from length groups and small chunks equals ALTI of the whole padded batch at once."""
    from headlens.collect import Collector
    from headlens.decompose.terms import decompose
    from headlens.decompose.weights import layer_weights

    class Grab(Collector):
        needs_parts = True

        def __init__(self):
            self.seen = []

        def begin(self, batch, *_):
            self.batch = batch

        def on_parts(self, parts):
            w = layer_weights(tiny64.adapter, parts.module, tiny64.num_heads, "layer")
            valid = self.batch.token_valid
            maps, error = M.atb_maps(parts, w, valid, budget=1 << 12)  # small chunks: several per batch
            atb = M.normalise_rows(decompose(parts, w, valid, ff=False).maps["ATB"], valid)
            self.seen.append((maps["normroll"], atb, error, maps["alti"], alti_of_the_whole_batch(parts, w, valid)))

        def end(self):
            pass

    grab = Grab()
    engine = Engine(tiny64, resolve(("attribution",)), collectors=[grab])
    engine.score(engine.batch(encode(tiny64, TEXTS)))
    assert len(grab.seen) == tiny64.num_layers
    assert len(M.length_groups(grab.batch.n_tokens.tolist())) > 1  # the sentences fall in several groups
    for normroll, atb, error, alti, direct in grab.seen:
        torch.testing.assert_close(normroll, atb, rtol=1e-9, atol=1e-12)
        assert (error < 1e-10).all()
        torch.testing.assert_close(alti, direct, rtol=1e-9, atol=1e-12)


def test_bad_methods_are_refused():
    with pytest.raises(ConfigError, match="methods"):
        resolve(("attribution",), options={"attribution": {"methods": ["rollout", "lrp"]}})
