"""``--replicate clark2019``: the surface metrics under the definitions of Clark et al.'s code.

The expected values come from ``clark_reference`` (attention-analysis, General_Analysis.ipynb
and bpe_utils.py, re-derived one document at a time), never from headlens's own functions.
docs/fidelity.md lists every definition difference these modes switch.
"""

import numpy as np
import pytest
import torch
from clark_reference import entropies, token_stats, word_word_attention
from pande_reference import calc_score_band2, get_score
from conftest import UD_DEV, require_shared

import headlens
from headlens.align.encode import CLS, SEP, WORD
from headlens.analyses.registry import resolve
from headlens.analyses.surface.metrics import CLARK, METRICS, surface_metric_names
from headlens.analyses.surface.options import SurfaceOptions
from headlens.config import RunConfig
from headlens.corpus import CorpusSpec
from headlens.errors import ConfigError
from headlens.metrics.view import AttentionView

KIND = {"[CLS]": CLS, "[SEP]": SEP}
# a single sentence (one [SEP]) and a pair (two [SEP]s), padded to one batch
DOCS = [
    ["[CLS]", "the", "cat", ",", "sat", "on", "it", ".", "[SEP]"],
    ["[CLS]", "u", ".", "s", ".", "[SEP]", "yes", "!", "[SEP]"],
    ["[CLS]", "hi", "[SEP]"],
]


def _maps(docs, heads=3, seed=0):
    """Random attention rows over each document's tokens, padded with zeros: [B, H, T, T]."""
    rng = np.random.default_rng(seed)
    t = max(map(len, docs))
    attn = np.zeros((len(docs), heads, t, t))
    for b, doc in enumerate(docs):
        n = len(doc)
        attn[b, :, :n, :n] = rng.dirichlet(np.full(n, 0.3), size=(heads, n))
    return attn


def _view(docs, attn):
    t = attn.shape[-1]
    valid = torch.tensor([[i < len(d) for i in range(t)] for d in docs])
    kinds = torch.tensor([[KIND.get(d[i], WORD) if i < len(d) else 0 for i in range(t)] for d in docs], dtype=torch.int8)
    dot_comma = torch.tensor([[i < len(d) and d[i] in (".", ",") for i in range(t)] for d in docs])
    punct = torch.tensor([[i < len(d) and d[i] in (".", ",", "!") for i in range(t)] for d in docs])  # UPOS PUNCT
    return AttentionView(torch.from_numpy(attn), valid, kinds, punct, dot_comma=dot_comma)


def test_clark_definitions_on_hand_made_maps():
    """Mirrors General_Analysis.ipynb: the token-stats cell (self/left/right/sep/sep_sep/cls/punct,
    denominators n and 2) and the entropy cell (smoothed, mean over rows, row 0)."""
    attn = _maps(DOCS)
    view = _view(DOCS, attn)
    got = {name: fn(view).numpy() for name, fn in CLARK.items()}
    for b, doc in enumerate(DOCS):
        n = len(doc)
        one = attn[b:b + 1, :, :n, :n]  # [L=1, H, n, n]: the notebook's attns of one document
        expected = {**token_stats(doc, one), **entropies(one)}
        for name in CLARK:
            np.testing.assert_allclose(got[name][b], expected[name][0], rtol=1e-12, atol=1e-12, err_msg=f"{name} doc {b}")


def test_clark_differs_from_headlens_where_documented():
    """D1: prev/next over N queries (headlens: N - 1); D2: sep_sep / 2 (headlens: mean over the
    [SEP] queries); D3: '.' and ',' only (headlens: every PUNCT token); equal for cls/sep/self."""
    attn = _maps(DOCS)
    view = _view(DOCS, attn)
    ours = {m.name: m.fn(view).numpy() for m in METRICS.metrics.values() if m.level == "token"}
    clark = {name: fn(view).numpy() for name, fn in CLARK.items()}
    n = np.array([len(d) for d in DOCS], dtype=float)[:, None]
    for name in ("cls", "sep", "self"):
        np.testing.assert_allclose(clark[name], ours[name], rtol=1e-12)
    np.testing.assert_allclose(clark["prev"], ours["prev"] * (n - 1) / n, rtol=1e-12)
    np.testing.assert_allclose(clark["next"], ours["next"] * (n - 1) / n, rtol=1e-12)
    seps = np.array([sum(t == "[SEP]" for t in d) for d in DOCS], dtype=float)[:, None]
    np.testing.assert_allclose(clark["sep_sep"], ours["sep_sep"] * seps / 2, rtol=1e-12)
    assert not np.allclose(clark["punct"][1], ours["punct"][1])  # "!" is PUNCT, not "." or ","


