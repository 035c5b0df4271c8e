"""The norm-based decomposition (Kobayashi et al. 2020, 2021, 2024): completeness on every family and on
MiniLM in float64 and float32, integrated gradients, hand-computed maps, refusals, and a full run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pytest
import torch
from scipy.stats import spearmanr
from tiny import FAMILIES, make_tiny
from torch import nn

import headlens
from headlens.cli import main
from headlens.decompose import tables
from headlens.decompose.analysis import TOLERANCE, Decomposer
from headlens.decompose.ig import check_elementwise, closed_form_ratio, stepped_ratio, activation_at_zero
from headlens.decompose.summary import PAIR_TYPES, pair_types, spearman
from headlens.decompose.terms import (ATTENTION_MAPS, ATTENTION_STAGES, FF_MAPS, MAPS, STAGES, VECTOR_MAPS, decompose,
                                      ln_scale, ln_split)
from headlens.decompose.weights import LayerWeights, layer_weights
from headlens.errors import ConfigError, ModelError
from headlens.analyses.registry import resolve
from headlens.models import load_model
from headlens.runner import Engine
from headlens.runner.parts import LayerParts
from headlens.corpus import Sentence, Word
from headlens.align import Encoder

TEXTS = ["the cat sat on the mat .", "new york", "a man said hello to the woman in the city ."]


def encode(lm, texts):
    sents = [Sentence(index=i, text=t, source=f"t:{i}") for i, t in enumerate(texts)]
    return Encoder(lm.tokenizer, lm.max_tokens).encode(sents)


def decomposed(lm, texts=TEXTS, ff=True):
    """Run the Engine with the decomposition collector on one padded batch; return the collector and values."""
    dec = Decomposer(lm, ff=ff)
    engine = Engine(lm, resolve(("decomposition",)), collectors=[dec])
    batch = engine.batch(encode(lm, texts))
    values, _ = engine.score(batch)
    return dec, values, batch


@pytest.fixture(scope="module", params=FAMILIES)
def family_dir(request, tmp_path_factory):
    return make_tiny(request.param, str(tmp_path_factory.mktemp(request.param)))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_complete_at_every_stage_on_every_family(family_dir, dtype):
    lm = load_model(family_dir, dtype=dtype)
    dec, values, batch = decomposed(lm)
    assert set(dec.max_error) == set(STAGES)
    assert max(dec.max_error.values()) <= TOLERANCE[lm.dtype]
    assert batch.attention_mask.min() == 0  # padded: padding must not leak into the terms
    names = [m.name for m in resolve(("decomposition",))]
    always = [names.index(n) for n in ("dec_fnorm", "dec_fnorm_word", "dec_fnorm_cls", "dec_mix_w", "dec_mix_n")]
    assert np.isfinite(values[:, always]).all()  # filled for every sentence, layer and head
    assert np.isnan(values[1, names.index("dec_fnorm_punct")]).all()  # "new york" has no punctuation
    layers = dec.done["layers"]
    assert set(layers["ids"].tolist()) == {0, 1, 2}


@pytest.mark.integration
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_complete_on_minilm(dtype):
    lm = load_model(None, dtype=dtype)
    dec, _, _ = decomposed(lm, TEXTS + ["Kobayashi et al. decomposed BERT's layers, token by token."])
    assert 0 < max(dec.max_error.values()) <= TOLERANCE[lm.dtype]


def test_default_is_the_attention_block_and_equals_the_ff_run(tiny_bert_dir):
    lm = load_model(tiny_bert_dir, dtype="float64")
    full, full_values, _ = decomposed(lm, ff=True)
    att, att_values, _ = decomposed(lm, ff=False)
    assert set(att.max_error) == set(ATTENTION_STAGES) and max(att.max_error.values()) <= TOLERANCE[lm.dtype]
    np.testing.assert_array_equal(att_values, full_values)  # the per-head metrics do not depend on the mode
    assert set(att.done) == {"layers", "tokens"} and not set(FF_MAPS) & set(att.done["tokens"])
    for m in ATTENTION_MAPS:
        np.testing.assert_array_equal(att.done["tokens"][m], full.done["tokens"][m])


@pytest.mark.parametrize("ff", [True, False])
def test_layers_decomposed_together_equal_one_by_one(tiny_bert_dir, ff):
    lm = load_model(tiny_bert_dir, dtype="float64")
    got = {}
    for grouped in (True, False):
        dec = Decomposer(lm, ff=ff, group_layers=grouped)
        engine = Engine(lm, resolve(("decomposition",)), collectors=[dec])
        batch = engine.batch(encode(lm, TEXTS))
        values, _ = engine.score(batch, keep=[0, 2])
        assert (dec.group >= lm.num_layers) == grouped
        got[grouped] = values, dec.done, dec.done_maps
    np.testing.assert_allclose(got[True][0], got[False][0], rtol=1e-12)
    for name, columns in got[True][1].items():
        for col, array in columns.items():
            np.testing.assert_allclose(array, got[False][1][name][col], rtol=1e-12, err_msg=f"{name}.{col}")
    for row, arrays in got[True][2].items():
        for name, array in arrays.items():
            np.testing.assert_allclose(array, got[False][2][row][name], rtol=1e-6)


def test_only_the_stored_rows_reach_the_part(tiny_bert_dir):
    lm = load_model(tiny_bert_dir, dtype="float64")
    dec = Decomposer(lm, ff=True)
    engine = Engine(lm, resolve(("decomposition",)), collectors=[dec])
    batch = engine.batch(encode(lm, TEXTS))
    engine.score(batch)
    dec.add(batch, [0, 2])
    part = tables.from_parts([dec.take()])
    for name in ("layers", "tokens"):
        assert set(part[name]["sentence_id"].to_pylist()) == {0, 2}, name
    assert set(part["ffpairs"]["sentence_id"].to_pylist()) <= {0, 2}
    assert set(part["layers"]["metric"].cast(pa.string()).to_pylist()) == set(dec.metrics)


def test_incomplete_decomposition_stops_with_the_stage(tiny_bert_dir):
    lm = load_model(tiny_bert_dir, dtype="float64")
    dec = Decomposer(lm)
    dec.weights = [dataclasses.replace(w, b_o=w.b_o + 0.1) for w in dec.weights]  # a wrong bias
    engine = Engine(lm, resolve(("decomposition",)), collectors=[dec])
    with pytest.raises(ModelError, match="not complete at layer L1, stage 'attention'"):
        engine.score(engine.batch(encode(lm, TEXTS)))


def test_chunking_does_not_change_the_result(tiny_bert_dir):
    lm = load_model(tiny_bert_dir, dtype="float64")
    captured = []

    class Keep(Decomposer):
        def on_parts(self, parts):
            captured.append(parts)

    dec = Keep(lm)
    engine = Engine(lm, resolve(("decomposition",)), collectors=[dec])
    engine.score(engine.batch(encode(lm, TEXTS)))
    valid = engine.batch(encode(lm, TEXTS)).token_valid
    whole = decompose(captured[0], dec.weights[0], valid)
    pieces = decompose(captured[0], dec.weights[0], valid, budget=50)  # a few queries at a time
    for name in MAPS:
        torch.testing.assert_close(pieces.maps[name], whole.maps[name])
        torch.testing.assert_close(pieces.mixing[name], whole.mixing[name])


def _direct(parts, w):
    """Every stage's per-pair terms as explicit [B, T, T, d] tensors (the T x T x d computation the maps avoid)."""
    x, probs = parts["value.in"], parts.probs.to(parts["value.in"].dtype)
    b, t, d = x.shape
    dh = d // w.heads
    v = parts["value.out"]
    f = torch.stack([v[..., h * dh:(h + 1) * dh] @ w.w_o[:, h * dh:(h + 1) * dh].T for h in range(w.heads)], 1)  # [B,H,T,d]
    e = torch.einsum("bhij,bhjd->bijd", probs, f)
    eye = torch.eye(t, dtype=x.dtype)[None, :, :, None]
    res = e + eye * x[:, :, None, :]
    (g1, _, eps1), (g2, _, eps2) = w.ln1, w.ln2
    u = ln_split(res, g1, ln_scale(parts["attention_norm.in"], eps1)[:, :, None])
    r = closed_form_ratio(parts["ff_in.out"], parts["ff_activation.out"], w.act0, w.slope0)
    g = ((u @ w.w1.T) * r[:, :, None]) @ w.w2.T
    s = g + u
    z = ln_split(s, g2, ln_scale(parts["ff_norm.in"], eps2)[:, :, None])
    return dict(zip(VECTOR_MAPS, (e, res, u, g, s, z)))


