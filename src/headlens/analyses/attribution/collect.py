"""The attribution collector: a layer analysis (``runner/parts.py``) that rolls every method out layer by layer and
reduces each sentence right after the layer has run.

Per batch and layer: the methods' per-layer matrices (``methods.py``; ALTI and the norm-based rollout from one pass
over the decomposition's ATB terms, checked for completeness against the model's LN1 output like ``--analyses
decomposition``), one matrix product per method to extend the rollout, then the per-sentence statistics and the agreements (``reduce.py``) into the Engine's values
(head slot 0 of the layer, see ``metrics.py``). Memory: a few [B, T, T] per method, whatever the corpus size.
For the stored sentences (``--store-maps``) the rolled-out maps of every method, and attention flow for those of
at most ``flow_cap`` tokens, go to ``maps/sentence-<id>-attribution.npz``.
"""

from __future__ import annotations

import os

import numpy as np

from ...collect import Collector, write_sentence_maps
from ...heads import layer_label
from ...decompose.analysis import TOLERANCE
from ...decompose.terms import BUDGET
from ...decompose.weights import layer_weights
from ...errors import ModelError
from ...lazy import torch
from ...store import layout
from . import methods as M
from .names import DEFAULT_METHODS, METHODS, PREFIX, agree_metric, pairs, stat_metric
from .reduce import Masks, agreement, midranks, statistics

MAPS_KIND = layout.ATTRIBUTION_MAPS  # the stored maps of a sentence: layout.map_name(id, kind=MAPS_KIND)


class Attributor(Collector):
    name = "attribution"
    needs_parts = True

    def __init__(self, lm, methods=DEFAULT_METHODS, maps_dir: str | None = None, aggregation: str = "clark", flow_cap: int = 40,
                 budget: int = BUDGET):
        if lm.dtype not in TOLERANCE:
            raise ModelError(f"attribution reuses the decomposition, which checks completeness in float32 or float64; "
                             f"a {lm.dtype} model cannot. Run with --dtype float32 or --dtype float64.")
        self.lm, self.maps_dir, self.aggregation = lm, maps_dir, aggregation
        self.flow_cap, self.budget = flow_cap, budget
        self.methods = tuple(m for m in METHODS if m in methods)
        self.tolerance = TOLERANCE[lm.dtype]
        modules = lm.adapter.layer_modules(lm.model)
        self.weights = [layer_weights(lm.adapter, m, lm.num_heads, f"layer {i}") for i, m in enumerate(modules)]
        self.tails = [M.layer_tail(lm.adapter, m) for m in modules] if "vz" in self.methods else None
        self.ids: list[np.ndarray] = []
        self.done_maps: dict[int, dict] = {}

    def begin(self, batch, keep, values, columns: dict[str, int]) -> None:
        from ...runner.batch import Batch

        self.batch, self.keep, self.values = batch, list(keep), values
        self.columns = {n: k for n, k in columns.items() if n.startswith(PREFIX)}
        words = batch if batch.has_words else Batch(batch.items, batch.token_valid.device, values.dtype, words=True,
                                                    aggregation=self.aggregation)
        self.masks = Masks.build(batch, words)
        self.rollouts = {m: M.Rollout() for m in self.methods}
        self.kept: dict[str, list] = {m: [] for m in (*self.methods, "mixed")}

    def on_parts(self, parts) -> None:
        layer, valid = parts.layer, self.batch.token_valid
        w = self.weights[0 if self.lm.adapter.shared_layers else layer]
        dtype = parts["value.in"].dtype
        per_layer = {"rollout": M.residual_mixed(parts.probs.to(dtype), valid)}  # flow's capacities too
        if "alti" in self.methods or "normroll" in self.methods:
            maps, error = M.atb_maps(parts, w, valid, self.budget)
            self._check(layer, error)
            per_layer.update(maps)
        if "vz" in self.methods:
            per_layer["vz"] = M.value_zeroing(parts, w, self.tails[layer], valid, self.budget)
        rolled = {m: self.rollouts[m].step(per_layer[m]) for m in self.methods}
        stacked = torch.stack([rolled[m] for m in self.methods], 1)  # [B, K, T, T]: one set of ops for all methods
        out: dict[str, torch.Tensor] = {}
        for s, v in statistics(stacked, self.masks).items():
            out.update({stat_metric(m, s): v[:, k] for k, m in enumerate(self.methods)})
        b, k, t, _ = stacked.shape
        ranks = midranks(stacked.view(b, k * t, t), valid).view(b, k, t, t)
        for a, c in pairs(self.methods):
            out[agree_metric(a, c)] = agreement(ranks[:, self.methods.index(a)], ranks[:, self.methods.index(c)], valid)
        for name, col in self.columns.items():
            self.values[:, col, layer, 0] = out[name].to(self.values.dtype)
        if self.keep:
            rows = torch.as_tensor(self.keep, dtype=torch.long, device=valid.device)
            for m in self.methods:
                self.kept[m].append(rolled[m][rows].to(dtype))
            self.kept["mixed"].append(per_layer["rollout"][rows])

    def end(self) -> None:
        self.done_maps = {}
        for k, row in enumerate(self.keep):
            n = int(self.batch.n_tokens[row])
            maps = lambda name: torch.stack([x[k] for x in self.kept[name]])[:, :n, :n].cpu().numpy()  # noqa: E731
            arrays = {m: maps(m).astype(np.float32) for m in self.methods}
            if 0 < n <= self.flow_cap:
                arrays["flow"] = M.attention_flow(maps("mixed"))
            self.done_maps[row] = arrays
        del self.batch, self.values, self.masks, self.rollouts, self.kept

    def add(self, batch, rows) -> None:
        rows = list(rows)
        self.ids.append(batch.ids[rows])
        for row, arrays in self.done_maps.items():
            if self.maps_dir is not None and row in rows:
                write_sentence_maps(self.maps_dir, batch.items[row], MAPS_KIND,
                                    {**arrays, "methods": np.asarray(list(arrays))}, self.lm.tokenizer)
        self.done_maps = {}

    def take(self) -> dict[str, np.ndarray]:
        out = {"sentence_ids": np.concatenate(self.ids) if self.ids else np.zeros(0, np.int64)}
        self.ids = []
        return out

    def describe(self) -> dict:
        return {"methods": list(self.methods), "flow_cap": self.flow_cap}

    def _check(self, layer: int, error) -> None:
        worst = float(error.max())
        if not worst <= self.tolerance:
            raise ModelError(f"attribution: the ATB terms do not add up to the model's LN1 output at layer {layer_label(layer)} "
                             f"(relative error {worst:.3g}, tolerance {self.tolerance:g}); the adapter's parts do not "
                             "recompute this model's layer. Please report it with the model's config.json.")


def make(cfg, lm) -> Attributor:
    """The collector of a run: the methods and flow cap of its attribution options."""
    opts = cfg.options_of("attribution")
    return Attributor(lm, opts.methods, os.path.join(os.path.abspath(cfg.out), layout.MAPS), cfg.word_aggregation,
                      opts.flow_cap)
