"""Clark et al.'s attention-based probing classifier, its word-vector variant, and the baselines.

For dependent word j and candidate head i (every other word, or ROOT):

- ``attn``: logit(i | j) = sum_k w_k a^k_ji + u_k a^k_ij over the K = L x H heads (a^k_ji: word
  j's attention to word i), i.e. one weight per head and direction; ROOT's logit is the same
  form over j's attention to the special units ([CLS] and [SEP], summed) and theirs to j
  (averaged), with its own weights and a bias.
- ``attn+vectors``: the per-head weights are linear in the two words' vectors,
  [w; u]_ij = c + M_h v_i + M_d v_j, with v the model's own input embeddings (frozen; the mean
  over a word's sub-tokens; ROOT's vector is [CLS]'s).
- ``distance`` (baseline): logit(i | j) = theta[clip(i - j, -10, 10)], ROOT = theta_root.
- right-branching (baseline, no training): every word's head is the next word, the last
  word's is ROOT.

Training as in the paper: cross-entropy of the gold head, Adam (lr 0.002), one epoch, one
sentence per step, in corpus order; initial weights ~ N(0, 0.01^2) from ``seed`` (so a run is
reproducible). UAS counts words that are not punctuation (UPOS PUNCT) and whose gold head has
tokens.
"""

from __future__ import annotations

import numpy as np
from ...lazy import torch  # imported on first use (headlens.lazy): the analysis registers without torch

from .data import NO_HEAD, ProbeSentence

FEATURES = ("attn", "attn+vectors", "distance")
MAX_DISTANCE = 10


def pair_features(s: ProbeSentence) -> tuple[torch.Tensor, torch.Tensor]:
    """([n, n, 2K] for dependent j, candidate i: [a_ji, a_ij]; [n, 2K] for ROOT: [a_j->specials, a_specials->j])."""
    a = s.attn
    w, sp = torch.as_tensor(s.words), torch.as_tensor(s.specials)
    aw = a[:, w][:, :, w]  # [K, n, n]: [k, j, i] = word j's attention to word i
    pairs = torch.cat([aw.permute(1, 2, 0), aw.permute(2, 1, 0)], dim=-1)
    root = torch.cat([a[:, w][:, :, sp].sum(-1).T, a[:, sp][:, :, w].mean(1).T], dim=-1)
    return pairs, root


class Parser(torch.nn.Module):
    def __init__(self, features: str, heads: int, dim: int = 0, seed: int = 0):
        super().__init__()
        if features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, got {features!r}")
        g = torch.Generator().manual_seed(seed)
        init = lambda *shape: torch.nn.Parameter(0.01 * torch.randn(*shape, generator=g))  # noqa: E731
        self.features = features
        if features == "distance":
            self.theta, self.theta_root = init(2 * MAX_DISTANCE + 1), init(1)
            return
        self.w, self.w_root, self.bias_root = init(2 * heads), init(2 * heads), init(1)
        if features == "attn+vectors":
            self.m_head, self.m_dep = init(dim, 2 * heads), init(dim, 2 * heads)

    def forward(self, s: ProbeSentence) -> torch.Tensor:
        """Logits [n, n + 1]: row j = dependent, column i = candidate head, column n = ROOT."""
        n = len(s.words)
        if self.features == "distance":
            pos = torch.arange(n)
            words = self.theta[(pos[None, :] - pos[:, None]).clamp(-MAX_DISTANCE, MAX_DISTANCE) + MAX_DISTANCE]
            root = self.theta_root.expand(n)
        else:
            pairs, root_f = pair_features(s)
            if self.features == "attn":
                words, root = pairs @ self.w, root_f @ self.w_root
            else:
                v = s.vectors[torch.as_tensor(s.words)]
                ph, pd = v @ self.m_head, v @ self.m_dep  # [n, 2K]
                words = pairs @ self.w + torch.einsum("jik,ik->ji", pairs, ph) + torch.einsum("jik,jk->ji", pairs, pd)
                cls = s.vectors[int(s.specials[0])] @ self.m_head
                root = root_f @ self.w_root + ((cls[None, :] + pd) * root_f).sum(-1)
            root = root + self.bias_root
        words = words.masked_fill(torch.eye(n, dtype=torch.bool), float("-inf"))
        return torch.cat([words, root[:, None]], dim=1)


def targets(s: ProbeSentence) -> torch.Tensor:
    """long [n]: the gold column (ROOT = n), NO_HEAD where unknown."""
    n = len(s.words)
    return torch.as_tensor(np.where(s.gold == -1, n, s.gold))


class Trainer:
    """One epoch of Adam over sentences, one sentence per step."""

    def __init__(self, model: Parser, lr: float = 0.002):
        self.model = model
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)
        self.steps = 0

    def step(self, s: ProbeSentence) -> None:
        y = targets(s)
        ok = y != NO_HEAD
        if len(s.words) < 1 or not ok.any():
            return
        loss = torch.nn.functional.cross_entropy(self.model(s)[ok], y[ok])
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.steps += 1


def scored(s: ProbeSentence) -> np.ndarray:
    return ~s.punct & (s.gold != NO_HEAD)


def hits(model: Parser, s: ProbeSentence) -> int:
    with torch.no_grad():
        pred = model(s).argmax(-1).numpy()
    return int(((pred == targets(s).numpy()) & scored(s)).sum())


def right_branching_hits(s: ProbeSentence) -> int:
    n = len(s.words)
    pred = np.arange(1, n + 1)  # the next word; the last word's "next" is column n = ROOT
    return int(((pred == targets(s).numpy()) & scored(s)).sum())