def test_factored_norms_equal_the_direct_computation(tiny_bert_dir):
    lm = load_model(tiny_bert_dir, dtype="float64")
    captured = []

    class Keep(Decomposer):
        def on_parts(self, parts):
            captured.append(parts)

    engine = Engine(lm, resolve(("decomposition",)), collectors=[Keep(lm)])
    batch = engine.batch(encode(lm, TEXTS))
    engine.score(batch)
    weights = Keep(lm).weights
    valid = batch.token_valid
    pair = valid[:, :, None] & valid[:, None, :]
    for parts in captured:
        w = weights[parts.layer]
        terms = _direct(parts, w)
        for ff in (True, False):
            got = decompose(parts, w, valid, ff=ff)
            for name, term in terms.items():
                if name in FF_MAPS and not ff:
                    assert name not in got.maps
                    continue
                want = term.norm(dim=-1)
                torch.testing.assert_close(got.maps[name][pair], want[pair], rtol=1e-10, atol=1e-13)
                total, own = term.sum(2), term.diagonal(dim1=1, dim2=2).transpose(1, 2)
                others = (total - own).norm(dim=-1)
                want_mix = torch.where(others + own.norm(dim=-1) > 0, others / (others + own.norm(dim=-1)), 0)
                torch.testing.assert_close(got.mixing[name][valid], want_mix[valid], rtol=1e-10, atol=1e-13)


