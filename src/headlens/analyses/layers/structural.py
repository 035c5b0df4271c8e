"""The structural probe (Hewitt & Manning 2019) and the tree geometry of Coenen et al. (2019).

A linear map B [rank, D] is trained so that the squared distance ||B (h_i - h_j)||^2 between two
words of a sentence approximates their distance in the dependency tree (loss: the mean absolute
difference over the sentence's word pairs, divided by the squared length, as in the paper; Adam,
minibatches of sentences). On held-out sentences:

- UUAS: the minimum spanning tree of the predicted distances against the gold tree's undirected
  edges (every word, punctuation included, unlike the paper);
- Spearman: per word, the rank correlation of its predicted and gold distances to the other words,
  averaged over the words of a sentence and then over sentences of at least ``MIN_WORDS`` words;
- ``raw_spearman``: the same for the plain squared Euclidean distance of the layer's vectors,
  without a probe (Coenen et al.'s comparison).

Only sentences whose every word was kept with its head (``complete``) take part.
"""

from __future__ import annotations

import numpy as np

from ...lazy import torch

MIN_WORDS = 5
BATCH = 32


def tree_distances(heads: np.ndarray) -> np.ndarray:
    """[n, n] path lengths in the tree given by ``heads`` (head index per word, -1 for the root)."""
    n = len(heads)
    adj = [[] for _ in range(n)]
    for i, h in enumerate(heads):
        if h >= 0:
            adj[i].append(int(h))
            adj[int(h)].append(i)
    out = np.zeros((n, n))
    for s in range(n):
        seen, frontier, d = {s}, [s], 0
        while frontier:
            d += 1
            nxt = [j for i in frontier for j in adj[i] if j not in seen]
            seen.update(nxt)
            for j in nxt:
                out[s, j] = d
            frontier = nxt
    return out


def spanning_edges(dist: np.ndarray) -> set[tuple[int, int]]:
    """The undirected edges (i < j) of a minimum spanning tree of ``dist`` (Prim)."""
    n = len(dist)
    inside = np.zeros(n, bool)
    inside[0] = True
    best, parent = dist[0].copy(), np.zeros(n, np.int64)
    edges = set()
    for _ in range(n - 1):
        j = int(np.argmin(np.where(inside, np.inf, best)))
        edges.add((min(j, int(parent[j])), max(j, int(parent[j]))))
        inside[j] = True
        closer = dist[j] < best
        best, parent = np.where(closer, dist[j], best), np.where(closer, j, parent)
    return edges


def _spearman_rows(pred: np.ndarray, gold: np.ndarray) -> float:
    from scipy.stats import spearmanr

    rhos = []
    for i in range(len(pred)):
        others = np.arange(len(pred)) != i
        if np.ptp(gold[i, others]) > 0 and np.ptp(pred[i, others]) > 0:
            rhos.append(spearmanr(pred[i, others], gold[i, others]).statistic)
    return float(np.mean(rhos)) if rhos else float("nan")


def _pad(sentences: list[np.ndarray], dists: list[np.ndarray]):
    n = max(len(s) for s in sentences)
    x = np.zeros((len(sentences), n, sentences[0].shape[1]), np.float32)
    d = np.zeros((len(sentences), n, n), np.float32)
    mask = np.zeros((len(sentences), n), bool)
    for k, (s, t) in enumerate(zip(sentences, dists)):
        x[k, :len(s)], d[k, :len(s), :len(s)], mask[k, :len(s)] = s, t, True
    return torch.from_numpy(x), torch.from_numpy(d), torch.from_numpy(mask)


def _squared(b, x):
    z = x @ b.T  # [S, n, rank]
    return ((z[:, :, None] - z[:, None]) ** 2).sum(-1)


def train(sentences: list[np.ndarray], dists: list[np.ndarray], rank: int, epochs: int, seed: int,
          lr: float = 1e-3) -> np.ndarray:
    """B [rank, D] fitted on the sentences' vectors [n_s, D] and tree distances [n_s, n_s]."""
    gen = torch.Generator().manual_seed(seed)
    dim = sentences[0].shape[1]
    b = (torch.randn(rank, dim, generator=gen) / dim ** 0.5).requires_grad_(True)
    opt = torch.optim.Adam([b], lr=lr)
    order = np.random.default_rng(seed)
    batches = [_pad([sentences[i] for i in chunk], [dists[i] for i in chunk])
               for chunk in np.array_split(np.arange(len(sentences)), max(1, len(sentences) // BATCH))]
    with torch.enable_grad():
        for _ in range(epochs):
            for k in order.permutation(len(batches)):
                x, d, mask = batches[k]
                pair = mask[:, :, None] & mask[:, None]
                n = mask.sum(1).float()
                loss = ((_squared(b, x) - d).abs() * pair).sum((1, 2)) / n ** 2
                opt.zero_grad()
                loss.mean().backward()
                opt.step()
    return b.detach().numpy()


def evaluate(b: np.ndarray | None, sentences: list[np.ndarray], heads: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per sentence: correct tree edges of the spanning tree, edges (n - 1), Spearman of the probe's
    distances, and of the raw squared distances (NaN below ``MIN_WORDS`` words)."""
    out = {"correct": [], "edges": [], "spearman": [], "raw_spearman": []}
    for x, h in zip(sentences, heads):
        gold = tree_distances(h)
        z = x @ b.T if b is not None else x
        pred = ((z[:, None] - z[None]) ** 2).sum(-1)
        raw = ((x[:, None] - x[None]) ** 2).sum(-1)
        truth = {(min(i, int(p)), max(i, int(p))) for i, p in enumerate(h) if p >= 0}
        out["correct"].append(len(spanning_edges(pred) & truth))
        out["edges"].append(len(truth))
        big = len(x) >= MIN_WORDS
        out["spearman"].append(_spearman_rows(pred, gold) if big else np.nan)
        out["raw_spearman"].append(_spearman_rows(raw, gold) if big else np.nan)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
