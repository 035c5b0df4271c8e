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

A completeness error above the tolerance of the dtype stops the run (``ModelError``).
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from ..collect import Collector
from ..errors import ModelError
from ..store.atomic import atomic_write
from . import tables
from .summary import PAIR_TYPES, TOKEN_GROUPS, amplification, group_means, pair_types, spearman, token_groups, typed_means
from .terms import BUDGET, MAPS, STAGES, decompose
from .weights import layer_weights

TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-10}
CHANGES = (("FF", "ATB", "ATBFF"), ("RES", "ATBFF", "ATBFFRES"), ("LN", "ATBFFRES", "ATBFFRESLN"),
           ("FF+RES+LN", "ATB", "ATBFFRESLN"))
STORED_MAPS = ("Attn-W", "Attn-N", "AttnRes-N", "ATB", "ATBFF", "ATBFFRES", "ATBFFRESLN")
TOP_PAIRS = 3  # per sentence and layer


class Decomposer(Collector):
    name = "decomposition"
    needs_parts = True

    def __init__(self, lm, maps_dir: str | None = None):
        if lm.dtype not in TOLERANCE:
            raise ModelError(
                f"the decomposition checks completeness to 1e-4 (float32) or 1e-10 (float64); a {lm.dtype} model "
                "cannot meet that. Run with --dtype float32 or --dtype float64."
            )
        self.lm, self.tolerance, self.maps_dir = lm, TOLERANCE[lm.dtype], maps_dir
        self.pending: dict[str, list] = {name: [] for name in tables.SCHEMAS}
        self.pending_ids: list[np.ndarray] = []
        modules = lm.adapter.layer_modules(lm.model)
        self.weights = [layer_weights(lm.adapter, m, lm.num_heads, f"layer {i}") for i, m in enumerate(modules)]
        self.max_error = {s: 0.0 for s in STAGES}

    def begin(self, batch, keep, values, columns: dict[str, int]) -> None:
        self.batch, self.keep, self.values, self.columns = batch, list(keep), values, columns
        self.groups = token_groups(batch)
        self.codes = tables.group_codes(self.groups.cpu().numpy())
        self.token_columns = tables.token_columns(batch, self.codes, self.lm.tokenizer)
        self.types = torch.from_numpy(pair_types(batch.items, batch.input_ids.shape[1])).to(batch.input_ids.device)
        self.rows = {"layers": [], "ffpairs": [], "tokens": []}
        self.kept = {row: {name: [] for name in (*STORED_MAPS, "fnorm")} for row in self.keep}

    def on_parts(self, parts) -> None:
        layer, batch = parts.layer, self.batch
        w = self.weights[0 if self.lm.adapter.shared_layers else layer]
        dec = decompose(parts, w, batch.token_valid, BUDGET * (8 if batch.token_valid.is_cuda else 1))
        self._check(layer, dec.errors)
        self._head_metrics(layer, dec)
        valid = batch.token_valid
        mixing = torch.stack([dec.mixing[m] for m in MAPS], 1)  # [B, M, T]
        means, counts = group_means(mixing, self.groups)  # [B, M, G], [B, G]
        change = torch.stack([1 - spearman(dec.maps[a], dec.maps[b], valid) for _, a, b in CHANGES], -1)
        amp = amplification(dec.maps["ATB"], dec.maps["ATBFF"], valid)
        amp_means, amp_counts = typed_means(amp, self.types)
        errors = torch.stack([dec.errors[s] for s in STAGES], -1)
        top = self._top_pairs(amp, dec.maps["ATBFF"], valid)
        host = lambda t: t.double().cpu().numpy()  # noqa: E731
        ids = batch.ids
        self.rows["layers"].append(tables.layer_rows(
            ids, layer, host(means), host(counts), host(change), host(errors), host(amp_means), host(amp_counts)))
        self.rows["ffpairs"].append(tables.pair_rows(batch, layer, *top, self.lm.tokenizer))
        self.rows["tokens"].append(tables.token_rows(layer, host(mixing), self.codes, self.token_columns))
        for row in self.keep:
            n = int(batch.n_tokens[row])
            for name in STORED_MAPS:
                self.kept[row][name].append(dec.maps[name][row, :n, :n].float().cpu().numpy())
            self.kept[row]["fnorm"].append(dec.fnorm[row, :, :n].float().cpu().numpy())

    def end(self) -> None:
        self.done = {name: tables.concat(name, rows) for name, rows in self.rows.items()}
        self.done_maps = {row: {k: np.stack(v) for k, v in arrays.items()} for row, arrays in self.kept.items()}
        del self.batch, self.values, self.types, self.groups, self.token_columns

    def add(self, batch, rows) -> None:
        """Keep the rows of the sentences the run stores (``rows`` of this batch); write their maps."""
        ids = pa.array(batch.ids[list(rows)])
        self.pending_ids.append(batch.ids[list(rows)])
        for name, table in self.done.items():
            self.pending[name].append(table.filter(pc.is_in(table["sentence_id"], ids)))
        for row, arrays in self.done_maps.items():
            if self.maps_dir is not None and row in rows:
                self._write_maps(batch.items[row], arrays)
        self.done, self.done_maps = {}, {}

    def take(self) -> dict[str, np.ndarray]:
        out = tables.to_arrays({name: tables.concat(name, parts) for name, parts in self.pending.items()})
        out["sentence_ids"] = np.concatenate(self.pending_ids) if self.pending_ids else np.zeros(0, np.int64)
        self.pending, self.pending_ids = {name: [] for name in tables.SCHEMAS}, []
        return out

    def _write_maps(self, enc, arrays: dict) -> None:
        path = os.path.join(self.maps_dir, f"sentence-{enc.sentence.index}-decomposition.npz")
        arrays = {**arrays, "maps": np.asarray(STORED_MAPS), "input_ids": enc.input_ids,
                  "tokens": np.asarray(self.lm.tokenizer.convert_ids_to_tokens(enc.input_ids.tolist()))}
        os.makedirs(self.maps_dir, exist_ok=True)

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)

        atomic_write(path, write)

    def describe(self) -> dict:
        return {"tolerance": self.tolerance, "max_relative_error": dict(self.max_error)}

    def _check(self, layer: int, errors: dict) -> None:
        for stage, err in errors.items():
            worst = float(err.max())
            self.max_error[stage] = max(self.max_error[stage], worst)
            if not worst <= self.tolerance:
                row = int(err.argmax())
                raise ModelError(
                    f"the decomposition is not complete at layer {layer + 1}, stage {stage!r}: the per-source terms "
                    f"plus bias differ from the model's own vector by a relative {worst:.3g} (tolerance "
                    f"{self.tolerance:g}) in sentence {int(self.batch.ids[row])}. The adapter's parts do not "
                    "recompute this model's layer; please report it with the model's config.json."
                )

    def _head_metrics(self, layer: int, dec) -> None:
        per_head = {"dec_mix_w": dec.head_mixing_w, "dec_mix_n": dec.head_mixing_n}
        fnorm_means, _ = group_means(dec.fnorm, self.groups)  # [B, H, G]
        for g, group in enumerate(TOKEN_GROUPS):
            per_head["dec_fnorm" if group == "all" else f"dec_fnorm_{group}"] = fnorm_means[..., g]
        for name, k in self.columns.items():
            value = per_head[name]
            if value.dim() == 3:  # per token: mean over the sentence's tokens
                value = group_means(value, self.groups[:1])[0][..., 0]
            self.values[:, k, layer] = value.to(self.values.dtype)

    def _top_pairs(self, amp, after, valid):
        """The TOP_PAIRS most amplified pairs of word tokens of each sentence among those whose ATBFF share is at
        least the mean share of the query's other sources (so that a tiny share grown to a slightly less tiny one
        does not rank). Pairs with [CLS]/[SEP] are summarised by their type's mean amplification only."""
        n = valid.sum(-1).to(after.dtype)
        m = (valid[:, :, None] & valid[:, None, :]).to(after.dtype)
        share = after * m / (after * m).sum(-1, keepdim=True)
        others = (1 - share.diagonal(dim1=-2, dim2=-1)) / (n[:, None] - 1).clamp_min(1)  # [B, T]
        word_pair = (self.types >= 0) & (self.types != PAIR_TYPES.index("special"))
        ok = word_pair & (share >= others[:, :, None]) & ~torch.isnan(amp)
        score = torch.where(ok, amp, torch.full_like(amp, float("-inf"))).flatten(1)
        k = min(TOP_PAIRS, score.shape[1])
        best, idx = score.topk(k, dim=-1)
        t = amp.shape[-1]
        flat_types = self.types.flatten(1).gather(1, idx)
        flat_share = share.flatten(1).gather(1, idx)
        return (best.double().cpu().numpy(), (idx // t).cpu().numpy(), (idx % t).cpu().numpy(),
                flat_types.cpu().numpy(), flat_share.double().cpu().numpy())