# -- integrated gradients ----------------------------------------------------------------------

ACTIVATIONS = {"gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "relu": nn.ReLU(), "silu": nn.SiLU()}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_stepped_ig_converges_to_the_closed_form(name):
    act = ACTIVATIONS[name]
    h = torch.linspace(-4, 4, 101, dtype=torch.float64)
    act0, slope0 = activation_at_zero(act)
    exact = closed_form_ratio(h, act(h), act0, slope0)
    # the closed form is complete: h * r = act(h) - act(0)
    torch.testing.assert_close(h * exact, act(h) - act0)
    for rule in ("riemann", "gauss"):
        errors = [float((stepped_ratio(act, h, n, rule) - exact).abs().max()) for n in (2, 8, 32, 256)]
        # never worse with more steps (down to rounding; ReLU's path derivative is constant: exact at any step)
        assert all(b <= a + 1e-15 for a, b in zip(errors, errors[1:])) and errors[-1] < 1e-5, (rule, errors)
        if name != "relu":
            assert errors[0] > 1e-3  # two steps are visibly off: the comparison has teeth


def test_non_elementwise_activation_is_refused():
    with pytest.raises(ModelError, match="not element-wise"):
        check_elementwise(nn.Softmax(dim=-1), "layer 0")


# -- hand-computed maps ------------------------------------------------------------------------


def _hand_layer(v: torch.Tensor, probs: torch.Tensor, heads: int, w_o: torch.Tensor, b_o: torch.Tensor) -> tuple:
    """A post-LN layer from explicit parts (identity value input x = 0 rows + v), and its LayerParts."""
    t, d = v.shape
    x = torch.zeros(1, t, d, dtype=torch.float64) + torch.arange(d, dtype=torch.float64)  # the residual input
    ln1, ln2 = nn.LayerNorm(d).double(), nn.LayerNorm(d).double()
    lin1, lin2, act = nn.Linear(d, 2 * d).double(), nn.Linear(2 * d, d).double(), nn.GELU()
    dh = d // heads
    ctx = torch.cat([probs[:, h] @ v[None, :, h * dh:(h + 1) * dh] for h in range(heads)], -1)
    attn_out = ctx @ w_o.T + b_o
    a = ln1(attn_out + x)
    pre = lin1(a)
    out = lin2(act(pre))
    tensors = {"value.in": x, "value.out": v[None], "attention_output.out": attn_out, "attention_norm.in": attn_out + x,
               "attention_norm.out": a, "ff_in.out": pre, "ff_activation.out": act(pre), "ff_out.out": out,
               "ff_norm.in": out + a, "ff_norm.out": ln2(out + a)}
    act0, slope0 = activation_at_zero(act)
    w = LayerWeights(heads, w_o, b_o, (ln1.weight.detach(), ln1.bias.detach(), ln1.eps), lin1.weight.detach(),
                     lin1.bias.detach(), lin2.weight.detach(), lin2.bias.detach(),
                     (ln2.weight.detach(), ln2.bias.detach(), ln2.eps), act0, slope0)
    return LayerParts(0, probs, tensors, None), w


def test_uniform_attention_gives_the_hand_computed_attn_n():
    v = torch.tensor([[3.0, 4, 0, 0], [0, 0, 6, 8], [1, 2, 2, 0]], dtype=torch.float64)
    probs = torch.full((1, 2, 3, 3), 1 / 3, dtype=torch.float64)
    with torch.no_grad():
        parts, w = _hand_layer(v, probs, 2, torch.eye(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64))
        dec = decompose(parts, w, torch.ones(1, 3, dtype=torch.bool))
    # f(x_j) = v_j (W_O = I), so Attn-N_ij = ||v_j|| / 3 for every query i
    torch.testing.assert_close(dec.maps["Attn-N"][0], torch.tensor([[5 / 3, 10 / 3, 1.0]] * 3, dtype=torch.float64))
    others = np.sqrt(1 + 4 + 64 + 64) / 3  # token 0: ||(v_1 + v_2) / 3||, own ||v_0|| / 3 = 5/3
    assert float(dec.mixing["Attn-N"][0, 0]) == pytest.approx(others / (others + 5 / 3))
    assert float(dec.mixing["Attn-W"][0, 0]) == pytest.approx(2 / 3)
    assert max(float(e.max()) for e in dec.errors.values()) < 1e-12


def test_zero_attention_output_has_mixing_ratio_zero():
    v = torch.randn(3, 4, dtype=torch.float64)
    probs = torch.softmax(torch.randn(1, 2, 3, 3, dtype=torch.float64), -1)
    with torch.no_grad():
        parts, w = _hand_layer(v, probs, 2, torch.zeros(4, 4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64))
        dec = decompose(parts, w, torch.ones(1, 3, dtype=torch.bool))
    for name in VECTOR_MAPS:  # every norm-based map: nothing comes from another token
        assert float(dec.mixing[name].abs().max()) == 0.0, name
    assert float(dec.mixing["Attn-W"].min()) > 0  # the weights still mix
    assert max(float(e.max()) for e in dec.errors.values()) < 1e-12


# -- summaries ---------------------------------------------------------------------------------


def test_spearman_matches_scipy_over_valid_pairs():
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 5, 5, generator=g, dtype=torch.float64), torch.rand(2, 5, 5, generator=g, dtype=torch.float64)
    valid = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    got = spearman(a, b, valid)
    assert float(got[0]) == pytest.approx(spearmanr(a[0].flatten(), b[0].flatten()).statistic)
    assert float(got[1]) == pytest.approx(spearmanr(a[1, :3, :3].flatten(), b[1, :3, :3].flatten()).statistic)


