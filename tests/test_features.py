"""Attention to features of interest (Kovaleva et al. 2019): a hand-built view, the feature sets of real
encoded sentences against a loop over their words, sentences without a feature skipped, and `compare`."""

import math

import numpy as np
import pytest
import torch
from conftest import write
from test_roles_metrics import CONLLU as ROLES_CONLLU

import headlens
from headlens.align import Encoder
from headlens.align.encode import CLS, SEP, WORD
from headlens.analyses.compare.changes import ChangeSettings
from headlens.analyses.compare.stats import compare_runs
from headlens.corpus import Corpus, CorpusSpec
from headlens.analyses.registry import resolve
from headlens.metrics.arcs import Arcs
from headlens.analyses.categories.metrics import UPOS_CODE
from headlens.analyses.features.metrics import FEATURES, NEGATION_WORDS, is_negation
from headlens.metrics.view import AttentionView
from headlens.models import load_model
from headlens.runner.batch import Batch

# a fifth sentence with a negation, an object and proper nouns: (form, UPOS, head, relation)
WORDS = [("he", "PRON", 4, "nsubj"), ("did", "AUX", 4, "aux"), ("not", "PART", 4, "advmod"), ("see", "VERB", 0, "root"),
         ("new", "PROPN", 6, "compound"), ("york", "PROPN", 4, "obj")]
CONLLU = ROLES_CONLLU + "# text = he did not see new york\n" + "".join(
    f"{i}\t{form}\t{form}\t{upos}\t_\t_\t{head}\t{rel}\t_\t_\n" for i, (form, upos, head, rel) in enumerate(WORDS, 1)) + "\n"
NAMES = [f"feat_recv_{f}" for f in FEATURES]


