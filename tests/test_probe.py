"""The attention-based probes: hand-checked baselines, reproducibility, and beating right-branching on UD."""

import json

import numpy as np
import pytest
import torch

from headlens import load_model
from headlens.cli import main
from headlens.config import default_corpus_path
from headlens.corpus.reader import CorpusSpec
from headlens.errors import ConfigError
from headlens.analyses.probe.run import ProbeSettings, probe
from headlens.corpus import Corpus
from headlens.analyses.probe.data import NO_HEAD, ProbeSentence
from headlens.analyses.probe.parser import Parser, pair_features, right_branching_hits

SAMPLE = default_corpus_path()  # 500 sentences of UD English EWT dev


def _sentence(gold, punct=None, heads=2, units=None) -> ProbeSentence:
    n = len(gold)
    u = n + 2
    attn = torch.softmax(torch.randn(heads, u, u, generator=torch.Generator().manual_seed(0)), -1)
    return ProbeSentence(0, attn, np.arange(1, n + 1), np.asarray(gold), ["dep"] * n,
                         np.zeros(n, bool) if punct is None else np.asarray(punct), np.asarray([0, u - 1]), None)


def test_right_branching_is_a_hand_count():
    # heads: w0 <- w1 (root), w1 -> ROOT, w2 -> w3, w3 -> w1, w4 (punct) -> w3, w5 has a head without tokens
    s = _sentence([1, -1, 3, 1, 3, NO_HEAD], punct=[0, 0, 0, 0, 1, 0])
    assert right_branching_hits(s) == 2  # w0 -> w1 and w2 -> w3; w4 is punctuation, w5 is not scored


def test_pair_features_and_logits_follow_the_formula():
    s = _sentence([1, -1, 1])
    pairs, root = pair_features(s)
    a = s.attn
    assert torch.equal(pairs[0, 2], torch.stack([a[:, 1, 3], a[:, 3, 1]]).flatten())  # word 0 (unit 1), word 2 (unit 3)
    assert torch.allclose(root[1], torch.cat([a[:, 2, [0, 4]].sum(-1), a[:, [0, 4], 2].mean(-1)]))
    model = Parser("attn", heads=2, seed=3)
    logits = model(s)
    assert logits.shape == (3, 4) and torch.isinf(logits.diagonal()).all()
    assert torch.allclose(logits[0, 2], pairs[0, 2] @ model.w)
    assert torch.allclose(logits[1, 3], root[1] @ model.w_root + model.bias_root)


def test_probe_is_reproducible_with_a_seed(tiny_bert_dir):
    lm = load_model(tiny_bert_dir)
    train, test = CorpusSpec(SAMPLE, limit=20), CorpusSpec(SAMPLE, skip=480)
    runs = [probe(lm, train, test, ProbeSettings(features="attn+vectors", seed=seed, n_boot=50)) for seed in (7, 7, 8)]
    assert runs[0].to_dict() == runs[1].to_dict()
    assert runs[0].train_sentences >= 5 and runs[0].eval_sentences >= 5 and runs[0].pairwise is not None  # others are too long for the tiny model
    assert runs[0].to_dict()["uas"] != runs[2].to_dict()["uas"]  # the seed sets the initial weights


def test_skip_passes_over_items_and_keeps_corpus_ids():
    assert [s.index for s in Corpus(CorpusSpec(SAMPLE, skip=495))] == [495, 496, 497, 498, 499]
    assert [s.index for s in Corpus(CorpusSpec(SAMPLE, skip=10, limit=2))] == [10, 11]
    with pytest.raises(ConfigError, match="skip"):
        CorpusSpec(SAMPLE, skip=-1)


@pytest.mark.integration
def test_probe_beats_right_branching_on_ud(tmp_path):
    out = tmp_path / "probe.json"
    assert main(["probe", "--train", SAMPLE, "--train-limit", "100", "--eval", SAMPLE, "--eval-skip", "440",
                 "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["uas"]["attn"] > r["uas"]["right-branching"] + 0.05 and r["eval_sentences"] == 60
    v = r["versus_right_branching"]["attn"]
    assert v["ci_low"] > 0 and v["p"] < 0.01
    assert r["pairwise"]["arc_accuracy"] > 0.7 and r["pairwise"]["relation_accuracy"] > r["pairwise"]["relation_majority"]
