"""Coenen et al. (2019)'s pairwise attention-vector probes: is there an arc, and which relation.

The feature vector of an ordered word pair (i, j) is [a^k_ij, a^k_ji] over every head k. Two
linear (L2-regularised logistic regression) probes, trained on one file and scored on another:

- ``arc``: the pairs (dependent, head) of every arc against as many word pairs per sentence
  with no arc in either direction, drawn with ``seed``: balanced, so chance is 50%;
- ``relation``: the arcs only, labelled with their relation (UD label without subtype); chance
  is the majority relation of the training file. A relation never seen in training is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ...lazy import torch  # imported on first use (headlens.lazy): the analysis registers without torch

from .data import ProbeSentence


@dataclass
class PairSet:
    x: list[np.ndarray]
    arc: list[np.ndarray]
    relation: list[str]

    @classmethod
    def empty(cls) -> PairSet:
        return cls([], [], [])


def add_pairs(out: PairSet, s: ProbeSentence, rng: np.random.Generator) -> None:
    w = torch.as_tensor(s.words)
    aw = s.attn[:, w][:, :, w].numpy()  # [K, n, n]
    n = len(s.words)
    arcs = [(j, int(h)) for j, h in enumerate(s.gold) if h >= 0]  # not ROOT, not a head without tokens
    linked = {(a, b) for a, b in arcs} | {(b, a) for a, b in arcs}
    free = [(i, j) for i in range(n) for j in range(n) if i != j and (i, j) not in linked]
    picks = rng.choice(len(free), size=min(len(arcs), len(free)), replace=False) if free else []
    for (i, j), is_arc in [*((a, True) for a in arcs), *((free[p], False) for p in picks)]:
        out.x.append(np.concatenate([aw[:, i, j], aw[:, j, i]]))
        out.arc.append(is_arc)
        out.relation.append(s.deprel[i].split(":")[0] if is_arc else "")


def fit_logistic(x: np.ndarray, y: np.ndarray, classes: int, l2: float = 1e-4, iters: int = 200) -> torch.nn.Linear:
    """Multinomial logistic regression by L-BFGS on the full set (deterministic: zero start)."""
    xt, yt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.long)
    model = torch.nn.Linear(x.shape[1], classes).double()
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    opt = torch.optim.LBFGS(model.parameters(), max_iter=iters, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt) + l2 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return model


@dataclass
class PairwiseResult:
    arc_accuracy: float
    arc_n: int
    relation_accuracy: float
    relation_n: int
    relation_majority: float
    relations: list[str]


def pairwise_probes(train: PairSet, test: PairSet) -> PairwiseResult:
    xa, ya = np.stack(train.x), np.asarray(train.arc, dtype=np.int64)
    arc = fit_logistic(xa, ya, 2)
    with torch.no_grad():
        pred = arc(torch.as_tensor(np.stack(test.x), dtype=torch.float64)).argmax(-1).numpy()
    arc_acc = float((pred == np.asarray(test.arc, dtype=np.int64)).mean())
    labels = sorted({r for r, a in zip(train.relation, train.arc) if a})
    index = {r: i for i, r in enumerate(labels)}
    keep = ya == 1
    yr = np.asarray([index[r] for r, a in zip(train.relation, train.arc) if a])
    rel = fit_logistic(xa[keep], yr, len(labels))
    tx = np.stack([x for x, a in zip(test.x, test.arc) if a])
    truth = np.asarray([index.get(r, -1) for r, a in zip(test.relation, test.arc) if a])
    with torch.no_grad():
        rp = rel(torch.as_tensor(tx, dtype=torch.float64)).argmax(-1).numpy()
    majority = int(np.bincount(yr).argmax())
    return PairwiseResult(arc_acc, len(pred), float((rp == truth).mean()), len(truth), float((truth == majority).mean()),
                          labels)
