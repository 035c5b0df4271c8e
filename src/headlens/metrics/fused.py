"""Exact attention statistics without the T x T map: what a metric reads on the fused path.

A fused attention call (``headlens.runner.fused``) gives, for each layer, the queries q and keys
k of every head, each query row's log-sum-exp ``lse_i = log sum_j exp(s q_i.k_j + bias_j)``
(s the softmax scale, bias 0 for a real key and -inf for padding), and in the same call, as extra
value columns:

- ``E_i[k] = sum_j p_ij k_j``, so that the row entropy is exactly
  ``H_i = -sum_j p_ij log p_ij = lse_i - s q_i.E_i[k]``;
- ``sum_j p_ij w_j`` for a few weighted key sets w (the [CLS] column, the [SEP]s, punctuation,
  each with its word-level weights).

Any single probability is ``p_ij = exp(s q_i.k_j + bias_j - lse_i)``: a pair costs O(d), so
self, previous and next tokens, and a word's own and neighbouring sub-tokens, are gathered along a
few diagonals, never from a map.

A metric declares what it needs with a :class:`Need` (``Metric.need``); a metric without one reads
full rows (its :class:`~headlens.metrics.view.AttentionView`), which the engine then computes for
that layer. Word level follows the Clark aggregation exactly: a word's row is the mean (``clark``,
``mean``) or the first (``first``) of its sub-tokens' rows (``R``, the batch's row aggregation);
its attention to a word is the sum (``clark``, ``first``) or the mean (``mean``) over that word's
sub-tokens, which is a key weight per token (``Batch.key_weights``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ..align.encode import CLS, SEP

NEED_KINDS = ("mass", "pair", "entropy")
QUERY_SETS = ("valid", "cls", "sep", "has_prev", "has_next")
KEY_SETS = ("cls", "sep", "punct")


@dataclass(frozen=True)
class Need:
    """What a metric reads on the fused path: a per-query quantity, averaged over a query set.

    ``kind``: ``mass`` (attention to the key set ``arg``, one of :data:`KEY_SETS`), ``pair``
    (attention to the unit at offset ``arg``: 0 itself, -1 the previous, +1 the next; at word level
    a whole word), or ``entropy`` (the row entropy in nats). ``queries``: which queries the mean
    runs over (:data:`QUERY_SETS`; ``has_prev``/``has_next``: the queries that have that neighbour).
    """

    kind: str
    arg: object = None
    queries: str = "valid"

    def __post_init__(self) -> None:
        if self.kind not in NEED_KINDS:
            raise ValueError(f"Need.kind must be one of {NEED_KINDS}, got {self.kind!r}")
        if self.queries not in QUERY_SETS:
            raise ValueError(f"Need.queries must be one of {QUERY_SETS}, got {self.queries!r}")
        if self.kind == "mass" and self.arg not in KEY_SETS:
            raise ValueError(f"a mass Need takes a key set in {KEY_SETS}, got {self.arg!r}")
        if self.kind == "pair" and self.arg not in (-1, 0, 1):
            raise ValueError(f"a pair Need takes an offset in (-1, 0, 1), got {self.arg!r}")


def query_mean(per_query: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Mean over the selected queries: per_query [B, H, Q], queries bool [B, Q] -> [B, H].

    NaN for a sentence with no selected query (the metric is undefined there).
    """
    w = queries.to(per_query.dtype).unsqueeze(1)
    return (per_query * w).sum(-1) / w.sum(-1)


def query_set(name: str, valid: torch.Tensor, kinds: torch.Tensor) -> torch.Tensor:
    """bool [B, N]: the queries of :data:`QUERY_SETS` ``name`` among units with ``valid`` and ``kinds``."""
    if name == "valid":
        return valid
    if name == "cls":
        return valid & (kinds == CLS)
    if name == "sep":
        return valid & (kinds == SEP)
    out = torch.zeros_like(valid)
    if name == "has_prev":
        out[:, 1:] = valid[:, 1:]
    else:  # has_next
        out[:, :-1] = valid[:, 1:]
    return out


