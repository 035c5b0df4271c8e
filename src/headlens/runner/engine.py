"""The forward pass with metrics: per-sentence, per-(layer, head) numbers leave the device, nothing else."""

from __future__ import annotations

import inspect
from collections import Counter

import numpy as np
import torch

from ..errors import ConfigError, ModelError, param_error
from ..metrics.fused import FusedLayer, FusedView, Rows, band_reach, fused_spec, receiver_weights
from ..metrics.registry import Metric
from ..metrics.view import RowsView, level_blocks, row_statistics
from . import cost
from . import fused as fused_path
from . import rows as row_blocks
from ..models.loading import LoadedModel
from .batch import Batch
from .hooks import AttentionCapture, hooks
from .maps import KeptMaps
from .parts import part_hooks




class Engine:
    """Scores batches: ``score(batch) -> values[B, M, L, H]`` (float64 numpy, NaN = undefined).

    Two paths compute the same numbers (tests/test_fused.py):

    - ``fused`` (``attention="auto"`` picks it where it can): the model runs with
      :mod:`headlens.runner.fused` as its attention; each layer's statistics come from one fused
      kernel call (log-sum-exp, key-set masses, the entropy term) and a few diagonals of pairs, with
      no T x T map. Full-row metrics (``need`` a :class:`~headlens.metrics.fused.Rows`), collectors
      that read rows (``reads_rows``) and stored maps read the layer's rows a block of query rows at
      a time (``runner/rows.py``), never the whole map of a batch; only a metric without any ``need``
      and a collector without ``reads_rows`` get the layer's whole map (``full-map``).
    - ``eager``: the eager implementation's probabilities, read by hooks on the self-attention
      modules; every metric reads the full map. Layer analyses (``runner/parts.py``) and models
      whose attention bypasses transformers' attention interface (MPNet) always take it.

    ``attention="auto"`` on CPU, where every metric and collector has a fused form, takes the
    cheaper of the two per batch (:mod:`headlens.runner.cost`: the eager maps for short, full
    batches); ``batches`` counts the batches each path scored.

    Either way each layer is reduced on the device, on the whole batch at once (the fused path's
    metrics several consecutive layers at once: ``fused_path.LayerStack``), and dropped; only
    when ``keep`` names batch rows are those rows' maps copied to the host, a layer at a time (to
    ``sinks``: the maps files being written, ``runner/maps.py``), with their q.k logits
    (the scaled dot products before the softmax): on the fused path from the layer's q and k; on
    the eager path, whose hooks see probabilities only, from one more forward pass of the kept rows
    alone on the fused path (none for a model that computes its attention itself, MPNet).
    """

    def __init__(self, lm: LoadedModel, metrics: list[Metric], aggregation: str = "clark", collectors=(),
                 attention: str = "auto"):
        self.lm = lm
        self.metrics = metrics
        self.collectors = list(collectors)  # batch-level collectors that see every layer (headlens.collect)
        self.aggregation = aggregation
        # layer analyses (runner/parts.py) fill the metrics of level "parts" from each layer's parts
        self.part_analyses = [c for c in self.collectors if getattr(c, "needs_parts", False)]
        self.part_columns = {m.name: k for k, m in enumerate(metrics) if m.level == "parts"}
        if self.part_columns and not self.part_analyses:
            analyses = sorted({m.analysis for m in metrics if m.level == "parts"})
            raise ConfigError(f"metrics {sorted(self.part_columns)} are computed by the {', '.join(analyses)} analysis; "
                              f"run it with --analyses {','.join(analyses)} instead of --metrics.")
        self.path, self.path_reason = self._choose(attention)
        self.batches: Counter = Counter()  # batches scored, by path
        self._kernel: str | None = None  # the fused path's statistics kernel, once a batch asks (batch_path)
        fused = self.path == "fused"
        self.fused_metrics = [(k, m, fused_spec(m.need, m.level)) for k, m in enumerate(metrics)
                              if fused and fused_spec(m.need, m.level) is not None and m.level != "parts"]
        # full-row metrics on the fused path: per-row statistics from blocks of rows, by level
        self.row_metrics = [(k, m) for k, m in enumerate(metrics)
                            if fused and isinstance(m.need, Rows) and m.level in ("token", "word")]
        self.row_stats = {}
        for _, m in self.row_metrics:
            self.row_stats.setdefault(m.level, set()).update(m.need.stats)
        done = {k for k, _, _ in self.fused_metrics} | {k for k, _ in self.row_metrics}
        self.token_metrics = [(k, m) for k, m in enumerate(metrics) if m.level == "token" and k not in done]
        self.word_metrics = [(k, m) for k, m in enumerate(metrics) if m.level == "word" and k not in done]
        # the eager path (forced, or chosen for a batch): every metric from the map
        self.eager_metrics = tuple([(k, m) for k, m in enumerate(metrics) if m.level == level] for level in ("token", "word"))
        self.words = any(m.level == "word" for m in metrics)
        self.keysets = list({ks.name: ks for _, _, spec in self.fused_metrics for ks in spec.keysets}.values())
        self.entropy = any(spec.entropy for _, _, spec in self.fused_metrics)
        self.row_collectors = [c for c in self.collectors if getattr(c, "reads_rows", False)]
        # a collector of hidden states only (the layers analysis) gets no map: on the fused path a map
        # collector makes every layer's whole map (rows.full())
        self.map_collectors = [c for c in self.collectors if not getattr(c, "reads_rows", False)
                               and not (getattr(c, "needs_hidden", False) and not getattr(c, "needs_attention", False))]
        # collectors of hidden states (the layers analysis): on_hidden(hidden_states, batch) after the pass
        self.hidden_collectors = [c for c in self.collectors if getattr(c, "needs_hidden", False)]
        self.relations = tuple(dict.fromkeys(m.params["relation"] for m in metrics if "relation" in m.params))
        self.modules = lm.adapter.attention_modules(lm.model)
        self.compute_dtype = torch.float64 if lm.dtype == torch.float64 else torch.float32
        params = inspect.signature(lm.model.forward).parameters
        self.takes_token_types = "token_type_ids" in params
        # auto: the cheaper path per batch, where the model's choice is calibrated (CPU) and the fused
        # path forms no whole map (a metric without a need, a map collector: eager is then cheaper anyway)
        self.per_batch = (attention == "auto" and fused and lm.device.type == "cpu" and bool(self.fused_metrics or self.row_metrics)
                          and not (self.token_metrics or self.word_metrics or self.map_collectors))

    def _choose(self, attention: str) -> tuple[str, str]:
        if attention not in ("auto", "fused", "eager"):  # config.ATTENTION_PATHS, checked there for runs
            raise param_error("Engine", "attention", "one of ('auto', 'fused', 'eager')", attention)
        if attention == "eager":
            return "eager", "asked for (--attention eager)"
        reason = None
        if self.part_analyses:
            reason = "a layer analysis (decomposition) reads every part of each layer through module hooks"
        elif not fused_path.supports(self.lm.model):
            reason = (f"{self.lm.model.config.model_type} computes its attention itself, not through "
                      "transformers' attention interface")
        if reason is None:
            return "fused", "every layer in one fused kernel call"
        if attention == "fused":
            raise ConfigError(f"the fused attention path is not available for this run: {reason}. "
                              "Use --attention auto (or eager).")
        return "eager", reason

    def metric_paths(self) -> dict[str, str]:
        """How each metric is computed: ``fused`` (no map), ``full-rows`` (its declared per-row
        statistics, from blocks of query rows computed from the layer's q and k), ``full-map`` (a metric
        without a ``need``: the layer's whole map), ``eager`` (the eager implementation's map),
        ``parts`` (a layer analysis)."""
        fused = {m.name for _, m, _ in self.fused_metrics}
        rows = {m.name for _, m in self.row_metrics}
        other = "full-map" if self.path == "fused" else "eager"
        return {m.name: "parts" if m.level == "parts" else "fused" if m.name in fused else
                "full-rows" if m.name in rows else other for m in self.metrics}

    def choice(self) -> str:
        """How the path of each batch is chosen, as the manifest records it."""
        return cost.describe() if self.per_batch else f"every batch on the {self.path} path"

    def batch_path(self, batch: Batch, keep=()) -> str:
        """The path that scores ``batch`` (``keep``: the rows whose maps are stored)."""
        if not self.per_batch:
            return self.path
        b, t = batch.token_valid.shape
        if self._kernel is None:  # the statistics kernel of the fused path (building it if need be)
            self._kernel = fused_path.kernel_record(self.lm.device, self.lm.model.dtype)["kernel"]
        kernel = self._kernel if t <= fused_path.ONEPASS_MAX_T else "flash"
        return cost.cheaper(self.lm.num_layers, self.lm.num_heads, b, t, len(keep), kernel)

    def batch(self, items) -> Batch:
        return Batch(
            items, self.lm.device, self.compute_dtype, words=self.words, aggregation=self.aggregation,
            relations=self.relations,
        )

    def score(self, batch: Batch, keep=()) -> tuple[np.ndarray, dict[int, dict]]:
        """(values, maps). ``keep``: the rows whose maps are kept, handed over a layer at a time. A mapping
        row -> ``runner.maps.KeptMaps`` (a maps file being written) hands them to those; rows alone, to
        arrays in memory, returned in ``maps`` (row -> ``attention`` [L, H, n, n] and, where the engine
        took them, ``logits``)."""
        lm = self.lm
        out = torch.full(
            (len(batch), len(self.metrics), lm.num_layers, lm.num_heads), float("nan"),
            dtype=self.compute_dtype, device=lm.device,
        )
        own = not isinstance(keep, dict)
        sinks = {row: KeptMaps(lm.num_layers) for row in keep} if own else keep
        keep = list(sinks)
        inputs = batch.model_inputs()
        if not self.takes_token_types:
            inputs.pop("token_type_ids")
        path = self.batch_path(batch, keep)
        self.batches[path] += 1
        if path == "fused":
            calls = self._forward_fused(batch, inputs, out, sinks)
        else:
            calls = self._forward_eager(batch, inputs, out, sinks, keep)
            self._kept_logits(batch, inputs, sinks)
        if calls != lm.num_layers:
            raise ModelError(f"captured attention from {calls} layers, expected {lm.num_layers}.")
        maps = {row: sink.out.arrays for row, sink in sinks.items()} if own else {}
        return out.cpu().numpy().astype(np.float64, copy=False), maps

    def _kept_logits(self, batch, inputs, sinks: dict) -> None:
        """The q.k logits of the kept rows (``sinks``' keys) on the eager path: a forward pass of those
        rows alone on the fused path, whose layers hand over their q and k; none where it is not available."""
        if not sinks or not fused_path.supports(self.lm.model):
            return
        rows = list(sinks)
        index = torch.as_tensor(rows, device=batch.token_valid.device)

        def on_layer(layer: int, layer_rows: row_blocks.LayerRows) -> None:
            for j, row in enumerate(rows):
                sinks[row].logits(layer, layer_rows.sentence_logits(j, int(batch.n_tokens[row])))

        plan = fused_path.Plan(batch.token_valid[index], on_layer, self.compute_dtype, layers=self.lm.num_layers)
        with torch.inference_mode(), fused_path.using(self.lm.model, plan):
            self.lm.model(**{k: v[index] for k, v in inputs.items()})

    def _check_layer(self, layer: int) -> None:
        if layer >= self.lm.num_layers:
            raise ModelError(f"the model ran more attention layers than its config declares ({self.lm.num_layers}).")

    def _full_rows(self, layer: int, attn: torch.Tensor, batch: Batch, out: torch.Tensor, metrics: tuple) -> None:
        """The metrics (``metrics``: token-level and word-level (column, metric) lists) and collectors
        that read the layer's whole map ``attn`` [B, H, T, T]."""
        words = batch.word_attention(attn)  # shared by both views, computed once if needed
        token_metrics, word_metrics = metrics
        if token_metrics:
            view = batch.token_view(attn, words)
            for k, metric in token_metrics:
                out[:, k, layer] = metric.score(view)
        if word_metrics:
            view = batch.word_view(attn, words)
            for k, metric in word_metrics:
                out[:, k, layer] = metric.score(view)
        for collector in self.map_collectors:
            collector.on_layer(layer, attn, batch)

    def _forward(self, batch: Batch, inputs: dict) -> None:
        """One forward pass; the hidden states (embeddings and every layer) go to the collectors that ask."""
        if not self.hidden_collectors:
            self.lm.model(**inputs)
            return
        hidden = self.lm.model(**inputs, output_hidden_states=True).hidden_states
        for collector in self.hidden_collectors:
            collector.on_hidden(hidden, batch)

    def _forward_eager(self, batch, inputs, out, sinks, keep) -> int:
        def on_layer(layer: int, probs: torch.Tensor) -> None:
            self._check_layer(layer)
            attn = probs if probs.dtype == self.compute_dtype else probs.to(self.compute_dtype)
            with fused_path.reducing(self.lm.device):  # thousands of small reductions, as the fused path's
                self._full_rows(layer, attn, batch, out, self.eager_metrics)
            for collector in self.row_collectors:
                collector.on_layer(layer, row_blocks.MapRows(attn), batch)
            for row, sink in sinks.items():
                n = int(batch.n_tokens[row])
                sink.attention(layer, attn[row, :, :n, :n])

        capture = AttentionCapture(on_layer)
        with torch.inference_mode(), hooks(self.modules, capture, dict(self.lm.adapter.attention_call_kwargs)), \
                part_hooks(self.lm, self.part_analyses, batch, keep, out, self.part_columns):
            self._forward(batch, inputs)
        return capture.calls

    def _forward_fused(self, batch, inputs, out, sinks) -> int:
        columns = {ks.name: i for i, ks in enumerate(self.keysets)}
        levels = {m.level for _, m, _ in self.fused_metrics}
        b, h = len(batch), self.lm.num_heads

        def on_stack(start: int, stop: int, fused: FusedLayer) -> None:
            """The fused metrics of layers start..stop-1 at once (their heads stacked: fused_path.LayerStack)."""
            views = {level: FusedView(fused, batch, level, columns) for level in levels}
            with fused_path.reducing(self.lm.device):
                for k, metric, spec in self.fused_metrics:
                    out[:, k, start:stop] = spec.score(views[metric.level]).view(b, stop - start, h)

        def on_layer(layer: int, rows: row_blocks.LayerRows) -> None:
            self._check_layer(layer)
            for level, stats in self.row_stats.items():
                valid, kinds = (batch.token_valid, batch.token_kinds) if level == "token" else (batch.unit_valid, batch.unit_kinds)
                view = RowsView(batch, level, self.compute_dtype, row_statistics(
                    level_blocks(rows, batch, level), stats, valid, kinds, batch.arcs, rows.shape[1], self.compute_dtype))
                for k, metric in self.row_metrics:
                    if metric.level == level:
                        out[:, k, layer] = metric.score(view)
            if self.token_metrics or self.word_metrics or self.map_collectors:
                self._full_rows(layer, rows.full(), batch, out, (self.token_metrics, self.word_metrics))
            for collector in self.row_collectors:
                collector.on_layer(layer, rows, batch)
            for row, sink in sinks.items():
                sink.attention(layer, rows.sentence_map(row, int(batch.n_tokens[row])))
                sink.logits(layer, rows.sentence_logits(row, int(batch.n_tokens[row])))

        plan = fused_path.Plan(
            batch.token_valid, on_layer, self.compute_dtype, entropy=self.entropy,
            reach=band_reach(batch, "word" in levels or batch.arcs is not None) if self.fused_metrics else 0,
            columns=batch.key_columns(self.keysets, self.compute_dtype) if self.keysets else None,
            on_stack=on_stack if self.fused_metrics else None, layers=self.lm.num_layers,
            receivers={level: receiver_weights(batch, level, self.compute_dtype)
                       for level in {m.level for _, m, spec in self.fused_metrics if spec.received}},
        )
        with torch.inference_mode(), fused_path.using(self.lm.model, plan):
            self._forward(batch, inputs)
        return plan.calls
