"""The ``decomposition`` collector: runs ``terms.decompose`` on every layer and reduces it per sentence.

A layer analysis (``runner/parts.py``) and a batch-level collector (``headlens.collect``). Per
batch it fills its per-head metrics (level ``parts``) into the Engine's values and keeps rows
for three tables (see ``tables.py``): ``layers`` (per sentence and layer: mixing ratio of every
map by token group, contextualization change per component, the completeness error of every
stage, FF amplification by pair type), ``ffpairs`` (each sentence's top pairs amplified by FF
per layer) and ``tokens`` (per token and layer: the mixing ratio of every map, for the
frequency correlation). The collector machinery stores them per run part
(``collect/decomposition/part-N.npz``); ``tables.read`` gives them back as Arrow tables. Rows
named by ``--store-maps`` get ``maps/sentence-<id>-decomposition.npz`` (written at once, like
the attention maps).

Two modes: ``--analyses decomposition`` (``ff=False``) computes the attention block's maps
(Attn-W, Attn-N, AttnRes-W, AttnRes-N, ATB) and their completeness stages; ``--analyses
decomposition_ff`` (``ff=True``) adds the feed-forward block's (ATBFF, ATBFFRES, ATBFFRESLN), the
contextualization change, FF amplification and top pairs, at the cost of the per-pair FF output
(see docs/decomposition.md, Benchmark).

Everything stays on the device until the batch's forward pass is over: per layer the reductions
are appended to device tensors; ``end`` makes one host copy of all of them and builds the
batch's rows for all layers at once (numpy, no per-token Python). A completeness error above
the tolerance of the dtype stops the run there (``ModelError``, naming the first layer and stage).
"""

from __future__ import annotations

import numpy as np
import torch

from ..collect import Collector, write_sentence_maps
from ..errors import ModelError
from ..heads import layer_label
from ..store import layout
from . import tables
from .summary import (PAIR_TYPES, TOKEN_GROUPS, amplification, group_means, pair_mask, pair_types, rank_correlation,
                      ranks, token_groups, typed_means)
from .terms import BUDGET, FF_MAPS, decompose_layers, maps_of, stack_parts, stages_of
from .weights import StackedWeights, layer_weights

TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-10}
CHANGES = (("FF", "ATB", "ATBFF"), ("RES", "ATBFF", "ATBFFRES"), ("LN", "ATBFFRES", "ATBFFRESLN"),
           ("FF+RES+LN", "ATB", "ATBFFRESLN"))
STORED_MAPS = ("Attn-W", "Attn-N", "AttnRes-N", "ATB", "ATBFF", "ATBFFRES", "ATBFFRESLN")
MAPS_KIND = layout.DECOMPOSITION_MAPS  # the stored maps of a sentence: layout.map_name(id, kind=MAPS_KIND)
TOP_PAIRS = 3  # per sentence and layer
GROUP_BUDGET = 1 << 29  # CUDA: elements of a group of layers' largest tensors (see begin), and decompose's budget


