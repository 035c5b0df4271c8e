"""Exact attention statistics without the T x T map: what a metric reads on the fused path.

A fused attention call (``headlens.runner.fused``) gives, for each layer, the queries q and keys
k of every head, each query row's log-sum-exp ``lse_i = log sum_j exp(s q_i.k_j + bias_j)``
(s the softmax scale, bias 0 for a real key and -inf for padding), and in the same call, as extra
value columns:

- ``E_i[k] = sum_j p_ij k_j``, so that the row entropy is exactly
  ``H_i = -sum_j p_ij log p_ij = lse_i - s q_i.E_i[k]``;
- ``sum_j p_ij w_j`` for the weighted key sets w the run's metrics name (:class:`KeySet`).

Any single probability is ``p_ij = exp(s q_i.k_j + bias_j - lse_i)``: a pair costs O(d), so self,
previous and next tokens, local windows, a word's own and neighbouring sub-tokens and the token
pairs of dependency arcs are gathered along a few diagonals or index lists, never from a map. The
attention a key *receives*, ``sum_i r_i p_ij``, is one more kernel call with queries and keys
swapped and the bias ``log r_i - lse_i`` (:meth:`FusedLayer.received`), or, on the one-pass kernel
(``headlens.runner.onepass``), computed with the layer for the query weights of
:func:`receiver_weights`, as is the band of pairs.

A metric declares what it reads with ``Metric.need``: a :class:`Need` (a per-query quantity
averaged over a query set: the surface metrics) or a :class:`Fused` (its own function of a
:class:`FusedView`, with the key sets it needs). A metric without one reads full rows (its
:class:`~headlens.metrics.view.AttentionView`), which the engine then computes for that layer.
Word level follows the run's word aggregation exactly: a word's row is the mean (``clark``,
``mean``) or the first (``first``) of its sub-tokens' rows (``R``, the batch's row aggregation);
its attention to a word is the sum (``clark``, ``first``) or the mean (``mean``) over that word's
sub-tokens, which is a key weight per token (``Batch.key_weight``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from ..lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ..align.encode import CLS, OTHER_SPECIAL, SEP, WORD
from .arcs import pad_rows, unit_tokens

NEED_KINDS = ("mass", "pair", "entropy")
REACH = 8  # the band of pairs (FusedLayer.band) reaches at least this far (self, neighbours, local windows) ...
MAX_REACH = 16  # ... up to this far when a word pair needs it (band_reach); pairs beyond are gathered
BAND_ROWS = 32  # queries per matrix product of the band
QUERY_SETS = ("valid", "cls", "sep", "has_prev", "has_next")


@dataclass(frozen=True)
class KeySet:
    """A weighted set of keys: ``select(batch)`` gives bool [B, T] (``level="token"``, over tokens)
    or bool [B, U] (``level="word"``, over word units; each sub-token then weighs as the word
    aggregation sums or averages it). ``name`` identifies it within a run (options included)."""

    name: str
    level: str
    select: Callable[[object], torch.Tensor]


def _token_set(name: str, select: Callable) -> KeySet:
    return KeySet(f"token:{name}", "token", select)


def _word_set(name: str, select: Callable) -> KeySet:
    return KeySet(f"word:{name}", "word", select)


KEY_SETS = {  # the built-in sets, by level
    "token": {
        "cls": _token_set("cls", lambda b: b.token_kinds == CLS),
        "sep": _token_set("sep", lambda b: b.token_kinds == SEP),
        "punct": _token_set("punct", lambda b: b.token_punct & b.token_valid),
        "other_special": _token_set("other_special", lambda b: b.token_valid & (b.token_kinds == OTHER_SPECIAL)),
        "segment0": _token_set("segment0", lambda b: b.token_segment == 0),
        "segment1": _token_set("segment1", lambda b: b.token_segment == 1),
        "segment0_words": _token_set("segment0_words", lambda b: (b.token_segment == 0) & (b.token_kinds == WORD)),
        "segment1_words": _token_set("segment1_words", lambda b: (b.token_segment == 1) & (b.token_kinds == WORD)),
    },
    "word": {
        "cls": _word_set("cls", lambda b: b.unit_kinds == CLS),
        "sep": _word_set("sep", lambda b: b.unit_kinds == SEP),
        "punct": _word_set("punct", lambda b: b.unit_punct),
    },
}


@dataclass(frozen=True)
class Fused:
    """A metric's fused computation: ``score(view) -> [B, H]`` on a :class:`FusedView` of the metric's
    level, reading the masses of ``keysets``, the row ``entropy`` and the ``received`` attention
    (column sums) only if it says so."""

    score: Callable[[FusedView], torch.Tensor]
    keysets: tuple[KeySet, ...] = ()
    entropy: bool = False
    received: bool = False


@dataclass(frozen=True)
class Need:
    """A per-query quantity averaged over a query set (the surface metrics).

    ``kind``: ``mass`` (attention to the built-in key set ``arg``), ``pair`` (attention to the unit at
    offset ``arg``: 0 itself, -1 the previous, +1 the next; at word level a whole word), or
    ``entropy`` (the row entropy in nats, token level). ``queries``: which queries the mean runs
    over (:data:`QUERY_SETS`; ``has_prev``/``has_next``: the queries that have that neighbour).
    """

    kind: str
    arg: object = None
    queries: str = "valid"

    def __post_init__(self) -> None:
        if self.kind not in NEED_KINDS:
            raise ValueError(f"Need.kind must be one of {NEED_KINDS}, got {self.kind!r}")
        if self.queries not in QUERY_SETS:
            raise ValueError(f"Need.queries must be one of {QUERY_SETS}, got {self.queries!r}")
        if self.kind == "mass" and self.arg not in KEY_SETS["word"]:
            raise ValueError(f"a mass Need takes a key set in {tuple(KEY_SETS['word'])}, got {self.arg!r}")
        if self.kind == "pair" and self.arg not in (-1, 0, 1):
            raise ValueError(f"a pair Need takes an offset in (-1, 0, 1), got {self.arg!r}")

    def fused(self, level: str) -> Fused:
        if self.kind == "mass":
            keyset = KEY_SETS[level][self.arg]
            per_unit, keysets = (lambda v: v.mass(keyset)), (keyset,)
        elif self.kind == "pair":
            per_unit, keysets = (lambda v: v.pair(self.arg)), ()
        else:
            per_unit, keysets = (lambda v: v.entropy()), ()
        return Fused(lambda v: v.query_mean(per_unit(v), query_set(self.queries, v.valid, v.kinds)), keysets,
                     entropy=self.kind == "entropy")


ROW_STATS = ("row_entropy", "dependency_argmax_d2h", "dependency_argmax_h2d")


@dataclass(frozen=True)
class Rows:
    """A full-row metric: the per-row statistics of :data:`ROW_STATS` it reads. The fused path
    computes them from blocks of query rows (``runner.rows``; ``metrics.view.row_statistics``), never
    from the whole map of a batch, and the metric scores a :class:`~headlens.metrics.view.RowsView`
    that holds them; the eager path reads the same statistics from its
    :class:`~headlens.metrics.view.AttentionView`.

    ``row_entropy`` [B, H, N]: each unit row's entropy (``AttentionView.row_entropy``);
    ``dependency_argmax_<d2h|h2d>`` [B, H, K]: the argmax of each arc's dependent row or column
    among the other words (``metrics.dependency.predicted``).
    """

    stats: tuple[str, ...]

    def __post_init__(self) -> None:
        bad = [s for s in self.stats if s not in ROW_STATS]
        if bad:
            raise ValueError(f"Rows.stats must be among {ROW_STATS}, got {bad}")


def fused_spec(need: Need | Fused | Rows | None, level: str) -> Fused | None:
    """The fused computation of a metric's ``need``; None for full-row metrics (``Rows``, or no need)."""
    if isinstance(need, Need):
        return need.fused(level)
    return need if isinstance(need, Fused) else None