def test_pair_types(tiny_model):
    words = (Word("New", 0, 3, entity="GPE"), Word("York", 4, 8, entity="GPE"), Word("is", 9, 11),
             Word("bigger", 12, 18))
    sent = Sentence(index=0, text="New York is bigger", source="t", words=words)
    enc = Encoder(tiny_model.tokenizer, tiny_model.max_tokens).encode([sent])[0]
    types = pair_types([enc], enc.n_tokens)[0]
    word_of = {t: int(enc.unit_word[u]) for t, u in enumerate(enc.token_unit) if u >= 0 and enc.unit_word[u] >= 0}
    for i in range(enc.n_tokens):
        for j in range(enc.n_tokens):
            kind = PAIR_TYPES[types[i, j]] if i != j else None
            if i == j:
                assert types[i, j] == -1
            elif i not in word_of or j not in word_of:
                assert kind == "special"
            elif word_of[i] == word_of[j]:
                assert kind == "subword"
            elif {word_of[i], word_of[j]} == {0, 1}:
                assert kind == "entity"
            elif abs(word_of[i] - word_of[j]) == 1:
                assert kind == "adjacent"
            else:
                assert kind == "other"


# -- refusals and a full run ---------------------------------------------------------------------


def test_refusals(tiny_bert_dir):
    lm = load_model(tiny_bert_dir, dtype="bfloat16")
    with pytest.raises(ModelError, match="float32 or --dtype float64"):
        Decomposer(lm)
    lm = load_model(tiny_bert_dir)
    pre_ln = dataclasses.replace(lm.adapter, norm_position="pre")
    with pytest.raises(ModelError, match="post-LN"):
        layer_weights(pre_ln, lm.adapter.layer_modules(lm.model)[0], lm.num_heads, "layer 0")
    with pytest.raises(ConfigError, match="--analyses decomposition"):
        Engine(lm, resolve(metric_names=("dec_fnorm",)))
    with pytest.raises(ConfigError, match="mask_rate"):
        headlens.RunConfig(mask_rate=1.5)


