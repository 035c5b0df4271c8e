"""The norm-based decomposition of one post-LN layer, for a batch, on the device.

Notation (Kobayashi et al. 2020, 2021, 2024): ``f_h(x_j) = (x_j W_V^h + b_V^h) W_O^h`` (b_O
excluded); for query ``i`` and source token ``j`` the per-source terms of each stage are

    Attn        E_ij = sum_h alpha_hij f_h(x_j)                         bias b_O
    AttnRes     R_ij = E_ij + [i=j] x_i                                  bias b_O
    ATB         U_ij = LN1(R_ij) = gamma1 (R_ij - mean R_ij) / s1_i      bias LN1(b_O) + beta1
    FF          G_ij = (U_ij W1 * r_i) W2,  r_i = (act(h_i) - act(0)) / h_i  (closed-form IG)
                                                                         bias (b^pre_i r_i + act(0)) W2 + b2
    ATBFFRES    S_ij = G_ij + U_ij                                       bias FF bias + ATB bias
    ATBFFRESLN  Z_ij = LN2(S_ij)                                         bias LN2(bias) + beta2

with ``s_i`` the standard deviation of the actual pre-LN vector (bias included) and ``h_i`` the
actual pre-activation. The maps are the norms ``||E_ij||``, ``||R_ij||``, ... ; Attn-W is the
head-averaged attention and AttnRes-W = 0.5 Attn-W + 0.5 I. Mixing ratio of token ``i``:
``||sum_{j!=i} t_ij|| / (||sum_{j!=i} t_ij|| + ||t_ii||)`` (0 when both are 0).

Completeness: at every stage the per-source terms summed over ``j`` plus the bias equal the
model's own intermediate vector (captured by the hooks); ``errors`` holds the largest relative
error ``||sum - actual|| / ||actual||`` over each sentence's tokens.

Cost: the T x T x d (and T x T x d_ff) tensors exist for one chunk of query rows at a time
(``budget`` elements of the widest one); only the [B, T, T] norms and [B, T] ratios are kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .ig import closed_form_ratio
from .weights import LayerWeights

VECTOR_MAPS = ("Attn-N", "AttnRes-N", "ATB", "ATBFF", "ATBFFRES", "ATBFFRESLN")
MAPS = ("Attn-W", "AttnRes-W", *VECTOR_MAPS)
STAGES = ("attention", "residual", "layernorm1", "ff_pre", "activation", "ff", "residual2", "layernorm2")
BUDGET = 1 << 24


@dataclass
class Decomposition:
    maps: dict[str, torch.Tensor]  # name -> [B, T, T] (query i, source j)
    mixing: dict[str, torch.Tensor]  # name -> [B, T]
    errors: dict[str, torch.Tensor]  # stage -> [B]: largest relative completeness error over the row's tokens
    fnorm: torch.Tensor  # [B, H, T]: ||f_h(x_j)||
    head_mixing_w: torch.Tensor  # [B, H, T]: 1 - alpha_hii
    head_mixing_n: torch.Tensor  # [B, H, T]: mixing ratio of the per-head terms alpha_hij f_h(x_j)


def mixing_ratio(others: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    total = others + own
    return torch.where(total > 0, others / torch.where(total > 0, total, torch.ones_like(total)), torch.zeros_like(total))


def ln_split(t: torch.Tensor, gamma: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """LayerNorm's linear part with a fixed scale ``s`` (the actual pre-LN std): additive over summands."""
    return gamma * (t - t.mean(-1, keepdim=True)) / s