def test_first_aggregation_is_get_word_word_attention():
    """Mirrors bpe_utils.get_word_word_attention(mode="first"): the word view of a run with
    word_aggregation="first" (what --replicate clark2019 picks) is that map."""
    from headlens.metrics.view import aggregate

    rng = np.random.default_rng(1)
    words_to_tokens = [[0], [1, 2, 3], [4], [5, 6], [7]]
    t, u = 8, len(words_to_tokens)
    attn = rng.dirichlet(np.ones(t), size=(2, t))  # [H, T, T]
    rows, cols = np.zeros((1, u, t)), np.zeros((1, t, u))
    for w, toks in enumerate(words_to_tokens):
        rows[0, w, toks[0]] = 1.0
        cols[0, toks, w] = 1.0
    got = aggregate(torch.from_numpy(attn[None]), torch.from_numpy(rows), torch.from_numpy(cols)).numpy()[0]
    for h in range(2):
        np.testing.assert_allclose(got[h], word_word_attention(attn[h], words_to_tokens), rtol=1e-12)


def test_replicate_option_selects_clark_metrics_and_first_aggregation():
    assert surface_metric_names(None) == list(METRICS.metrics)
    assert surface_metric_names(SurfaceOptions()) == list(METRICS.metrics)
    clark = surface_metric_names(SurfaceOptions(replicate="clark2019"))
    assert [m.name for m in clark] == list(METRICS.metrics)
    assert all(m.need is None and m.fn is CLARK[m.name.removeprefix("word_")] for m in clark)
    picked = resolve(("surface",), None, {"surface": SurfaceOptions(replicate="clark2019")})
    assert {m.fn for m in picked} <= set(CLARK.values())
    with pytest.raises(ConfigError):
        SurfaceOptions(replicate="clark2020")
    assert RunConfig().word_aggregation == "clark"
    assert RunConfig(options={"surface": {"replicate": "clark2019"}}).word_aggregation == "first"
    explicit = RunConfig(options={"surface": {"replicate": "clark2019"}}, word_aggregation="mean")
    assert explicit.word_aggregation == "mean"


@pytest.mark.integration
def test_replicate_clark2019_on_minilm_equals_a_direct_computation(tmp_path):
    """MiniLM on 50 gold UD sentences: every surface metric of ``--replicate clark2019``, per
    sentence and head, equals Clark's definitions applied to the model's attentions computed
    one sentence at a time (token strings from the tokenizer); the word-level ones equal them on
    get_word_word_attention(mode="first") maps. Per-head means then agree too."""
    from headlens.models import load_model

    spec = CorpusSpec(require_shared(UD_DEV), limit=50)
    run = headlens.run(out=str(tmp_path / "run"), corpus=spec, progress=False, analyses=("surface",),
                       options={"surface": {"replicate": "clark2019"}}, store_maps=tuple(str(i) for i in range(50)))
    assert run.manifest["config"]["options"]["surface"] == {"replicate": "clark2019"}
    assert run.manifest["config"]["word_aggregation"] == "first"
    t = run.scores().to_pydict()
    scores = {(s, m, la, h): v for s, m, la, h, v in zip(t["sentence_id"], t["metric"], t["layer"], t["head"], t["value"])}
    lm = load_model(None)
    expected: dict = {}
    for sid in range(50):
        stored = np.load(tmp_path / "run" / "maps" / f"sentence-{sid}.npz", allow_pickle=True)
        ids = torch.from_numpy(stored["input_ids"])[None]
        with torch.inference_mode():
            out = lm.model(input_ids=ids, attention_mask=torch.ones_like(ids), output_attentions=True)
        attns = torch.stack(out.attentions)[:, 0].double().numpy()  # [L, H, n, n], this sentence alone
        tokens = lm.tokenizer.convert_ids_to_tokens(stored["input_ids"].tolist())
        values = {**token_stats(tokens, attns), **entropies(attns)}
        unit = stored["token_unit"]
        words_to_tokens = [np.nonzero(unit == u)[0].tolist() for u in range(unit.max() + 1)]
        word_attns = np.array([[word_word_attention(a, words_to_tokens) for a in layer] for layer in attns])
        for name, v in token_stats([str(x) for x in stored["unit_labels"]], word_attns).items():
            values["word_" + name] = v
        for name in CLARK:
            for prefix in ("", "word_"):
                if prefix + name in run.metrics:
                    expected[(sid, prefix + name)] = values[prefix + name]
    for (sid, name), v in expected.items():
        got = np.array([[scores[(sid, name, la, h)] for h in range(v.shape[1])] for la in range(v.shape[0])])
        np.testing.assert_allclose(got, v, atol=1e-4, rtol=0, err_msg=f"{name} sentence {sid}")
    for name in ("cls", "sep", "punct", "self", "prev", "next", "entropy"):
        per_head = np.mean([expected[(s, name)] for s in range(50)], axis=0)
        means = {(r["layer"], r["head"]): r["mean"] for r in run.heads(name).to_pylist()}
        got = np.array([[means[(la, h)] for h in range(per_head.shape[1])] for la in range(per_head.shape[0])])
        np.testing.assert_allclose(got, per_head, atol=1e-4, rtol=0, err_msg=name)


