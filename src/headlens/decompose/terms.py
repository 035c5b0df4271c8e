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

How the attention-block maps are formed (never a T x T x d tensor). For ``j != i`` every term of
the attention block is a combination of the H vectors ``f_h(x_j)`` with the weights
``a_ij = (alpha_1ij, ..., alpha_Hij)``, so its squared norm is a quadratic form in ``a_ij`` with
an H x H Gram matrix of token ``j``:

    ||E_ij||^2 = ||R_ij||^2 = a_ij^T G_j a_ij,            G_j  = F_j F_j^T
    ||U_ij||^2 = a_ij^T G'_j a_ij / s1_i^2,               G'_j = F_j P diag(gamma1^2) P F_j^T

(``F_j`` [H, d] the rows ``f_h(x_j)``, ``P`` the centring I - 11^T/d). The diagonal ``j = i``
(where the residual ``x_i`` joins) is formed directly, O(T d). The sums over ``j`` that the
mixing ratios and the completeness checks need come from the per-head contexts
``sum_j alpha_hij v_hj`` (what the model itself computes), O(T d) per token. Cost per layer:
O(T H^2 d) for the Grams and O(T^2 H^2) for the quadratic forms, against the direct O(T^2 H d).

The feed-forward maps (``ff=True``) need each pair's FF output: per pair ``U_ij W1`` is
``(a_ij / s1_i)^T K_j`` with ``K_j = LN1(F_j) W1^T`` [H, d_ff] formed once per token (T^2 H d_ff
instead of T^2 d d_ff), then ``(U_ij W1 * r_i) W2`` is one matmul per chunk of query rows:
T^2 d d_ff per layer, which no factoring removes (it is the one product the FF maps cost).

Completeness: at every stage computed, the per-source terms summed over ``j`` plus the bias equal
the model's own intermediate vector (captured by the hooks); ``errors`` holds the largest
relative error ``||sum - actual|| / ||actual||`` over each sentence's tokens. The attention
stages are checked on their sums over ``j`` (formed as above), the FF stages on the sums of the
actual per-pair terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .ig import closed_form_ratio
from .names import ATTENTION_MAPS, ATTENTION_STAGES, FF_MAPS, MAPS, STAGES, VECTOR_MAPS  # noqa: F401 - re-exported
from .weights import LayerWeights, StackedWeights

BUDGET = 1 << 23  # elements of a chunk's largest temporary (on CUDA the callers pass more, see analysis.py)
FF_BUDGET_CAP = 1 << 27  # ... but never more than this for the FF chunks' [b, T, q, d_ff] tensors


def maps_of(ff: bool) -> tuple[str, ...]:
    return MAPS if ff else ATTENTION_MAPS


def stages_of(ff: bool) -> tuple[str, ...]:
    return STAGES if ff else ATTENTION_STAGES


@dataclass
class Decomposition:
    """One layer's (or, from ``decompose_layers``, a group of layers': a leading [L] on every tensor) results."""

    maps: dict[str, torch.Tensor]  # name -> [B, T, T] (query i, source j)
    mixing: dict[str, torch.Tensor]  # name -> [B, T]
    errors: dict[str, torch.Tensor]  # stage -> [B]: largest relative completeness error over the row's tokens
    fnorm: torch.Tensor  # [B, H, T]: ||f_h(x_j)||
    head_mixing_w: torch.Tensor  # [B, H, T]: 1 - alpha_hii
    head_mixing_n: torch.Tensor  # [B, H, T]: mixing ratio of the per-head terms alpha_hij f_h(x_j)