def query_mean(per_query: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Mean over the selected queries: per_query [B, H, Q], queries bool [B, Q] -> [B, H].

    NaN for a sentence with no selected query (the metric is undefined there).
    """
    w = _query_weights(queries, per_query.dtype)
    return (per_query * w[0]).sum(-1) / w[1]


def _query_weights(queries: torch.Tensor, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(weights [B, 1, Q], their count [B, 1]) of a query mask [B, Q]."""
    w = queries.to(dtype).unsqueeze(1)
    return w, w.sum(-1)


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


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Dot products over the last dimension, [..., d] x [..., d] -> [...] (einsum runs them as one
    batched matrix product, about 3x faster than ``linalg.vecdot`` for head sizes of 32-64 on CPU)."""
    return torch.einsum("...d,...d->...", a, b)


@dataclass
class FusedLayer:
    """One layer's fused results for a batch (device tensors; statistics in ``dtype``).

    ``q``, ``k`` [B, H, T, d] as the model computed them; ``lse`` [B, H, T]; ``bias`` [B, T]
    (0 or -inf); ``masses`` [B, H, T, m] by the plan's key columns; ``entropy`` [B, H, T];
    ``kernel(q, k, v, bias, scale) -> (out, lse)``, the fused kernel, for :meth:`received`.
    """

    q: torch.Tensor
    k: torch.Tensor
    lse: torch.Tensor
    bias: torch.Tensor
    scale: float
    dtype: torch.dtype
    masses: torch.Tensor | None = None
    entropy: torch.Tensor | None = None
    kernel: Callable | None = None
    reach: int = 0  # half-width of the band of pairs computed at once (:meth:`band`); 0: none
    # the received attention the kernel already computed, by query weights' name (:func:`receiver_weights`)
    receivers: dict | None = None
    _pairs: dict = field(default_factory=dict, repr=False)

    @functools.cached_property
    def qt(self) -> torch.Tensor:
        """[B, T, H, d] in ``dtype``: a token's query vectors of every head contiguous (pair gathers)."""
        return self.q.transpose(1, 2).contiguous().to(self.dtype)

    @functools.cached_property
    def kt(self) -> torch.Tensor:
        return self.k.transpose(1, 2).contiguous().to(self.dtype)

    @functools.cached_property
    def band(self) -> torch.Tensor:
        """[B, H, T, 2 r + 1], r = ``reach``: ``band[..., i, r + o] = p(i, i + o)`` for |o| <= r (0 outside
        the sequence and at padding), from one matrix product per block of BAND_ROWS queries against
        the keys within r of the block: the pairs near the diagonal (self, neighbours, local windows,
        most sub-token pairs of words and arcs) cost O(T r d), without a gather per pair."""
        r, (b, h, t, _) = self.reach, self.q.shape
        w = 2 * r + 1
        q = self.q.to(self.dtype)
        k = torch.nn.functional.pad(self.k.to(self.dtype), (0, 0, r, r))  # key p of k is token p - r
        out = torch.empty((b, h, t, w), dtype=self.dtype, device=q.device)
        for start in range(0, t, BAND_ROWS):
            n = min(BAND_ROWS, t - start)
            scores = torch.matmul(q[:, :, start:start + n], k[:, :, start:start + n + 2 * r].transpose(-1, -2))
            # row i of the block against keys i - r .. i + r: a diagonal strip of the [n, n + 2r] scores
            out[:, :, start:start + n] = scores.as_strided((b, h, n, w), (*scores.stride()[:2], scores.stride(2) + 1, 1))
        bias = torch.nn.functional.pad(self.bias, (r, r), value=float("-inf")).unfold(1, w, 1)  # [B, T, w]
        return torch.exp(out.mul_(self.scale).add_(bias[:, None]).sub_(self.lse[..., None]))

    def pair(self, offset: int) -> torch.Tensor:
        """[B, H, T]: p(i, i + offset) for every query i; 0 where i + offset is outside or padding."""
        if self.reach and abs(offset) <= self.reach:
            return self.band[..., self.reach + offset]
        if offset not in self._pairs:
            b, h, t, _ = self.q.shape
            out = torch.zeros((b, h, t), dtype=self.dtype, device=self.q.device)
            if abs(offset) < t:
                qi = slice(max(0, -offset), t - max(0, offset))
                kj = slice(max(0, offset), t - max(0, -offset))
                scores = _dot(self.qt[:, qi], self.kt[:, kj]).transpose(1, 2)  # [B, H, T - |offset|]
                out[:, :, qi] = torch.exp(scores * self.scale + self.bias[:, None, kj] - self.lse[:, :, qi])
            self._pairs[offset] = out
        return self._pairs[offset]

    def gather(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """[B, H, P]: p(queries[b, p], keys[b, p]) for index lists [B, P] of real tokens: read from
        the :meth:`band` where the key is within ``reach`` of the query, else from the vectors
        (:meth:`gather_vectors`, only for those pairs, all rows' together: a row's long word does not
        make every row gather as many)."""
        b, h, t, _ = self.q.shape
        if self.reach:
            r = self.reach
            w = 2 * r + 1
            offset = keys - queries
            index = (queries * w + (offset + r).clamp(0, 2 * r))[:, None, :].expand(b, h, -1)
            out = self.band.reshape(b, h, t * w).gather(2, index)
            far = offset.abs() > r
        else:
            out = torch.empty((b, h, queries.shape[1]), dtype=self.dtype, device=queries.device)
            far = torch.ones(queries.shape, dtype=torch.bool, device=queries.device)
        rows, at = torch.nonzero(far, as_tuple=True)
        if len(rows):
            out[rows, :, at] = self.gather_vectors(rows * t + queries[rows, at], rows * t + keys[rows, at])
        return out

    def gather_vectors(self, queries: torch.Tensor, keys: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
        """[P, H]: p(i, j) for flat token indices ``b * T + i``, ``b * T + j`` (long [P] each) from the
        query and key vectors, ``chunk`` pairs at a time (a word of w sub-tokens has w^2 pairs: memory
        stays O(chunk H d))."""
        b, t, h, d = self.qt.shape
        qt, kt = self.qt.reshape(b * t, h, d), self.kt.reshape(b * t, h, d)
        lse = self.lse.transpose(1, 2).reshape(b * t, h)
        out = torch.empty((len(queries), h), dtype=self.dtype, device=queries.device)
        for start in range(0, len(queries), chunk):
            q, k = queries[start:start + chunk], keys[start:start + chunk]
            scores = _dot(qt.index_select(0, q), kt.index_select(0, k))  # [chunk, H]
            out[start:start + chunk] = torch.exp(scores * self.scale - lse.index_select(0, q))
        return out

    def received(self, weights: torch.Tensor) -> torch.Tensor:
        """[B, H, T]: sum_i w_i p_ij for every key j, query weights ``weights`` [B, T] (>= 0): one
        kernel call with keys as queries, whose log-sum-exp over the queries i, biased by
        ``log w_i - lse_i``, is the log of that sum. (On the one-pass kernel ``receivers`` holds it.)"""
        bias = (torch.log(weights.to(self.dtype))[:, None, :] - self.lse)[:, :, None, :]  # [B, H, 1, T]
        k = self.k.to(self.dtype)  # in the statistics dtype: a half-precision bias would round log w_i - lse_i
        _, lse = self.kernel(k, self.q.to(self.dtype), k, bias, self.scale)
        return torch.exp(lse.to(self.dtype)) * (self.bias == 0)[:, None, :]


def receiver_weights(batch, level: str, dtype) -> torch.Tensor:
    """[B, T]: each token's weight as a query of :meth:`FusedView.received` at ``level``: 1 for a real
    token (token level); its weight in the valid word rows of the row aggregation (word level)."""
    if level == "token":
        return batch.token_valid.to(dtype)
    return (batch.row_agg * batch.unit_valid[:, :, None]).sum(1).to(dtype)


class Memoised:
    """What both views share: per-layer results computed once (``_memo``) and the unit count ``n``.
    A view has ``_cache`` (a dict), ``valid`` (bool [B, N]) and ``dtype``."""

    def _memo(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def query_mean(self, per_query: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        """:func:`query_mean`, the mask's weights and their count made once per mask and dtype: the
        metrics of a view average over the same few masks (the valid units), each in its own call."""
        key = ("query_weights", id(queries), per_query.dtype)
        hit = self._cache.get(key)
        if hit is None or hit[0] is not queries:  # the mask is held with its weights: its id is not reused
            hit = self._cache[key] = (queries, *_query_weights(queries, per_query.dtype))
        return (per_query * hit[1]).sum(-1) / hit[2]

    @property
    def n(self) -> torch.Tensor:
        """float [B]: number of valid units."""
        return self._memo("n", lambda: self.valid.sum(-1).to(self.dtype))


class FusedView(Memoised):
    """The fused counterpart of :class:`~headlens.metrics.view.AttentionView` for one level.

    ``level="token"``: units are tokens. ``level="word"``: units are the batch's word units; a
    per-token quantity is carried to units by the row aggregation ``R`` [B, U, T], and pairs run
    over whole words. ``columns`` maps key-set names to the layer's mass columns.
    """

    def __init__(self, layer: FusedLayer, batch, level: str, columns: dict[str, int]):
        self.layer, self.batch, self.level, self.columns = layer, batch, level, columns
        if level == "token":
            self.valid, self.kinds = batch.token_valid, batch.token_kinds
            self.segment, self.upos, self.negation = batch.token_segment, None, None
        else:
            self.valid, self.kinds = batch.unit_valid, batch.unit_kinds
            self.segment, self.upos, self.negation = None, batch.unit_upos, batch.unit_negation
        self.arcs = batch.arcs
        self.dtype = layer.dtype
        self._cache: dict = {}

    def _to_units(self, per_token: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Token values [B, H, T] summed into their units [B, H, U] with each token's row weight (its
        entry of the row aggregation R), or with ``weight`` [B, T]."""
        if self.level == "token":
            return per_token
        if weight is None:
            weight = self._memo("row_weight", lambda: self.batch.row_agg.sum(1).to(self.dtype))  # one unit per token
        b, h, _ = per_token.shape
        out = torch.zeros((b, h, self.valid.shape[1]), dtype=per_token.dtype, device=per_token.device)
        index = self.batch.token_unit.clamp(min=0)[:, None, :].expand(b, h, -1)
        return out.scatter_add_(2, index, per_token * weight[:, None, :])

    def mass(self, keyset: KeySet) -> torch.Tensor:
        """[B, H, N]: each unit's attention to the key set."""
        return self._memo(("mass", keyset.name), lambda: self._to_units(self.layer.masses[..., self.columns[keyset.name]]))

    def entropy(self) -> torch.Tensor:
        """[B, H, T]: each token's row entropy in nats (token level only: a word row's entropy needs full rows)."""
        if self.level != "token":
            raise ValueError("word-level entropy reads full rows; it has no fused form")
        return self.layer.entropy

    def pair(self, offset: int) -> torch.Tensor:
        """[B, H, N]: each unit's attention to the unit ``offset`` after it (0: itself)."""
        if self.level == "token":
            return self.layer.pair(offset)
        return self._memo(("pair", offset), lambda: self._to_units(self._word_pair(offset)))

    def received(self) -> torch.Tensor:
        """[B, H, N]: the attention each unit receives, the mean over the valid query units (word
        level: of the aggregated word rows)."""

        def compute():
            cols = (self.layer.receivers or {}).get(self.level)  # computed with the layer by the one-pass kernel
            if cols is None:
                cols = self.layer.received(receiver_weights(self.batch, self.level, self.dtype))
            if self.level == "token":
                return cols / self.n[:, None, None]
            return self._to_units(cols, self.batch.key_weight.to(self.dtype)) / self.n[:, None, None]

        return self._memo("received", compute)

    def arc_attention(self, direction: str) -> torch.Tensor:
        """[B, H, K]: word attention along each arc, averaged over the sub-tokens on both sides
        (``AttentionView.arc_attention``), from the token pairs of every arc."""
        if self.arcs is None:
            raise ValueError("this view has no dependency arcs: the batch was built without relations")

        def compute():
            arcs = self.arcs
            query, key = (arcs.pair_dep, arcs.pair_head) if direction == "d2h" else (arcs.pair_head, arcs.pair_dep)
            p = self.layer.gather(query, key)  # [B, H, P]
            b, h, _ = p.shape
            k = arcs.dep.shape[1]
            sums = torch.zeros((b, h, k + 1), dtype=p.dtype, device=p.device)
            sums.scatter_add_(2, arcs.pair_slot[:, None, :].expand(b, h, -1), p)  # slot k collects the padding
            return sums[..., :k] / arcs.pair_count.clamp(min=1).to(p.dtype)[:, None, :]

        return self._memo(("arc_attention", direction), compute)

    def _word_pair(self, r: int) -> torch.Tensor:
        """[B, H, T]: for each token t, sum of w_j p(t, j) over the tokens j of unit(t) + r, from the
        batch's list of those token pairs (built once per batch, :func:`unit_pairs`)."""
        key = ("unit_pairs", r)
        if key not in self.batch.cache:
            self.batch.cache[key] = unit_pairs(self.batch.items, r, self.valid.device)
        queries, keys, real = self.batch.cache[key]
        weight = self.batch.key_weight.to(self.dtype).gather(1, keys) * real  # [B, P]
        p = self.layer.gather(queries, keys) * weight[:, None, :]
        out = torch.zeros(self.layer.lse.shape, dtype=self.dtype, device=p.device)
        return out.scatter_add_(2, queries[:, None, :].expand_as(p), p)


def unit_pairs(items, r: int, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(query token, key token, real) [B, P]: every token t paired with every token of the unit r
    after its own (r = 0: its own unit), for each encoded item of a batch; padding pairs are (0, 0)."""
    import numpy as np

    rows = []
    for enc in items:
        unit = enc.token_unit
        order, bounds = unit_tokens(enc)
        tokens = np.nonzero((unit >= 0) & (unit + r >= 0) & (unit + r < enc.n_units))[0]
        target = unit[tokens] + r
        counts = bounds[target + 1] - bounds[target]
        within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        keys = order[np.repeat(bounds[target], counts) + within]
        rows.append((np.repeat(tokens, counts), keys, np.ones(len(keys), np.float32)))
    return tuple(torch.from_numpy(a).to(device) for a in pad_rows(rows, (np.int64(0), np.int64(0), np.float32(0))))


def band_reach(batch, words: bool) -> int:
    """The reach of a batch's band of pairs (``FusedLayer.band``): :data:`REACH`, or with ``words``
    the farthest pair of tokens within a word or two neighbouring words (``FusedView.pair`` at word
    level), at most :data:`MAX_REACH`; kept in ``batch.cache``."""
    import numpy as np

    if not words:
        return REACH
    if "band_reach" not in batch.cache:
        reach = REACH
        for enc in batch.items:
            order, bounds = unit_tokens(enc)
            if enc.n_units == 0:
                continue
            lo = np.minimum.reduceat(order, bounds[:-1])  # every unit has a token
            hi = np.maximum.reduceat(order, bounds[:-1])
            reach = max(reach, int((hi - lo).max()))
            if enc.n_units > 1:
                reach = max(reach, int((np.maximum(hi[1:], hi[:-1]) - np.minimum(lo[1:], lo[:-1])).max()))
        batch.cache["band_reach"] = min(reach, MAX_REACH)
    return batch.cache["band_reach"]