def test_role_h2d_per_arc_mirrors_pande_get_score(tmp_path, tiny_bert_dir):
    """``--role-h2d arc``: role_syn_<r>_h2d is Pande et al.'s mean over arcs; d2h is unchanged, and
    the default (mean over head words) differs where a head has several dependents."""
    from reference import sieve
    from test_roles_metrics import CONLLU

    from headlens.metrics.arcs import DEFAULT_RELATIONS

    corpus = tmp_path / "gold.conllu"
    corpus.write_text(CONLLU, encoding="utf-8")
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=str(corpus), analyses=("roles",),
                       dtype="float64", progress=False, store_maps=("0", "1", "2", "3"), max_tokens=24,
                       options={"roles": {"h2d": "arc"}})
    assert run.manifest["config"]["options"]["roles"]["h2d"] == "arc"
    stored = {(r["sentence_id"], r["layer"], r["head"], r["metric"]): r["value"] for r in run.scores().to_pylist()}
    checked = differs = 0
    for sid in range(4):
        z = np.load(f"{run.path}/maps/sentence-{sid}.npz")
        heads, labels = z["word_head"], [str(x) for x in z["word_deprel"]]
        kinds = np.array([CLS if t == "[CLS]" else SEP if t == "[SEP]" else 0 for t in z["tokens"]])
        for layer in range(z["attention"].shape[0]):
            for head in range(z["attention"].shape[1]):
                a = z["attention"][layer, head].astype(np.float64)
                default = sieve(a, kinds, z["segment"], z["token_unit"], z["unit_word"], heads, labels, 2, DEFAULT_RELATIONS)
                for rel in DEFAULT_RELATIONS:
                    key = (sid, layer, head, f"role_syn_{rel}_h2d")
                    value = get_score(a, z["tokens"], z["segment"], z["token_unit"], z["unit_word"], heads, labels, rel, "h2d")
                    if np.isnan(value):
                        assert key not in stored
                        continue
                    assert stored[key] == pytest.approx(value, rel=1e-6), key
                    d2h = (sid, layer, head, f"role_syn_{rel}_d2h")
                    assert stored[d2h] == pytest.approx(default[f"role_syn_{rel}_d2h"], rel=1e-6), d2h
                    differs += abs(value - default[f"role_syn_{rel}_h2d"]) > 1e-6 * abs(value)
                    checked += 1
    assert checked > 50 and differs > 0


def test_role_bug_compatible_local_window_mirrors_calc_score_band2(tmp_path, tiny_bert_dir):
    """``--role-bug-compatible``: role_local_w2 equals Pande et al.'s calc_score_band2 on the run's
    own maps (fused path, the run's default); without it the window is counted exactly and the
    last two tokens' scores are higher by (|S|+1)/|S|."""
    from test_roles_metrics import CONLLU

    corpus = tmp_path / "gold.conllu"
    corpus.write_text(CONLLU, encoding="utf-8")
    runs = {bug: headlens.run(out=str(tmp_path / f"run{bug}"), model=tiny_bert_dir, corpus=str(corpus),
                              analyses=("roles",), dtype="float64", progress=False, store_maps=("0", "1", "2", "3"),
                              options={"roles": {"bug_compatible": bug}}) for bug in (False, True)}
    assert runs[True].manifest["config"]["options"]["roles"]["bug_compatible"] is True
    values = {bug: {(r["sentence_id"], r["layer"], r["head"]): r["value"] for r in run.scores("role_local_w2").to_pylist()}
              for bug, run in runs.items()}
    for sid in range(4):
        z = np.load(f"{runs[True].path}/maps/sentence-{sid}.npz")
        for layer in range(z["attention"].shape[0]):
            for head in range(z["attention"].shape[1]):
                expected = calc_score_band2(z["attention"][layer, head].astype(np.float64))
                assert values[True][(sid, layer, head)] == pytest.approx(expected, rel=1e-6)
                assert values[False][(sid, layer, head)] > values[True][(sid, layer, head)]
