"""Sieve scores of head roles: exact cases, the batched code against loops, and a full run."""

import math

import numpy as np
import pytest
import torch
from reference import sieve

import headlens
from headlens.align.encode import CLS, SEP, Encoder
from headlens.corpus import Corpus, CorpusSpec
from headlens.corpus.types import Sentence, Word
from headlens.analyses.registry import resolve
from headlens.metrics.arcs import DEFAULT_RELATIONS, relation_matches
from headlens.models import load_model
from headlens.runner.batch import Batch

CONLLU = """# text = the cat sat on the mat .
1	the	the	DET	_	_	2	det	_	_
2	cat	cat	NOUN	_	_	3	nsubj	_	_
3	sat	sit	VERB	_	_	0	root	_	_
4	on	on	ADP	_	_	6	case	_	_
5	the	the	DET	_	_	6	det	_	_
6	mat	mat	NOUN	_	_	3	obl	_	SpaceAfter=No
7	.	.	PUNCT	_	_	3	punct	_	_

# text = playing dogs ran
1	playing	play	ADJ	_	_	2	amod	_	_
2	dogs	dog	NOUN	_	_	3	nsubj	_	_
3	ran	run	VERB	_	_	0	root	_	_

# text = he said the man went
1	he	he	PRON	_	_	2	nsubj	_	_
2	said	say	VERB	_	_	0	root	_	_
3	the	the	DET	_	_	4	det	_	_
4	man	man	NOUN	_	_	5	nsubj	_	_
5	went	go	VERB	_	_	2	ccomp	_	_

# text = the dog was good
1	the	the	DET	_	_	2	det	_	_
2	dog	dog	NOUN	_	_	4	nsubj:pass	_	_
3	was	be	AUX	_	_	4	cop	_	_
4	good	good	ADJ	_	_	0	root	_	_

"""
RELATIONS = (*DEFAULT_RELATIONS, "nsubj:pass", "ccomp")
PAIRS = [("the cat sat", "a dog ran"), ("playing is good", "un ##able"), ("he went", "she said it was bad")]


def _words(text: str, segment: int) -> list[Word]:
    out, pos = [], 0
    for form in text.split():
        start = text.index(form, pos)
        out.append(Word(form, start, start + len(form), segment=segment))
        pos = start + len(form)
    return out


@pytest.fixture()
def items(tmp_path, tiny_bert_dir):
    path = tmp_path / "gold.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    singles = list(Corpus(CorpusSpec(str(path))))
    pairs = [Sentence(len(singles) + k, a, "test", text_b=b, words=tuple(_words(a, 0) + _words(b, 1)))
             for k, (a, b) in enumerate(PAIRS)]
    lm = load_model(tiny_bert_dir, dtype="float64")
    return Encoder(lm.tokenizer, lm.max_tokens).encode(singles + pairs)


def _score(items, attn_fn, relations=RELATIONS, width=2, aggregation="clark"):
    metrics = resolve(["roles"], None, {"roles": {"relations": relations, "window": width}})
    batch = Batch(items, torch.device("cpu"), torch.float64, words=False, aggregation=aggregation, relations=relations)
    b, t = batch.input_ids.shape
    attn = torch.zeros(b, 3, t, t, dtype=torch.float64)
    for i, e in enumerate(items):
        attn[i, :, : e.n_tokens, : e.n_tokens] = attn_fn(e)
    view = batch.token_view(attn)
    return {m.name: m.score(view).numpy() for m in metrics}, attn


def test_relation_labels_match_subtypes_aliases_and_all():
    assert relation_matches("nsubj:pass", "nsubj") and relation_matches("nsubj", "nsubj")
    assert not relation_matches("nsubj", "nsubj:pass") and relation_matches("nsubj:pass", "nsubj:pass")
    assert relation_matches("dobj", "obj") and relation_matches("obj", "dobj")
    assert not relation_matches("nsubjpass", "nsubj")  # spaCy's label is another relation
    assert relation_matches("ccomp", "all") and not relation_matches("punct", "all")
    assert not relation_matches("amod", "advmod")


