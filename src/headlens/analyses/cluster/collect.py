"""The ``cluster`` collector: Jensen-Shannon divergence between every pair of heads, summed over tokens.

Clark et al. (2019, section 6): distance(Ha, Hb) = sum over query tokens of JS(alpha_a[i], alpha_b[i]),
each row smoothed as alpha <- (1 - s) alpha + s / n over the n valid keys (s = 0.001), natural
logarithm. Every valid query token of every sentence counts, [CLS] and [SEP] included; heads of
all layers are indexed k = layer * H + head.

Computation, per batch and on the device: JS(P, Q) = H((P + Q) / 2) - (H(P) + H(Q)) / 2, so the
head entropies are computed once and only the mixture entropies are pairwise: for each head a,
the mixtures with the heads after it, over chunks of rows (at most CHUNK elements at a time), in
float64 (in float32 the difference of entropies cancels: 0.2% error on near-uniform heads).
Cost: rows x (L H)^2 / 2 x T entropy terms, about L H / 2 times the surface metrics' entropy
(about 2 s per 1,000 query tokens for MiniLM's 72 heads on 2 CPU cores; see docs/syntax.md);
memory: every layer's rows of the batch are kept until the pass ends (on the fused path its q and
k, L x 2 x B x H x T x d, from which the chunks of rows are computed; on the eager path its maps)
plus a few chunks of CHUNK float64s.
"""

from __future__ import annotations

import numpy as np
from ...lazy import torch  # imported on first use (headlens.lazy): the analysis registers without torch

from ...collect import Collector

SMOOTHING = 1e-3
CHUNK = 1 << 20  # elements of one chunk of rows (8 MiB in float64: cache-friendly, measured fastest)


def js_sum(layers: list[torch.Tensor], valid: torch.Tensor, chosen: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(float64 [K, K], rows): the JS divergence between every pair of heads summed over the valid
    query tokens of the chosen sentences; symmetric with a zero diagonal.

    layers: per layer the rows of its attention (``runner.rows.Rows``: on the fused path computed from
    the layer's q and k, never the whole map); valid bool [B, T]; chosen bool [B]. Rows are made a
    chunk at a time (no [B, L*H, T, T] copy).
    """
    k, t = sum(a.shape[1] for a in layers), valid.shape[1]
    out = torch.zeros(k, k, dtype=torch.float64, device=valid.device)
    qb, qi = torch.nonzero(valid & chosen[:, None], as_tuple=True)
    n = valid.sum(-1).to(torch.float64)
    step = max(1, CHUNK // max(1, k * t))
    for start in range(0, len(qb), step):
        b, i = qb[start:start + step], qi[start:start + step]
        rows = torch.cat([a.pick(b, i) for a in layers], dim=1).to(torch.float64)  # [r, K, T]
        eps = (SMOOTHING / n[b])[:, None, None] * valid[b][:, None, :]  # padded keys stay exactly 0
        rows = torch.add(eps, rows, alpha=1.0 - SMOOTHING)
        h = torch.special.entr(rows).sum(-1)  # [r, K]; entr(0) = 0
        for a in range(k - 1):
            mix = torch.special.entr((rows[:, a:a + 1] + rows[:, a + 1:]) * 0.5).sum(-1)  # [r, K - a - 1]
            out[a, a + 1:] += (mix - 0.5 * (h[:, a:a + 1] + h[:, a + 1:])).sum(0)
    return out + out.T, len(qb)


class HeadDistances(Collector):
    name = "cluster"
    summed = ("js_sum", "tokens")
    needs_attention = True
    reads_rows = True  # on_layer gets the layer's rows (runner.rows.Rows), not its map

    def __init__(self, layers: int, heads: int):
        self.k = layers * heads
        self._layers: list[torch.Tensor] = []
        self._sum = np.zeros((self.k, self.k))
        self._tokens = 0
        self._ids: list[int] = []

    def on_layer(self, layer: int, attn: torch.Tensor, batch) -> None:
        if layer == 0:
            self._layers = []
        self._layers.append(attn)

    def add(self, batch, rows) -> None:
        layers, self._layers = self._layers, []
        if not rows:
            return
        chosen = torch.zeros(len(batch), dtype=torch.bool, device=batch.token_valid.device)
        chosen[list(rows)] = True
        total, tokens = js_sum(layers, batch.token_valid, chosen)
        self._sum += total.cpu().numpy()
        self._tokens += tokens
        self._ids += [batch.items[b].sentence.index for b in rows]

    def take(self) -> dict[str, np.ndarray]:
        out = {"sentence_ids": np.asarray(self._ids, dtype=np.int64), "js_sum": self._sum,
               "tokens": np.asarray(self._tokens, dtype=np.int64)}
        self._sum, self._tokens, self._ids = np.zeros((self.k, self.k)), 0, []
        return out


def make(cfg, lm) -> HeadDistances:
    return HeadDistances(lm.num_layers, lm.num_heads)