def test_hand_built_view():
    # units: [CLS] cat(NOUN, nsubj) not(PART, neg) ran(VERB) it(PRON, obj) [SEP]
    kinds = [CLS, WORD, WORD, WORD, WORD, SEP]
    tags = [None, "NOUN", "PART", "VERB", "PRON", None]
    rows = np.asarray([
        [0.5, 0.1, 0.1, 0.1, 0.1, 0.1],
        [0.2, 0.2, 0.2, 0.1, 0.1, 0.2],
        [0.1, 0.3, 0.1, 0.3, 0.1, 0.1],
        [0.3, 0.3, 0.3, 0.0, 0.0, 0.1],
        [0.1, 0.1, 0.1, 0.5, 0.1, 0.1],
        [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
    ])
    received = rows.mean(0)
    arcs = Arcs(torch.tensor([[1, 4, 2]]), torch.tensor([[3, 3, 3]]),
                {("subj", "d2h"): torch.tensor([[1.0, 0, 0]]), ("obj", "d2h"): torch.tensor([[0, 1.0, 0]])})
    view = AttentionView(torch.tensor(rows)[None, None], torch.ones(1, 6, dtype=torch.bool),
                         torch.tensor(kinds, dtype=torch.int8)[None], torch.zeros(1, 6, dtype=torch.bool), arcs=arcs,
                         upos=torch.tensor([UPOS_CODE.get(t, -1) if t else -1 for t in tags], dtype=torch.int8)[None],
                         negation=torch.tensor([[False, False, True, False, False, False]]))
    got = {m.name: float(m.score(view)[0, 0]) for m in resolve(["features"])}
    want = {"noun": received[1], "verb": received[3], "pronoun": received[4], "subject": received[1],
            "object": received[4], "negation": received[2], "cls": received[0], "sep": received[5]}
    for name, value in want.items():
        assert got[f"feat_recv_{name}"] == pytest.approx(value), name
    view.upos = torch.full((1, 6), -1, dtype=torch.int8)
    view._cache.clear()
    assert math.isnan(float(resolve([], ["feat_recv_noun"])[0].score(view)[0, 0]))  # no noun: skipped


def test_negation_words():
    from headlens.corpus.types import Word

    assert is_negation(Word("Not", 0, 3)) and is_negation(Word("n't", 0, 3)) and is_negation(Word("never", 0, 5))
    assert is_negation(Word("hardly", 0, 6, deprel="neg")) and not is_negation(Word("know", 0, 4, deprel="advmod"))
    assert {"not", "no", "never", "nothing"} <= NEGATION_WORDS


def _expected(sentence, unit_word, received):
    """A loop over the sentence's words: the max attention received by each feature's units (NaN if none)."""
    words = sentence.words
    units = {
        "noun": [u for u, w in enumerate(unit_word) if w >= 0 and words[w].upos in ("NOUN", "PROPN")],
        "verb": [u for u, w in enumerate(unit_word) if w >= 0 and words[w].upos == "VERB"],
        "pronoun": [u for u, w in enumerate(unit_word) if w >= 0 and words[w].upos == "PRON"],
        "subject": [u for u, w in enumerate(unit_word) if w >= 0 and words[w].deprel.split(":")[0] == "nsubj"],
        "object": [u for u, w in enumerate(unit_word) if w >= 0 and words[w].deprel == "obj"],
        "negation": [u for u, w in enumerate(unit_word) if w >= 0 and words[w].form in NEGATION_WORDS],
        "cls": [0],
        "sep": [len(unit_word) - 1],
    }
    return {f"feat_recv_{k}": (max(received[u] for u in v) if v else math.nan) for k, v in units.items()}


def test_encoded_sentences_against_a_loop_over_their_words(tmp_path, tiny_bert_dir):
    path = write(tmp_path, "f.conllu", CONLLU)
    lm = load_model(tiny_bert_dir, dtype="float64")
    items = Encoder(lm.tokenizer, lm.max_tokens).encode(list(Corpus(CorpusSpec(path))))
    metrics = resolve(["features"])
    relations = tuple(dict.fromkeys(m.params["relation"] for m in metrics if "relation" in m.params))
    batch = Batch(items, torch.device("cpu"), torch.float64, words=True, relations=relations)
    b, t = batch.input_ids.shape
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(b, 2, t, t, generator=gen, dtype=torch.float64).masked_fill(~batch.token_valid[:, None, None, :], -math.inf)
    attn = torch.softmax(logits, -1) * batch.token_valid[:, None, :, None]
    view = batch.word_view(attn)
    got = {m.name: m.score(view).numpy() for m in metrics}
    for i, e in enumerate(items):
        for h in range(2):
            w = view.attn[i, h, : e.n_units, : e.n_units].numpy()
            want = _expected(e.sentence, e.unit_word, w.mean(0))
            for name, value in want.items():
                np.testing.assert_allclose(got[name][i, h], value, rtol=1e-12, err_msg=f"{name} sentence {i}")
    assert not math.isnan(got["feat_recv_subject"][3, 0]) and math.isnan(got["feat_recv_verb"][3, 0])  # nsubj:pass, no VERB
    assert [math.isnan(x) for x in got["feat_recv_object"][:, 0]] == [True] * 4 + [False]
    assert [math.isnan(x) for x in got["feat_recv_negation"][:, 0]] == [True] * 4 + [False]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_bert_dir):
    from tiny import make_tiny_bert

    root = tmp_path_factory.mktemp("features")
    other = make_tiny_bert(str(root / "other-model"), seed=7)  # same tokenizer, other weights
    corpus = write(root, "c.conllu", CONLLU * 3)
    return [headlens.run(out=str(root / name), model=model, corpus=corpus, analyses=("features", "surface"), progress=False)
            for name, model in (("base", tiny_bert_dir), ("other", other))]


def test_a_run_skips_sentences_without_the_feature_and_cls_equals_word_cls(two_runs):
    base = two_runs[0]
    heads = {(r["metric"], r["layer"], r["head"]): r for r in base.heads().to_pylist()}
    assert heads[("feat_recv_noun", 0, 0)]["count"] == 15 and heads[("feat_recv_negation", 0, 0)]["count"] == 3
    assert heads[("feat_recv_object", 1, 3)]["count"] == 3 and heads[("feat_recv_verb", 1, 0)]["count"] == 12
    for key in [k for k in heads if k[0] == "feat_recv_cls"]:  # [CLS] is one unit: the same as word_cls
        assert heads[key]["mean"] == pytest.approx(heads[("word_cls", key[1], key[2])]["mean"], rel=1e-6)


def test_compare_tests_the_features_between_two_models(two_runs):
    changes, params = compare_runs(*two_runs, settings=ChangeSettings(n_boot=100, distribution_free="sign"))
    assert set(NAMES) <= set(params["metrics"])
    rows = [r for r in changes.heads.to_pylist() if r["metric"] == "feat_recv_negation"]
    assert len(rows) == 8 and all(r["n"] == 3 for r in rows)  # 3 of 15 sentences have a negation word
    assert all(r["status"] == "not enough data" for r in rows)  # fewer than min_n pairs: never a change