def mixing_ratio(others: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """others / (others + own) for non-negative norms; 0 where both are 0."""
    return torch.nan_to_num(others / (others + own), nan=0.0)


def ln_split(t: torch.Tensor, gamma: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """LayerNorm's linear part with a fixed scale ``s`` (the actual pre-LN std): additive over summands."""
    out = t - t.mean(-1, keepdim=True)
    if out.shape == torch.broadcast_shapes(out.shape, gamma.shape, s.shape):  # one new block, not three
        return out.mul_(gamma).div_(s)
    return gamma * out / s


def ln_scale(pre: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
    return torch.sqrt(pre.var(-1, unbiased=False, keepdim=True) + eps)


def value_terms(v: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    """Per token and head, ``v_hj`` through each head's slice of a map: v [L, B, T, d], maps [H, L, d/H, width]
    -> [L, B, T, H, width] (with ``value_maps``: ``f_h(x_j)`` then ``LN1(f_h(x_j))``, LN1's linear part at scale
    1). One batched matmul over (head, layer); the result is a strided view whose (L, B, T) rows are contiguous
    blocks, so that the Grams over heads below are batched without a copy."""
    lay, b, t, d = v.shape
    h, dh = maps.shape[0], maps.shape[2]
    vv = v.reshape(lay, b * t, h, dh).permute(2, 0, 1, 3).reshape(h * lay, b * t, dh)
    out = torch.bmm(vv, maps.reshape(h * lay, dh, -1))  # [H L, B T, width]
    return out.view(h, lay, b, t, -1).permute(1, 2, 3, 0, 4)


def head_grams(v: torch.Tensor, maps: torch.Tensor, budget: int = BUDGET) -> torch.Tensor:
    """``G_j = F_j F_j^T`` and ``G'_j = LN1(F_j) LN1(F_j)^T`` for every token: v [L, B, T, d] -> [L, B, T, 2, H, H].

    In one batched product when the [L, B, T, H, 2d] values fit in ``budget`` elements (on CUDA), else in chunks
    of tokens (on a CPU that keeps the temporaries small and reused instead of fresh page-faulted blocks).
    """
    lay, b, t, d = v.shape
    h, dh, width = maps.shape[0], maps.shape[2], maps.shape[3]
    if lay * b * t * h * width <= budget:
        fv = value_terms(v, maps).unflatten(-1, (2, d)).transpose(-3, -2)  # [L, B, T, 2, H, d], a strided view
        return fv @ fv.transpose(-1, -2)
    out = v.new_empty(lay, b * t, 2, h, h)
    vv = v.reshape(lay, b * t, h, dh)
    step = max(1, budget // (h * width))
    buffer = v.new_empty(h, min(step, b * t), width)  # one block for every chunk
    for k in range(lay):
        for s in range(0, b * t, step):
            n = min(step, b * t - s)
            f = torch.bmm(vv[k, s:s + n].transpose(0, 1), maps[:, k], out=buffer[:, :n])
            fv = f.view(h, n, 2, d).permute(1, 2, 0, 3)
            torch.matmul(fv, fv.transpose(-1, -2), out=out[k, s:s + n])
    return out.view(lay, b, t, 2, h, h)


def _linear(t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``t W^T`` per layer: t [L, ..., d_in], w [L, d_out, d_in]."""
    return (t.reshape(t.shape[0], -1, t.shape[-1]) @ w.transpose(1, 2)).reshape(*t.shape[:-1], w.shape[1])


def _rows(b: int, per_row: int, budget: int):
    step = max(1, budget // max(1, per_row))
    for b0 in range(0, b, step):
        yield slice(b0, min(b, b0 + step))


def _chunks(b: int, t: int, width: int, budget: int):
    """(rows, [query slices]) covering [B, T] with at most ``budget`` elements of width ``width`` per pair."""
    queries = max(1, budget // max(1, t * width))
    rows, cols = (max(1, queries // t), t) if queries >= t else (1, queries)
    for b0 in range(0, b, rows):
        yield slice(b0, min(b, b0 + rows)), [slice(i0, min(t, i0 + cols)) for i0 in range(0, t, cols)]


def _rel_error(recon: torch.Tensor, actual: torch.Tensor, invalid: torch.Tensor) -> torch.Tensor:
    """Largest ``||recon - actual|| / ||actual||`` over each sentence's tokens: [..., B, T, d] -> [..., B]."""
    err = (recon - actual).norm(dim=-1) / actual.norm(dim=-1).clamp_min(torch.finfo(actual.dtype).tiny)
    return err.masked_fill(invalid, 0).amax(-1)


def quadratic_norms(probs: torch.Tensor, grams: torch.Tensor, budget: int = BUDGET) -> torch.Tensor:
    """``sqrt(a_ij^T G^k_j a_ij)`` for every pair and Gram k: probs [B, H, T, T], grams [B, T, K, H, H] -> [B, K, T, T].

    ``a_ij`` is the vector of the H heads' alpha_hij; the result is indexed (query i, source j).
    """
    b, h, t, _ = probs.shape
    k = grams.shape[2]
    a = probs.permute(0, 3, 2, 1)  # [B, Tj, Ti, H]
    g = grams.permute(0, 1, 3, 2, 4).reshape(b, t, h, k * h)  # [B, Tj, H, K H] (each G symmetric)
    out = probs.new_empty(b, k, t, t)
    for rows in _rows(b, t * t * k * h, budget):
        ar = a[rows]
        quad = (torch.matmul(ar, g[rows]).view(*ar.shape[:3], k, h) * ar.unsqueeze(3)).sum(-1)  # [b, Tj, Ti, K]
        out[rows] = quad.clamp_min_(0).sqrt_().permute(0, 3, 2, 1)
    return out


ATTENTION_PARTS = ("value.in", "value.out", "attention_output.out", "attention_norm.in", "attention_norm.out")
FF_PARTS = ("ff_in.out", "ff_activation.out", "ff_out.out", "ff_norm.in", "ff_norm.out")


def stack_parts(parts: list) -> object:
    """Consecutive layers' ``LayerParts`` as one: the tensors the attention block needs with a leading layer
    dimension, and ``tensors["layers"]``, the layers' own ``LayerParts`` (the FF maps are formed layer by layer)."""
    from ..runner.parts import LayerParts

    first = parts[0]
    stacked = {k: torch.stack([p[k] for p in parts]) for k in ATTENTION_PARTS}
    stacked["layers"] = parts
    return LayerParts(first.layer, torch.stack([p.probs for p in parts]), stacked, None)


def decompose(parts, w: LayerWeights, valid: torch.Tensor, budget: int = BUDGET, ff: bool = True) -> Decomposition:
    """The maps, mixing ratios and completeness errors of one layer: the attention block's (Attn-W, Attn-N,
    AttnRes-W, AttnRes-N, ATB) always, the feed-forward block's (ATBFF, ATBFFRES, ATBFFRESLN) with ``ff``."""
    from ..runner.parts import LayerParts

    one = LayerParts(parts.layer, parts.probs[None], {**{k: v[None] for k, v in parts.tensors.items()}, "layers": [parts]},
                     parts.module)
    dec = decompose_layers(one, StackedWeights((w,)), valid, budget, ff)
    first = lambda d: {k: v[0] for k, v in d.items()}  # noqa: E731
    return Decomposition(first(dec.maps), first(dec.mixing), first(dec.errors), dec.fnorm[0], dec.head_mixing_w[0],
                         dec.head_mixing_n[0])


def decompose_layers(parts, w: StackedWeights, valid: torch.Tensor, budget: int = BUDGET, ff: bool = True) -> Decomposition:
    """``decompose`` for L consecutive layers at once (``stack_parts``, ``StackedWeights``): every result [L, ...].

    The attention block's maps are formed for all L layers together (a few dozen device operations per group
    of layers, not per layer); the feed-forward maps layer by layer (their per-pair product dominates anyway).
    """
    x, probs = parts["value.in"], parts.probs.to(parts["value.in"].dtype)
    lay, b, t, d = x.shape
    heads, dh = w.heads, d // w.heads
    per_layer = lambda p: p[:, None, None, :]  # noqa: E731  [L, d] -> [L, 1, 1, d]
    g1, b_o = per_layer(w.gamma1), per_layer(w.b_o)
    s1 = ln_scale(parts["attention_norm.in"], w.eps1[:, None, None, None])  # [L, B, T, 1]
    invalid = ~valid
    v5 = parts["value.out"].view(lay, b, t, heads, dh)
    diag_p = probs.diagonal(dim1=-2, dim2=-1)  # [L, B, H, T]
    grams = head_grams(parts["value.out"], w.value_maps, budget)  # [L, B, T, 2, H, H]: G_j and G'_j
    fnorm = grams[..., 0, :, :].diagonal(dim1=-2, dim2=-1).sqrt().transpose(-1, -2)  # [L, B, H, T]: ||f_h(x_j)||

    # per-head sums over sources: the heads' contexts (as the model forms them), then W_O^h
    vh = v5.transpose(2, 3)  # [L, B, H, T, dh]
    ctx = probs @ vh  # [L, B, H, T, dh]
    y = ctx - diag_p[..., None] * vh  # sum_{j != i} alpha_hij v_hj
    others_h = torch.einsum("lbhte,lhef->lbhtf", y, w.head_gram).mul_(y).sum(-1).clamp_min_(0).sqrt_()
    head_mix_n = mixing_ratio(others_h, diag_p * fnorm)

    # the attention block's maps: Gram quadratic forms off the diagonal, the diagonal directly
    quad = quadratic_norms(probs.flatten(0, 1), grams.flatten(0, 1), budget).unflatten(0, (lay, b))  # [L, B, 2, T, T]
    e_own = _linear((diag_p.transpose(-1, -2)[..., None] * v5).reshape(lay, b, t, d), w.w_o)  # E_ii
    r_own = e_own + x
    u_own = ln_split(r_own, g1, s1)
    own = (e_own, r_own, u_own)  # (separate tensors, not stacked: on a CPU a fresh large block costs page faults)
    own_norm = [o.norm(dim=-1) for o in own]
    attn_n = quad[:, :, 0]
    attn_n.diagonal(dim1=-2, dim2=-1).copy_(own_norm[0])
    attnres_n = attn_n.clone()
    attnres_n.diagonal(dim1=-2, dim2=-1).copy_(own_norm[1])
    atb = quad[:, :, 1] / s1
    atb.diagonal(dim1=-2, dim2=-1).copy_(own_norm[2])
    maps = {"Attn-N": attn_n, "AttnRes-N": attnres_n, "ATB": atb}

    total_e = _linear(ctx.transpose(2, 3).reshape(lay, b, t, d), w.w_o)  # sum_j E_ij
    total_r = total_e + x
    bias1 = ln_split(b_o, g1, s1) + per_layer(w.beta1)
    total = (total_e, total_r, ln_split(total_r, g1, s1))
    mixing = {name: mixing_ratio((tot - o).norm(dim=-1), on)
              for name, tot, o, on in zip(("Attn-N", "AttnRes-N", "ATB"), total, own, own_norm)}
    actual = [parts[k] for k in ("attention_output.out", "attention_norm.in", "attention_norm.out")]
    errors = {stage: _rel_error(tot + bias, act.to(x.dtype), invalid)
              for stage, tot, bias, act in zip(ATTENTION_STAGES, total, (b_o, b_o, bias1), actual)}
    del total, own
    if ff:
        ff_maps = {name: x.new_empty(lay, b, t, t) for name in FF_MAPS}
        ff_mixing = {name: x.new_empty(lay, b, t) for name in FF_MAPS}
        ff_errors = {stage: x.new_empty(lay, b) for stage in STAGES[3:]}
        for k, (wk, layer) in enumerate(zip(w.layers, parts["layers"])):
            one = {name: layer[name] for name in ("value.in", "value.out", *FF_PARTS)}
            m, mix, err = _feed_forward(one, wk, probs[k], s1[k], bias1[k], invalid, min(budget, FF_BUDGET_CAP))
            for name in FF_MAPS:
                ff_maps[name][k], ff_mixing[name][k] = m[name], mix[name]
            for stage in err:
                ff_errors[stage][k] = err[stage]
        maps.update(ff_maps), mixing.update(ff_mixing), errors.update(ff_errors)
    attn_w = probs.mean(2)  # [L, B, T, T]
    maps["Attn-W"] = attn_w
    maps["AttnRes-W"] = 0.5 * attn_w + 0.5 * torch.eye(t, dtype=x.dtype, device=x.device)
    mixing["Attn-W"] = 1 - attn_w.diagonal(dim1=-2, dim2=-1)
    mixing["AttnRes-W"] = mixing["Attn-W"] / 2
    return Decomposition(maps, mixing, errors, fnorm, 1 - diag_p, head_mix_n)


def diagonal_of(qs: slice, device) -> tuple:
    """The index of the diagonal pairs (j = i) of a [b, Tj, q, ...] chunk of query rows ``qs``."""
    q = torch.arange(qs.start, qs.stop, device=device)
    return (slice(None), q, q - qs.start)


def atb_pairs(a: torch.Tensor, fl: torch.Tensor, x_ln: torch.Tensor, qs: slice) -> torch.Tensor:
    """The ATB terms ``U_ij = LN1(R_ij)`` as vectors, for a chunk of query rows ``qs``: a [b, Tj, q, H]
    (``alpha_hij / s1_i``), fl [b, Tj, H, d] (``LN1(f_h(x_j))`` at scale 1), x_ln [b, q, d] (the residual's share,
    ``LN1(x_i)`` at the actual scale) -> [b, Tj, q, d]. Read by the FF maps and by ALTI (analyses/attribution)."""
    u = a @ fl
    u[diagonal_of(qs, a.device)] += x_ln
    return u


def atb_inputs(x: torch.Tensor, value_out: torch.Tensor, probs: torch.Tensor, s1: torch.Tensor,
               w: LayerWeights) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What ``atb_pairs`` reads for one layer (x [B, T, d] the layer input, value_out its value projection, probs
    [B, H, T, T], s1 [B, T, 1] LN1's actual scale): (a [B, Tj, Ti, H], fl [B, T, H, d], x_ln [B, T, d])."""
    d = x.shape[-1]
    fl = value_terms(value_out[None], w.value_maps[:, None, :, d:])[0]  # [B, T, H, d]: LN1(f_h(x_j))
    a = (probs / s1.unsqueeze(1)).permute(0, 3, 2, 1)  # [B, Tj, Ti, H]: alpha_hij / s1_i
    return a, fl, ln_split(x, w.ln1[0], s1)  # x_ln: the residual's share of U_ii


def _feed_forward(parts: dict, w: LayerWeights, probs, s1, bias1, invalid, budget) -> tuple[dict, dict, dict]:
    """One layer's per-pair FF output and what follows it (ATBFF, ATBFFRES, ATBFFRESLN), chunked over query rows:
    (maps [B, T, T], mixing [B, T], completeness errors [B] of the FF stages, on the sums of the per-pair terms)."""
    x = parts["value.in"]
    b, t, d = x.shape
    d_ff = w.w1.shape[0]
    g2, beta2, eps2 = w.ln2
    s2 = ln_scale(parts["ff_norm.in"], eps2)
    r = closed_form_ratio(parts["ff_in.out"], parts["ff_activation.out"], w.act0, w.slope0)  # [B, T, d_ff]
    pre_b = bias1 @ w.w1.T + w.b1
    ff_b = (pre_b * r + w.act0) @ w.w2.T + w.b2
    res_b = ff_b + bias1
    ln2_b = ln_split(res_b, g2, s2) + beta2

    k_all = value_terms(parts["value.out"][None], w.ff_value_map[:, None])[0]  # [B, T, H, d_ff]: K_j = LN1(F_j) W1^T
    a_all, fl, x_ln = atb_inputs(x, parts["value.out"], probs, s1, w)
    x_pre = x_ln @ w.w1.T  # the residual's share of the pre-activation
    maps = {name: x.new_empty(b, t, t) for name in FF_MAPS}
    mixing = {name: x.new_empty(b, t) for name in FF_MAPS}
    sums = {name: x.new_empty(b, t, width) for name, width in (("pre", d_ff), ("ig", d_ff), ("ff", d), ("res", d), ("ln", d))}
    for rows, query_chunks in _chunks(b, t, max(d, d_ff), budget):
        k_rows, fl_rows = k_all[rows], fl[rows]
        for qs in query_chunks:
            own = diagonal_of(qs, x.device)
            a = a_all[rows, :, qs]  # [b, Tj, q, H]
            u = atb_pairs(a, fl_rows, x_ln[rows, qs], qs)  # [b, Tj, q, d]: U_ij
            pre = a @ k_rows  # [b, Tj, q, d_ff]: U_ij W1
            pre[own] += x_pre[rows, qs]
            sums["pre"][rows, qs] = pre.sum(1)
            ig = pre.mul_(r[rows, qs].unsqueeze(1))
            sums["ig"][rows, qs] = ig.sum(1)
            g = ig @ w.w2.T  # [b, Tj, q, d]: G_ij
            del pre, ig
            s = g + u  # S_ij
            z = ln_split(s, g2, s2[rows, qs].unsqueeze(1))  # Z_ij
            for name, key, term in (("ATBFF", "ff", g), ("ATBFFRES", "res", s), ("ATBFFRESLN", "ln", z)):
                maps[name][rows, qs] = term.norm(dim=-1).transpose(1, 2)
                total, mine = term.sum(1), term[own]  # [b, q, d] each
                sums[key][rows, qs] = total
                mixing[name][rows, qs] = mixing_ratio((total - mine).norm(dim=-1), mine.norm(dim=-1))
            del u, g, s, z
    checks = {
        "ff_pre": (sums["pre"] + pre_b, parts["ff_in.out"]),
        "activation": (sums["ig"] + pre_b * r + w.act0, parts["ff_activation.out"]),
        "ff": (sums["ff"] + ff_b, parts["ff_out.out"]),
        "residual2": (sums["res"] + res_b, parts["ff_norm.in"]),
        "layernorm2": (sums["ln"] + ln2_b, parts["ff_norm.out"]),
    }
    errors = {stage: _rel_error(recon, actual.to(x.dtype), invalid) for stage, (recon, actual) in checks.items()}
    return maps, mixing, errors
