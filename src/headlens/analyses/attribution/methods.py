"""Token attribution across layers (methods.md section 7): each method's per-layer matrix, and their rollout.

Every per-layer matrix ``C_l`` is [B, T, T], indexed (output token i, source token j), zero on padding, each
valid row non-negative and summing to 1; the attribution of layer l's outputs to the input tokens is the
rollout ``C_l C_{l-1} ... C_1`` (``Rollout``). The methods:

- ``rollout`` (Abnar & Zuidema 2020): the heads' mean attention with the residual, ``0.5 A + 0.5 I``, rows
  renormalised (the decomposition's AttnRes-W map).
- ``normroll``: the decomposition's AttnResLn-N map (``ATB``, Kobayashi et al. 2021), rows normalised: the norms
  ``||z_ij||`` of the ATB terms, from Gram matrices without the vectors as the decomposition forms them
  (``atb_maps``; equal to the decomposition's own ATB map: tested).
- ``alti`` (Ferrando et al. 2022): ``max(0, ||y_i||_1 - ||y_i - z_ij||_1)``, rows normalised, with ``z_ij`` the
  ATB term of source j (attention + residual + LN1, ``decompose.terms.atb_pairs``) and ``y_i`` the layer's actual
  LN1 output.
- ``vz`` (value zeroing, Mohebbi et al. 2023): the cosine distance between the layer's actual output ``x_i`` and
  its output with token j's value vectors zeroed in every head, rows normalised. Zeroing ``v_j`` leaves the
  attention weights as they are, so the zeroed attention output is the actual one less ``E_ij = sum_h alpha_hij
  f_h(x_j)``; the rest of the layer (LN1, feed-forward, residual, LN2) then runs once per (i, j) pair, batched in
  chunks of query rows: T times the layer's feed-forward cost.
- ``attention_flow`` (Abnar & Zuidema 2020): the max flow through the layers' residual-mixed attention taken as
  capacities, per (output, input) pair, with scipy's ``maximum_flow`` (integer capacities: scaled by
  ``FLOW_SCALE``); one max-flow per pair, so only for short sentences (the analysis' ``flow_cap``).
"""

from __future__ import annotations

import numpy as np

from ...decompose.terms import (BUDGET, _chunks, _rel_error, atb_inputs, atb_pairs, ln_scale, ln_split, quadratic_norms,
                               value_terms)
from ...lazy import torch

METHODS = ("rollout", "normroll", "alti", "vz")
FLOW_SCALE = 1 << 20  # capacities in units of 2^-20 (scipy's max flow needs integers)


def pair_mask(valid):
    """bool [B, T, T]: the pairs of valid tokens."""
    return valid[:, :, None] & valid[:, None, :]


def normalise_rows(m, valid):
    """``m`` [B, T, T] non-negative: zero outside the valid pairs, each valid row scaled to sum to 1 (a row of
    zeros stays zero)."""
    m = torch.where(pair_mask(valid), m, torch.zeros((), dtype=m.dtype, device=m.device))
    s = m.sum(-1, keepdim=True)
    return m / torch.where(s > 0, s, torch.ones_like(s))


def residual_mixed(probs, valid):
    """Abnar & Zuidema's ``0.5 A + 0.5 I`` of the heads' mean attention probs [B, H, T, T], rows renormalised."""
    eye = torch.eye(probs.shape[-1], dtype=probs.dtype, device=probs.device)
    return normalise_rows(0.5 * probs.mean(1) + 0.5 * eye, valid)


class Rollout:
    """The running product ``C_l ... C_1`` of one batch, one layer at a time (starts at the identity)."""

    def __init__(self):
        self.product = None

    def step(self, c):
        self.product = c if self.product is None else c @ self.product
        return self.product


def rollout(layers):
    """[L, B, T, T] per-layer matrices -> [L, B, T, T]: layer l's rollout ``C_l ... C_1``."""
    r = Rollout()
    return torch.stack([r.step(c) for c in layers])