def test_uniform_attention_scores_exactly_one_for_every_role(items):
    scores, _ = _score(items, lambda e: torch.full((e.n_tokens, e.n_tokens), 1.0 / e.n_tokens, dtype=torch.float64))
    singles = [i for i, e in enumerate(items) if e.sentence.text_b is None]
    pairs = [i for i, e in enumerate(items) if e.sentence.text_b is not None]
    assert len(singles) == 4 and len(pairs) == 3
    for name, values in scores.items():
        defined = np.isfinite(values[:, 0])
        assert np.isfinite(values[defined]).all()
        if name == "role_block_h":  # the original's entropy weighting: 1 x H(uniform) = log N
            for i in pairs:
                np.testing.assert_allclose(values[i], math.log(items[i].n_tokens), rtol=1e-12)
            continue
        np.testing.assert_allclose(values[defined], 1.0, rtol=1e-12, err_msg=name)
    assert np.isnan(scores["role_block"][singles]).all() and np.isfinite(scores["role_block"][pairs]).all()
    # sentences without the relation do not get a score: amod only in sentence 1; nsubj:pass only in 3
    assert np.isfinite(scores["role_syn_amod_d2h"][:, 0]).tolist()[:4] == [False, True, False, False]
    assert np.isfinite(scores["role_syn_nsubj:pass_d2h"][:, 0]).tolist()[:4] == [False, False, False, True]
    assert np.isfinite(scores["role_syn_nsubj_d2h"][:4, 0]).all()  # nsubj includes nsubj:pass


def test_all_mass_on_the_first_sep_of_a_pair_scores_n_over_3(items):
    def first_sep(e):
        a = torch.zeros(e.n_tokens, e.n_tokens, dtype=torch.float64)
        a[:, int(np.nonzero(e.kinds == SEP)[0][0])] = 1.0
        return a

    scores, _ = _score(items, first_sep)
    for i, e in enumerate(items):
        n = e.n_tokens
        if e.sentence.text_b is not None:
            assert (e.kinds == SEP).sum() == 2 and (e.kinds == CLS).sum() == 1
            np.testing.assert_allclose(scores["role_delim"][i], n / 3, rtol=1e-12)
            np.testing.assert_allclose(scores["role_delim_sep"][i], n / 2, rtol=1e-12)
        else:
            np.testing.assert_allclose(scores["role_delim"][i], n / 2, rtol=1e-12)
        np.testing.assert_allclose(scores["role_delim_cls"][i], 0.0, atol=1e-12)


@pytest.mark.parametrize("aggregation", ["clark", "first", "mean"])
def test_batched_scores_equal_loops_on_random_attention(items, aggregation):
    """The syntactic sieve averages over sub-tokens on both sides whatever the run's word
    aggregation (from the word view's attention for clark and mean, on its own for first)."""
    gen = torch.Generator().manual_seed(3)

    def random_rows(e):
        return torch.softmax(3 * torch.randn(e.n_tokens, e.n_tokens, generator=gen, dtype=torch.float64), -1)

    assert any(e.n_tokens > e.n_units for e in items), "the test needs words of several sub-tokens"
    for width in (1, 2, 4):
        scores, attn = _score(items, random_rows, width=width, aggregation=aggregation)
        for i, e in enumerate(items):
            words = e.sentence.words
            heads = [-2 if w.head is None else w.head for w in words]
            labels = [w.deprel or "" for w in words]
            for h in range(attn.shape[1]):
                a = attn[i, h, : e.n_tokens, : e.n_tokens].numpy()
                ref = sieve(a, e.kinds, e.segment, e.token_unit, e.unit_word, heads, labels, width, RELATIONS)
                for name, value in ref.items():
                    got = scores[name][i, h]
                    if math.isnan(value):
                        assert math.isnan(got), (name, i)
                    else:
                        assert got == pytest.approx(value, rel=1e-10), (name, i, h)