@dataclass
class FusedLayer:
    """One layer's fused results for a batch (device tensors; statistics in ``dtype``).

    ``q``, ``k`` [B, H, T, d] as the model computed them; ``lse`` [B, H, T]; ``bias`` [B, T]
    (0 or -inf); ``masses`` [B, H, T, m] by the batch's key columns; ``entropy`` [B, H, T].
    """

    q: torch.Tensor
    k: torch.Tensor
    lse: torch.Tensor
    bias: torch.Tensor
    scale: float
    dtype: torch.dtype
    masses: torch.Tensor | None = None
    entropy: torch.Tensor | None = None
    _pairs: dict = field(default_factory=dict, repr=False)

    def pair(self, offset: int) -> torch.Tensor:
        """[B, H, T]: p(i, i + offset) for every query i; 0 where i + offset is outside or padding."""
        if offset not in self._pairs:
            b, h, t, _ = self.q.shape
            out = torch.zeros((b, h, t), dtype=self.dtype, device=self.q.device)
            if abs(offset) < t:
                qi = slice(max(0, -offset), t - max(0, offset))
                kj = slice(max(0, offset), t - max(0, -offset))
                scores = torch.linalg.vecdot(self.q[:, :, qi].to(self.dtype), self.k[:, :, kj].to(self.dtype))
                scores = scores * self.scale + self.bias[:, None, kj] - self.lse[:, :, qi]
                out[:, :, qi] = torch.exp(scores)
            self._pairs[offset] = out
        return self._pairs[offset]


class FusedView:
    """The fused counterpart of :class:`~headlens.metrics.view.AttentionView` for one level.

    ``level="token"``: units are tokens. ``level="word"``: units are the batch's word units; a
    per-token quantity is carried to units by ``rows`` [B, U, T] (the row aggregation), and pairs
    run over whole words: ``word_pair(r)`` sums, for each token, its attention to the sub-tokens of
    the unit ``r`` after its own, weighted by the key weights of the aggregation.
    """

    def __init__(self, layer: FusedLayer, valid, kinds, columns: dict[str, int], level: str = "token",
                 rows: torch.Tensor | None = None, token_unit: torch.Tensor | None = None,
                 key_weight: torch.Tensor | None = None):
        self.layer, self.valid, self.kinds, self.columns, self.level = layer, valid, kinds, columns, level
        self.rows, self.token_unit, self.key_weight = rows, token_unit, key_weight
        self._cache: dict = {}

    def score(self, need: Need) -> torch.Tensor:
        """[B, H]: the metric's value for every sentence and head."""
        return query_mean(self._per_unit(need), query_set(need.queries, self.valid, self.kinds))

    def _per_unit(self, need: Need) -> torch.Tensor:
        key = (need.kind, need.arg)
        if key not in self._cache:
            self._cache[key] = self._compute(need)
        return self._cache[key]

    def _compute(self, need: Need) -> torch.Tensor:
        layer = self.layer
        if need.kind == "mass":
            per_token = layer.masses[..., self.columns[f"{self.level}:{need.arg}"]]
        elif need.kind == "entropy":
            if self.level != "token":
                raise ValueError("word-level entropy reads full rows; it has no fused Need")
            return layer.entropy
        elif self.level == "token":
            return layer.pair(need.arg)
        else:
            per_token = self._word_pair(need.arg)
        if self.level == "token":
            return per_token
        return torch.einsum("bht,but->bhu", per_token, self.rows.to(per_token.dtype))

    def _word_pair(self, r: int) -> torch.Tensor:
        """[B, H, T]: for each token t, sum of w_j p(t, j) over the tokens j of unit(t) + r."""
        unit = self.token_unit  # [B, T], -1 for none / padding
        b, t = unit.shape
        n_units = self.valid.sum(-1, keepdim=True)  # [B, 1]
        target = unit + r
        has = (unit >= 0) & (target >= 0) & (target < n_units)
        out = torch.zeros(self.layer.lse.shape, dtype=self.layer.dtype, device=unit.device)
        if not bool(has.any()):
            return out
        pos = torch.arange(t, device=unit.device).expand(b, t)
        # the token span of each unit: offsets from a token to the first and last token of its target unit
        u = self.valid.shape[1]
        first = torch.full((b, u), t, dtype=torch.long, device=unit.device)
        last = torch.full((b, u), -1, dtype=torch.long, device=unit.device)
        member = unit >= 0
        first.scatter_reduce_(1, unit.clamp(min=0), torch.where(member, pos, t), "amin")
        last.scatter_reduce_(1, unit.clamp(min=0), torch.where(member, pos, -1), "amax")
        tgt = target.clamp(0, u - 1)
        lo = int((first.gather(1, tgt) - pos)[has].min())
        hi = int((last.gather(1, tgt) - pos)[has].max())
        for o in range(lo, hi + 1):
            if abs(o) >= t:
                continue
            qi = slice(max(0, -o), t - max(0, o))
            kj = slice(max(0, o), t - max(0, -o))
            hit = has[:, qi] & (unit[:, kj] == target[:, qi])
            if not bool(hit.any()):
                continue
            w = torch.where(hit, self.key_weight[:, kj], 0).to(out.dtype)  # [B, T - |o|]
            out[:, :, qi] += self.layer.pair(o)[:, :, qi] * w[:, None, :]
        return out