def length_groups(lengths: list[int], device=None, slack: float = 1.25):
    """Rows of a batch in groups of similar length, so that the pair terms of a group padded to its longest
    sentence are at most ``slack`` times their unpadded size (or the group is one row): [(row indices, length)]."""
    groups: list[tuple[list[int], int]] = []
    area = 0
    for row in sorted(range(len(lengths)), key=lengths.__getitem__):
        n = lengths[row]
        if n == 0:
            continue
        if groups and (len(groups[-1][0]) + 1) * n * n <= slack * (area + n * n):
            groups[-1][0].append(row)
            groups[-1] = (groups[-1][0], n)
            area += n * n
        else:
            groups.append(([row], n))
            area = n * n
    return [(torch.tensor(rows, device=device), n) for rows, n in groups]


def atb_maps(parts, w, valid, budget: int = BUDGET):
    """ALTI's and the norm-based rollout's per-layer matrices (rows normalised), and the completeness error of the
    ATB terms ``z_ij`` per sentence [B]: ``sum_j z_ij`` plus the bias ``LN1(b_O) + beta1`` against the model's own
    LN1 output (``decompose.terms``' attention-block check).

    Only ALTI's L1 distance ``||y_i - z_ij||_1`` needs the terms as vectors: one pass over them, in chunks of query
    rows (``atb_pairs``), that reads each chunk once (subtract, absolute value, sum in place), the sentences in
    groups of similar length (``length_groups``: at most 25% padded pairs, not the batch's T^2 per sentence;
    ``valid`` [B, T] holds each sentence's tokens first). The norms come from
    the Gram form (``decompose.terms``: ``||z_ij||^2 = a^T G'_j a`` off the diagonal, the diagonal directly), and
    ``sum_j z_ij`` from one matrix product over (source, head) pairs: neither reads the [T, T, d] terms."""
    x = parts["value.in"]
    b, t, d = x.shape
    g1, beta1, eps1 = w.ln1
    s1 = ln_scale(parts["attention_norm.in"], eps1)
    a_all, fl, x_ln = atb_inputs(x, parts["value.out"], parts.probs.to(x.dtype), s1, w)
    y = parts["attention_norm.out"].to(x.dtype)  # [B, T, d]: the actual output of the attention block
    y1 = y.abs().sum(-1)  # [B, T]
    alti = x.new_zeros(b, t, t)
    for rows, n in length_groups(valid.sum(-1).tolist(), valid.device):
        sub = a_all[rows, :n, :n].contiguous(), fl[rows, :n], x_ln[rows, :n], y[rows, :n]
        for r, query_chunks in _chunks(len(rows), n, d, budget):
            for qs in query_chunks:
                z = atb_pairs(sub[0][r, :, qs], sub[1][r], sub[2][r, qs], qs)  # [b, Tj, q, d]
                dist = z.sub_(sub[3][r, qs].unsqueeze(1)).abs_().sum(-1)  # [b, Tj, q]
                part = (y1[rows[r], qs].unsqueeze(1) - dist).clamp_min_(0).transpose(1, 2)  # [b, q, Tj]
                alti[rows[r], qs, :n] = part
    a = a_all.permute(0, 2, 1, 3)  # [B, Ti, Tj, H]: alpha_hij / s1_i
    total = a.reshape(b, t, t * fl.shape[2]) @ fl.reshape(b, t * fl.shape[2], d) + x_ln  # sum_j z_ij
    grams = (fl @ fl.transpose(-1, -2)).unsqueeze(2)  # [B, Tj, 1, H, H]: G'_j
    norms = quadratic_norms(a.permute(0, 3, 1, 2), grams, budget)[:, 0]  # [B, Ti, Tj], the diagonal still to set
    own = a.diagonal(dim1=1, dim2=2).transpose(1, 2).unsqueeze(-2) @ fl  # [B, T, 1, d]: the heads' share of z_ii
    norms.diagonal(dim1=-2, dim2=-1).copy_((own.squeeze(-2) + x_ln).norm(dim=-1))
    error = _rel_error(total + ln_split(w.b_o, g1, s1) + beta1, y, ~valid)
    return {"alti": normalise_rows(alti, valid), "normroll": normalise_rows(norms, valid)}, error