@pytest.mark.parametrize("analysis", ["decomposition_ff", "decomposition"])
def test_run_stores_tables_and_maps_and_the_cli_reads_them(tiny_bert_dir, tmp_path, capsys, analysis):
    out = str(tmp_path / "run")
    ff = analysis == "decomposition_ff"
    run = headlens.run(model=tiny_bert_dir, analyses=(analysis,), out=out, progress=False,
                       store_maps=("0",), mask_rate=0.12, corpus=headlens.CorpusSpec(
                           headlens.config.default_corpus_path(), format="conllu", limit=12))
    t = tables.read(run)
    analysed = {r["sentence_id"] for r in run.sentences().to_pylist() if r["status"] == "analysed"}
    assert len(analysed) >= 3
    assert set(t["layers"]["sentence_id"].to_pylist()) == analysed
    assert set(t["tokens"]["sentence_id"].to_pylist()) == analysed
    assert set(run.metrics) >= {"dec_fnorm", "dec_mix_n"} and run.heads("dec_fnorm").num_rows == 2 * 4
    tok = load_model(tiny_bert_dir).tokenizer
    tokens = t["tokens"].to_pylist()
    assert all(r["token"] == tok.convert_ids_to_tokens(r["token_id"]) for r in tokens)
    metrics = set(t["layers"]["metric"].cast(pa.string()).to_pylist())
    assert ({"change:FF", "ffamp", "completeness:layernorm2"} <= metrics) == ff
    assert (t["ffpairs"].num_rows > 0) == ff
    assert np.isnan(t["tokens"]["ATBFF"].to_numpy()).all() != ff
    with np.load(f"{out}/maps/sentence-0-decomposition.npz") as z:
        n = len(z["tokens"])
        for name in ("Attn-W", "Attn-N", "AttnRes-N", "ATB", *(("ATBFF", "ATBFFRES", "ATBFFRESLN") if ff else ())):
            assert z[name].shape == (2, n, n)
        assert ("ATBFF" in z.files) == ff
    assert main(["mixing", out, "--frequency", "corpus"]) == 0
    text = capsys.readouterr().out
    assert "same ordering here" in text and "completeness" in text
    assert ("contextualization change (1 - Spearman rho)" in text) == ff
    if ff:
        assert main(["ff-pairs", out, "--top", "5"]) == 0
        assert "top 5 pairs" in capsys.readouterr().out
    else:
        assert main(["ff-pairs", out, "--top", "5"]) != 0
        assert "--analyses decomposition_ff" in capsys.readouterr().err


def test_both_decomposition_analyses_are_refused(tiny_bert_dir, tmp_path):
    with pytest.raises(ConfigError, match="name only one"):
        headlens.run(model=tiny_bert_dir, analyses=("decomposition", "decomposition_ff"), out=str(tmp_path / "r"),
                     progress=False, corpus=headlens.CorpusSpec(headlens.config.default_corpus_path(), format="conllu",
                                                                limit=2))


def test_masking_is_deterministic_and_only_touches_word_tokens(tiny_model):
    from headlens.runner.masking import mask_tokens

    enc = encode(tiny_model, ["the cat sat on the mat and the dog ran to the house ."])[0]
    a, b = mask_tokens(enc, 0.5, 99), mask_tokens(enc, 0.5, 99)
    assert np.array_equal(a.input_ids, b.input_ids)
    changed = a.input_ids != enc.input_ids
    assert changed.any() and (enc.kinds[changed] == 0).all() and (a.input_ids[changed] == 99).all()
