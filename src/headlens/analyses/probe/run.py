"""Attention-based probes trained on one gold CoNLL-U file and scored on another.

``probe(model, train, eval)`` streams the training file once through the frozen model (each
sentence is one Adam step of the parser probes and gives its word pairs to the pairwise
probes), fits the pairwise probes, then streams the evaluation file. See ``probe/parser.py``
(Clark et al. 2019) and ``probe/pairwise.py`` (Coenen et al. 2019).

The parser probes are compared with right-branching by a paired bootstrap over evaluation
sentences (``stats.paired_ratio_bootstrap``: UAS is a ratio of sums over sentences).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from ...lazy import torch  # imported on first use (headlens.lazy): the analysis registers without torch

from ...corpus.reader import CorpusSpec
from ...errors import ConfigError
from ...stats import paired_ratio_bootstrap
from .data import stream
from .options import ProbeSettings
from .pairwise import PairSet, PairwiseResult, add_pairs, pairwise_probes
from .parser import Parser, Trainer, hits, right_branching_hits, scored

__all__ = ["ProbeResult", "ProbeSettings", "probe"]


@dataclass
class ProbeResult:
    settings: ProbeSettings
    train_sentences: int
    eval_sentences: int
    scored_words: int
    uas: dict[str, float]  # probe name -> UAS on the evaluation file (punctuation excluded)
    versus_right_branching: dict[str, dict] = field(default_factory=dict)  # delta, CI, p per trained probe
    pairwise: PairwiseResult | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["settings"] = asdict(self.settings)
        return d


def probe(lm, train: CorpusSpec, eval: CorpusSpec, settings: ProbeSettings | None = None) -> ProbeResult:
    s = settings or ProbeSettings()
    torch.manual_seed(s.seed)
    k = lm.num_layers * lm.num_heads
    dim = lm.model.get_input_embeddings().embedding_dim
    names = (s.features, "distance")
    models = {name: Parser(name, k, dim, s.seed) for name in names}
    trainers = {name: Trainer(m, s.lr) for name, m in models.items()}
    rng = np.random.default_rng(s.seed)
    pairs_train, pairs_eval = PairSet.empty(), PairSet.empty()
    vectors = s.features == "attn+vectors"
    n_train = 0
    for sent in stream(lm, train, vectors=vectors):
        n_train += 1
        for t in trainers.values():
            t.step(sent)
        if s.pairwise:
            add_pairs(pairs_train, sent, rng)
    if not any(t.steps for t in trainers.values()):
        raise ConfigError(f"{train.path}: no training sentence has a gold head inside the model's tokens.")
    counts: dict[str, list[int]] = {name: [] for name in (*names, "right-branching")}
    den: list[int] = []
    for sent in stream(lm, eval, vectors=vectors):
        den.append(int(scored(sent).sum()))
        for name, m in models.items():
            counts[name].append(hits(m, sent))
        counts["right-branching"].append(right_branching_hits(sent))
        if s.pairwise:
            add_pairs(pairs_eval, sent, rng)
    if sum(den) == 0:
        raise ConfigError(f"{eval.path}: no evaluation word can be scored (all punctuation or without gold heads).")
    arr = {name: np.asarray(v) for name, v in counts.items()}
    cmp = paired_ratio_bootstrap(np.asarray(den), arr["right-branching"], np.stack([arr[n] for n in names], 1),
                                 n_boot=s.n_boot, seed=s.seed, ci=s.ci)
    versus = {n: {"delta": float(cmp.delta[i]), "ci_low": float(cmp.delta_low[i]), "ci_high": float(cmp.delta_high[i]),
                  "p": float(cmp.p[i]), "uas_ci": [float(cmp.acc_low[i]), float(cmp.acc_high[i])]} for i, n in enumerate(names)}
    pairwise = pairwise_probes(pairs_train, pairs_eval) if s.pairwise and pairs_train.x and pairs_eval.x else None
    return ProbeResult(s, n_train, len(den), int(sum(den)), {n: float(v.sum() / sum(den)) for n, v in arr.items()},
                       versus, pairwise)