@pytest.mark.parametrize("aggregation", ["clark", "first", "mean"])
def test_arc_attention_reads_the_mean_word_attention_at_each_arc(items, aggregation):
    """``arc_attention`` (gathered unscaled, then scaled per key) equals the scaled matrix read at the arcs."""
    batch = Batch(items, torch.device("cpu"), torch.float64, words=True, aggregation=aggregation, relations=RELATIONS)
    b, t = batch.input_ids.shape
    gen = torch.Generator().manual_seed(5)
    attn = torch.softmax(torch.randn(b, 3, t, t, generator=gen, dtype=torch.float64), -1) * batch.token_valid[:, None, None, :]
    view = batch.token_view(attn)
    full = view.mean_word_attention()
    rows = torch.arange(b)[:, None]
    for direction, (query, key) in {"d2h": (batch.arcs.dep, batch.arcs.head), "h2d": (batch.arcs.head, batch.arcs.dep)}.items():
        expected = full[rows, :, query, key].permute(0, 2, 1)  # [B, H, K]
        torch.testing.assert_close(view.arc_attention(direction), expected, rtol=1e-12, atol=0)
    assert (batch._key_scale is not None) == (aggregation == "clark")  # only clark divides by the key's sub-tokens


def test_roles_run_on_real_attention_matches_loops(tmp_path, tiny_bert_dir):
    corpus = tmp_path / "gold.conllu"
    corpus.write_text(CONLLU, encoding="utf-8")
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=str(corpus), analyses=("roles",),
                       dtype="float64", progress=False, store_maps=("0", "1", "2", "3"), max_tokens=24)
    rows = run.scores().to_pylist()
    stored = {(r["sentence_id"], r["layer"], r["head"], r["metric"]): r["value"] for r in rows}
    checked = 0
    for sid in range(4):
        z = np.load(f"{run.path}/maps/sentence-{sid}.npz")
        tokens = list(z["tokens"])
        kinds = np.array([CLS if t == "[CLS]" else SEP if t == "[SEP]" else 0 for t in tokens])
        for layer in range(z["attention"].shape[0]):
            for head in range(z["attention"].shape[1]):
                ref = sieve(z["attention"][layer, head].astype(np.float64), kinds, z["segment"], z["token_unit"],
                            z["unit_word"], z["word_head"], list(z["word_deprel"]), 2, DEFAULT_RELATIONS)
                for name, value in ref.items():
                    key = (sid, layer, head, name)
                    if math.isnan(value):
                        assert key not in stored
                    else:
                        assert stored[key] == pytest.approx(value, rel=1e-6), key
                        checked += 1
    assert checked > 100


def test_bad_relation_and_window_are_clear_errors(tmp_path):
    from headlens import RunConfig
    from headlens.errors import ConfigError

    with pytest.raises(ConfigError, match="not a dependency label"):
        resolve(["roles"], None, {"roles": {"relations": ("nsubj", "bad label!")}})
    with pytest.raises(ConfigError, match="role-window"):
        RunConfig(out=str(tmp_path / "r"), analyses="roles", options={"roles": {"window": 0}})
    with pytest.raises(ConfigError, match=r"role_syn_<rel>_<d2h\|h2d>"):
        resolve([], ["role_syn_nsubj_sideways"])


def test_named_family_metrics_resolve_with_their_parameters():
    local, syn = resolve([], ["role_local_w5", "role_syn_acl:relcl_h2d"])
    assert local.params == {"width": 5} and syn.params == {"relation": "acl:relcl", "direction": "h2d"}
    names = [m.name for m in resolve(["roles"], None, {"roles": {"relations": ("ccomp",), "window": 3}})]
    assert names[0] == "role_local_w3" and names[-2:] == ["role_syn_ccomp_d2h", "role_syn_ccomp_h2d"]