def value_zeroing(parts, w, tail, valid, budget: int = BUDGET):
    """Value zeroing's per-layer matrix [B, T, T] (rows normalised). ``tail(pre)``: the layer after the attention
    output, from the pre-LN1 sum to the layer output (``layer_tail``)."""
    x = parts["value.in"]
    b, t, d = x.shape
    f = value_terms(parts["value.out"][None], w.value_maps[:, None, :, :d])[0]  # [B, T, H, d]: f_h(x_j)
    a_all = parts.probs.to(x.dtype).permute(0, 3, 2, 1)  # [B, Tj, Ti, H]
    pre = parts["attention_norm.in"].to(x.dtype)  # [B, T, d]: x_i + the actual attention output
    actual = parts["ff_norm.out"].to(x.dtype)
    width = max(d, tail.width)
    out = x.new_empty(b, t, t)
    for rows, query_chunks in _chunks(b, t, width, budget):
        for qs in query_chunks:
            e = a_all[rows, :, qs] @ f[rows]  # [b, Tj, q, d]: E_ij
            zeroed = tail(pre[rows, qs].unsqueeze(1) - e)  # [b, Tj, q, d]
            cos = torch.nn.functional.cosine_similarity(zeroed, actual[rows, qs].unsqueeze(1), dim=-1)
            out[rows, qs] = (1 - cos).clamp_min_(0).transpose(1, 2)
    return normalise_rows(out, valid)


class layer_tail:  # noqa: N801 - used like a function
    """LN1, feed-forward, residual and LN2 of one post-LN layer module, applied to pre-LN1 sums [..., d]. The parts'
    ``forward`` is called, not the modules: the run's part hooks (runner/parts.py) must not see these calls."""

    def __init__(self, adapter, module):
        part = lambda name: adapter.part(module, name).forward  # noqa: E731
        self.ln1, self.ff_in, self.act = part("attention_norm"), part("ff_in"), part("ff_activation")
        self.ff_out, self.ln2 = part("ff_out"), part("ff_norm")
        self.width = adapter.part(module, "ff_in").out_features

    def __call__(self, pre):
        h = self.ln1(pre)
        return self.ln2(self.ff_out(self.act(self.ff_in(h))) + h)


def attention_flow(mixed) -> np.ndarray:
    """Attention flow of one sentence: mixed [L, T, T] (each layer's residual-mixed attention, rows = outputs) ->
    [L, T, T], flow[l, i, j] = the max flow from input token j to token i of layer l's output, through the layers'
    capacities (the graph of Abnar & Zuidema's code: node (l, i) takes capacity mixed[l, i, j] from node (l-1, j)).
    Rows are not normalised: compare them with a method's rows by rank, or normalise with ``normalise_rows``.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_flow

    mixed = np.asarray(mixed, dtype=np.float64)
    layers, t, _ = mixed.shape
    n = (layers + 1) * t
    src, dst, cap = [], [], []
    for lay in range(layers):
        i, j = np.nonzero(mixed[lay] > 0)
        src.append(lay * t + j)
        dst.append((lay + 1) * t + i)
        cap.append(np.rint(mixed[lay, i, j] * FLOW_SCALE))
    graph = csr_matrix((np.concatenate(cap).astype(np.int32), (np.concatenate(src), np.concatenate(dst))), shape=(n, n))
    out = np.zeros((layers, t, t))
    for lay in range(layers):
        below = graph[:(lay + 2) * t, :(lay + 2) * t]  # the layers up to this one: nothing above carries flow here
        for i in range(t):
            for j in range(t):
                out[lay, i, j] = maximum_flow(below, j, (lay + 1) * t + i).flow_value
    return out / FLOW_SCALE