def ln_scale(pre: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.sqrt(pre.var(-1, unbiased=False, keepdim=True) + eps)


def head_values(v: torch.Tensor, w: LayerWeights) -> torch.Tensor:
    """``f_h(x_j)`` for every head and token: [B, H, T, d]."""
    b, t, d = v.shape
    dh = d // w.heads
    return torch.einsum("bjhe,dhe->bhjd", v.reshape(b, t, w.heads, dh), w.w_o.reshape(w.w_o.shape[0], w.heads, dh))


def _chunks(b: int, t: int, width: int, budget: int):
    """(rows, [query slices]) covering [B, T] with at most ``budget`` elements of width ``width`` per pair."""
    queries = max(1, budget // max(1, t * width))
    rows, cols = (max(1, queries // t), t) if queries >= t else (1, queries)
    for b0 in range(0, b, rows):
        yield slice(b0, min(b, b0 + rows)), [slice(i0, min(t, i0 + cols)) for i0 in range(0, t, cols)]


def _rel_error(recon: torch.Tensor, actual: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    err = (recon - actual).norm(dim=-1) / actual.norm(dim=-1).clamp_min(torch.finfo(actual.dtype).tiny)
    return torch.where(valid, err, torch.zeros_like(err)).amax(-1)


def decompose(parts, w: LayerWeights, valid: torch.Tensor, budget: int = BUDGET) -> Decomposition:
    x, probs = parts["value.in"], parts.probs.to(parts["value.in"].dtype)
    b, t, d = x.shape
    f = head_values(parts["value.out"], w)
    diag_p = probs.diagonal(dim1=-2, dim2=-1)  # [B, H, T]
    own_h = diag_p[..., None] * f
    head_mix_n = mixing_ratio((probs @ f - own_h).norm(dim=-1), own_h.norm(dim=-1))
    (g1, beta1, eps1), (g2, beta2, eps2) = w.ln1, w.ln2
    s1, s2 = ln_scale(parts["attention_norm.in"], eps1), ln_scale(parts["ff_norm.in"], eps2)
    r = closed_form_ratio(parts["ff_in.out"], parts["ff_activation.out"], w.act0, w.slope0)
    bias1 = ln_split(w.b_o, g1, s1) + beta1
    pre_b = bias1 @ w.w1.T + w.b1
    ff_b = (pre_b * r + w.act0) @ w.w2.T + w.b2
    res_b = ff_b + bias1
    ln2_b = ln_split(res_b, g2, s2) + beta2

    maps = {n: x.new_zeros(b, t, t) for n in VECTOR_MAPS}
    mixing = {n: x.new_zeros(b, t) for n in VECTOR_MAPS}
    sums = {n: x.new_zeros(b, t, d) for n in VECTOR_MAPS}
    sums["pre"], sums["ig"] = x.new_zeros(b, t, w.w1.shape[0]), x.new_zeros(b, t, w.w1.shape[0])
    x_pre = ln_split(x, g1, s1) @ w.w1.T  # the residual's share of the pre-activation
    for rows, query_chunks in _chunks(b, t, max(d, w.w1.shape[0]), budget):
        # U_ij W1 = (sum_h alpha_hij LN1(f_h(x_j)) W1) / s1_i + [i=j] LN1(x_i) W1: W1 per head and token, not per pair
        k_rows = ln_split(f[rows], g1, torch.ones((), dtype=x.dtype)) @ w.w1.T  # [b, H, T, d_ff]
        for qs in query_chunks:
            q = torch.arange(qs.start, qs.stop, device=x.device)
            eye = (q[:, None] == torch.arange(t, device=x.device)[None, :]).to(x.dtype)[None, :, :, None]  # [1, q, T, 1]
            a, inv_s1 = probs[rows, :, qs], 1 / s1[rows, qs][:, :, None]
            e = torch.einsum("bhij,bhjd->bijd", a, f[rows])
            res = e + eye * x[rows, qs][:, :, None, :]
            u = ln_split(res, g1, s1[rows, qs][:, :, None])
            pre = torch.einsum("bhij,bhjf->bijf", a, k_rows) * inv_s1 + eye * x_pre[rows, qs][:, :, None, :]
            ig = pre * r[rows, qs][:, :, None]
            ff = ig @ w.w2.T
            s = ff + u
            z = ln_split(s, g2, s2[rows, qs][:, :, None])
            sums["pre"][rows, qs], sums["ig"][rows, qs] = pre.sum(2), ig.sum(2)
            k = torch.arange(len(q), device=x.device)
            for name, term in zip(VECTOR_MAPS, (e, res, u, ff, s, z)):
                maps[name][rows, qs] = term.norm(dim=-1)
                total, own = term.sum(2), term[:, k, q]
                sums[name][rows, qs] = total
                mixing[name][rows, qs] = mixing_ratio((total - own).norm(dim=-1), own.norm(dim=-1))
            del e, res, u, pre, ig, ff, s, z

    checks = {
        "attention": (sums["Attn-N"] + w.b_o, parts["attention_output.out"]),
        "residual": (sums["AttnRes-N"] + w.b_o, parts["attention_norm.in"]),
        "layernorm1": (sums["ATB"] + bias1, parts["attention_norm.out"]),
        "ff_pre": (sums["pre"] + pre_b, parts["ff_in.out"]),
        "activation": (sums["ig"] + pre_b * r + w.act0, parts["ff_activation.out"]),
        "ff": (sums["ATBFF"] + ff_b, parts["ff_out.out"]),
        "residual2": (sums["ATBFFRES"] + res_b, parts["ff_norm.in"]),
        "layernorm2": (sums["ATBFFRESLN"] + ln2_b, parts["ff_norm.out"]),
    }
    errors = {stage: _rel_error(recon, actual.to(x.dtype), valid) for stage, (recon, actual) in checks.items()}
    attn_w = probs.mean(1)
    maps["Attn-W"] = attn_w
    maps["AttnRes-W"] = 0.5 * attn_w + 0.5 * torch.eye(t, dtype=x.dtype, device=x.device)
    mixing["Attn-W"] = 1 - attn_w.diagonal(dim1=-2, dim2=-1)
    mixing["AttnRes-W"] = mixing["Attn-W"] / 2
    return Decomposition(maps, mixing, errors, f.norm(dim=-1), 1 - diag_p, head_mix_n)