class Decomposer(Collector):
    name = "decomposition"
    needs_parts = True

    def __init__(self, lm, maps_dir: str | None = None, ff: bool = False, group_layers: bool | None = None):
        if lm.dtype not in TOLERANCE:
            raise ModelError(
                f"the decomposition checks completeness to 1e-4 (float32) or 1e-10 (float64); a {lm.dtype} model "
                "cannot meet that. Run with --dtype float32 or --dtype float64."
            )
        self.lm, self.tolerance, self.maps_dir, self.ff = lm, TOLERANCE[lm.dtype], maps_dir, ff
        self.group_layers = group_layers  # decompose several layers at once (None: on CUDA only)
        self.maps, self.stages = maps_of(ff), stages_of(ff)
        self.changes = CHANGES if ff else ()
        self.stored = tuple(m for m in STORED_MAPS if m in self.maps)
        self.metrics = tables.layer_metrics(self.maps, [c[0] for c in self.changes], self.stages, ff)
        self.pending: dict[str, list] = {name: [] for name in tables.SCHEMAS}
        self.pending_ids: list[np.ndarray] = []
        modules = lm.adapter.layer_modules(lm.model)
        self.weights = [layer_weights(lm.adapter, m, lm.num_heads, f"layer {i}") for i, m in enumerate(modules)]
        self.max_error = {s: 0.0 for s in self.stages}
        self.stacked: dict[tuple, StackedWeights] = {}  # groups of layers' weights, stacked once
        self.vocab: np.ndarray | None = None

    def begin(self, batch, keep, values, columns: dict[str, int]) -> None:
        columns = {n: k for n, k in columns.items() if n.startswith("dec_")}  # another layer analysis fills the others
        self.batch, self.keep, self.values, self.columns = batch, list(keep), values, columns
        self.groups = token_groups(batch)
        device = batch.input_ids.device
        # index tensors made before the forward pass (a host-to-device copy later would wait for the device)
        self.keep_rows = torch.as_tensor(self.keep, dtype=torch.long, device=device) if self.keep else None
        names = tuple(columns)
        if getattr(self, "_cols", (None,))[0] != (names, device):
            self._cols = ((names, device), torch.as_tensor([columns[n] for n in names], dtype=torch.long, device=device))
        self.out: list[dict[str, torch.Tensor]] = []  # per group of layers: the batch's reductions, on the device
        self.waiting: list = []  # the parts of layers not decomposed yet
        b, t = batch.input_ids.shape
        # on CUDA, layers are decomposed together (fewer, larger device operations); the group's largest tensors are
        # [L, B, T, H, 2d] and [L, B, H, T, T]
        per_layer = b * t * (2 * self.lm.num_heads * self.weights[0].w_o.shape[0] + 2 * self.lm.num_heads * t)
        grouped = batch.token_valid.is_cuda if self.group_layers is None else self.group_layers
        self.group = max(1, GROUP_BUDGET // per_layer) if grouped else 1
        if self.ff:
            self.types_host = pair_types(batch.items, t)
            self.types = torch.from_numpy(self.types_host).to(batch.input_ids.device)

    def on_parts(self, parts) -> None:
        self.waiting.append(parts)
        if len(self.waiting) >= self.group or parts.layer == self.lm.num_layers - 1:
            self._decompose()

    def _decompose(self) -> None:
        waiting, self.waiting = self.waiting, []
        batch, first, lay = self.batch, waiting[0].layer, len(waiting)
        shared = self.lm.adapter.shared_layers
        layers = tuple(self.weights[0 if shared else p.layer] for p in waiting)
        key = tuple(map(id, layers))
        if key not in self.stacked:
            self.stacked[key] = StackedWeights(layers)
        weights = self.stacked[key]
        budget = GROUP_BUDGET if batch.token_valid.is_cuda else BUDGET
        dec = decompose_layers(stack_parts(waiting) if lay > 1 else _one(waiting[0]), weights, batch.token_valid,
                               budget, ff=self.ff)
        del waiting
        lb = lambda t: t.transpose(0, 1)  # noqa: E731  [L, B, ...] -> [B, L, ...]
        m = len(self.maps)
        mixing = torch.stack([dec.mixing[name] for name in self.maps], 2)  # [L, B, M, T]
        # one reduction by token group for the maps' mixing ratios and the per-head metrics: [L, B, M + 3H, G]
        means = group_means(torch.cat((mixing, dec.head_mixing_w, dec.head_mixing_n, dec.fnorm), 2), self.groups)[0]
        self._head_metrics(first, lay, means[:, :, m:])
        out = {"mixing": lb(mixing), "means": lb(means[:, :, :m]),
               "errors": lb(torch.stack([dec.errors[s] for s in self.stages], -1))}
        if self.ff:
            flat = lambda t: t.flatten(0, 1)  # noqa: E731  [L, B, ...] -> [L B, ...]
            per = lambda t: lb(t.unflatten(0, (lay, -1)))  # noqa: E731  [L B, ...] -> [B, L, ...]
            valid = batch.token_valid.repeat(lay, 1)
            types = self.types.repeat(lay, 1, 1)
            pairs = pair_mask(valid)
            rk = {m: ranks(flat(dec.maps[m]), pairs) for m in ("ATB", *FF_MAPS)}
            out["change"] = per(torch.stack([1 - rank_correlation(rk[a], rk[b]) for _, a, b in self.changes], -1))
            amp = amplification(flat(dec.maps["ATB"]), flat(dec.maps["ATBFF"]), valid)
            amp_means, amp_counts = typed_means(amp, types)
            out["amp_means"], out["amp_counts"] = per(amp_means), per(amp_counts)
            top = self._top_pairs(amp, flat(dec.maps["ATBFF"]), valid, types)
            out["top"], out["top_idx"], out["top_share"] = (per(x) for x in top)
        if self.keep:
            rows = self.keep_rows
            out["kept"] = lb(torch.stack([dec.maps[m][:, rows] for m in self.stored], 2))  # [K, L, maps, T, T]
            out["fnorm"] = lb(dec.fnorm[:, rows])
        self.out.append(out)

    def end(self) -> None:
        batch = self.batch
        self.done, self.done_maps = {}, {}
        if self.waiting:
            self._decompose()
        if not self.out:  # no layer was handed over (a subclass that only captures)
            return
        out = self.out
        per_layer = out[0] if len(out) == 1 else {k: torch.cat([o[k] for o in out], 1) for k in out[0]}  # [B, L, ...]
        counts = self.groups.sum(-1).T  # [B, G]
        host = _to_host({**per_layer, "counts": counts, "groups": self.groups.transpose(0, 1), "input_ids": batch.input_ids})
        del self.out
        self._check(host["errors"])
        ids, input_ids = batch.ids, host["input_ids"].astype(np.int64)
        codes = tables.group_codes(host["groups"].transpose(1, 0, 2) > 0.5)
        # the ``layers`` rows are made per part (``take``), from these per-sentence arrays
        raw = {"ids": ids, **{k: host[k] for k in ("means", "counts", "errors", "change", "amp_means", "amp_counts")
                              if k in host}}
        done = {"layers": raw, "tokens": tables.token_rows(ids, input_ids, codes, host["mixing"], self.maps)}
        if self.ff:
            t = self.types_host.shape[-1]
            idx = host["top_idx"].astype(np.int64)
            done["ffpairs"] = tables.pair_rows(ids, input_ids, self.types_host, host["top"], idx // t, idx % t,
                                               host["top_share"])
        self.done = done
        for k, row in enumerate(self.keep):
            n = int(batch.n_tokens[row])
            arrays = {m: host["kept"][k, :, i, :n, :n].astype(np.float32) for i, m in enumerate(self.stored)}
            arrays["fnorm"] = host["fnorm"][k, :, :, :n].astype(np.float32)
            self.done_maps[row] = arrays
        del self.batch, self.values, self.groups
        if self.ff:
            del self.types

    def add(self, batch, rows) -> None:
        """Keep the rows of the sentences the run stores (``rows`` of this batch); write their maps."""
        rows = list(rows)
        ids = batch.ids[rows]
        self.pending_ids.append(ids)
        everything = len(rows) == len(batch.ids)
        for name, columns in self.done.items():
            key = "ids" if name == "layers" else "sentence_id"
            self.pending[name].append(columns if everything else tables.select(columns, np.isin(columns[key], ids)))
        for row, arrays in self.done_maps.items():
            if self.maps_dir is not None and row in rows:
                self._write_maps(batch.items[row], arrays)
        self.done, self.done_maps = {}, {}

    def take(self) -> dict[str, np.ndarray]:
        if self.vocab is None:  # every token string of the vocabulary, once (the parts store codes into it)
            self.vocab = np.asarray(self.lm.tokenizer.convert_ids_to_tokens(list(range(len(self.lm.tokenizer)))), dtype=str)
        raw = self.pending["layers"]
        if raw:
            joined = {k: np.concatenate([r[k] for r in raw]) for k in raw[0]}
            self.pending["layers"] = [tables.layer_rows(joined.pop("ids"), **joined)]
        out = tables.part_arrays(self.pending, self.metrics, self.vocab)
        out["sentence_ids"] = np.concatenate(self.pending_ids) if self.pending_ids else np.zeros(0, np.int64)
        self.pending, self.pending_ids = {name: [] for name in tables.SCHEMAS}, []
        return out

    def _write_maps(self, enc, arrays: dict) -> None:
        write_sentence_maps(self.maps_dir, enc, MAPS_KIND, {**arrays, "maps": np.asarray(self.stored)}, self.lm.tokenizer)

    def describe(self) -> dict:
        return {"tolerance": self.tolerance, "feed_forward": self.ff, "max_relative_error": dict(self.max_error)}

    def _check(self, errors: np.ndarray) -> None:
        """errors [B, L, S]: record the largest per stage; stop at the first layer and stage above the tolerance."""
        worst = errors.max(0)  # [L, S]
        for k, stage in enumerate(self.stages):
            self.max_error[stage] = max(self.max_error[stage], float(worst[:, k].max()))
        bad = ~(worst <= self.tolerance)
        if bad.any():
            layer, k = map(int, np.argwhere(bad)[0])
            row = int(np.nan_to_num(errors[:, layer, k], nan=np.inf).argmax())
            raise ModelError(
                f"the decomposition is not complete at layer {layer_label(layer)}, stage {self.stages[k]!r}: the per-source "
                f"terms plus bias differ from the model's own vector by a relative {worst[layer, k]:.3g} (tolerance "
                f"{self.tolerance:g}) in sentence {int(self.batch.ids[row])}. The adapter's parts do not "
                "recompute this model's layer; please report it with the model's config.json."
            )

    def _head_metrics(self, first: int, lay: int, means: torch.Tensor) -> None:
        """The per-head metrics (level ``parts``) of layers first .. first + lay - 1 into the Engine's values;
        means [L, B, 3H, G]: by token group, 1 - alpha_hii, the heads' mixing ratios and ||f_h(x_j)||."""
        if not self.columns:
            return
        mix_w, mix_n, fnorm = means.unflatten(2, (3, -1)).unbind(2)  # [L, B, H, G] each
        per_head = {"dec_mix_w": mix_w[..., 0], "dec_mix_n": mix_n[..., 0]}  # mean over the sentence's tokens
        for g, group in enumerate(TOKEN_GROUPS):
            per_head["dec_fnorm" if group == "all" else f"dec_fnorm_{group}"] = fnorm[..., g]
        stacked = torch.stack([per_head[n] for n in self.columns]).permute(2, 0, 1, 3)  # [B, metrics, L, H]
        self.values[:, self._cols[1], first:first + lay] = stacked.to(self.values.dtype)

    def _top_pairs(self, amp, after, valid, types):
        """The TOP_PAIRS most amplified pairs of word tokens of each sentence among those whose ATBFF share is at
        least the mean share of the query's other sources (so that a tiny share grown to a slightly less tiny one
        does not rank). Pairs with [CLS]/[SEP] are summarised by their type's mean amplification only.
        (best [B, K], flat index query * T + source [B, K], share [B, K]), on the device."""
        n = valid.sum(-1).to(after.dtype)
        m = (valid[:, :, None] & valid[:, None, :]).to(after.dtype)
        share = after * m / (after * m).sum(-1, keepdim=True)
        others = (1 - share.diagonal(dim1=-2, dim2=-1)) / (n[:, None] - 1).clamp_min(1)  # [B, T]
        word_pair = (types >= 0) & (types != PAIR_TYPES.index("special"))
        ok = word_pair & (share >= others[:, :, None]) & ~torch.isnan(amp)
        score = torch.where(ok, amp, torch.full_like(amp, float("-inf"))).flatten(1)
        best, idx = score.topk(min(TOP_PAIRS, score.shape[1]), dim=-1)
        return best, idx.to(amp.dtype), share.flatten(1).gather(1, idx)


def _one(parts):
    """A single layer's parts with a leading layer dimension of 1."""
    tensors = {k: v[None] for k, v in parts.tensors.items()}
    return type(parts)(parts.layer, parts.probs[None], {**tensors, "layers": [parts]}, parts.module)


def _to_host(tensors: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """All of a batch's device tensors in one device-to-host copy, in the first one's (floating) dtype: the integers
    here (token ids, counts, flat pair indices) stay below 2^24, exact in float32."""
    dtype = next(iter(tensors.values())).dtype
    flat = torch.cat([t.reshape(-1).to(dtype) for t in tensors.values()]).cpu().numpy()
    out, start = {}, 0
    for name, t in tensors.items():
        out[name] = flat[start:start + t.numel()].reshape(t.shape)
        start += t.numel()
    return out
