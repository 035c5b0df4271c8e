"""The forward pass with metrics: per-sentence, per-(layer, head) numbers leave the device, nothing else."""

from __future__ import annotations

import inspect

import numpy as np
import torch

from ..errors import ConfigError, ModelError, param_error
from ..metrics.fused import FusedLayer, FusedView
from ..metrics.registry import Metric
from . import fused as fused_path
from ..models.loading import LoadedModel
from .batch import Batch
from .hooks import AttentionCapture, hooks
from .parts import part_hooks




class Engine:
    """Scores batches: ``score(batch) -> values[B, M, L, H]`` (float64 numpy, NaN = undefined).

    Two paths compute the same numbers (tests/test_fused.py):

    - ``fused`` (``attention="auto"`` picks it where it can): the model runs with
      :mod:`headlens.runner.fused` as its attention; each layer's statistics come from one fused
      kernel call (log-sum-exp, key-set masses, the entropy term) and a few diagonals of pairs, with
      no T x T map. Metrics without a fused ``Need``, batch-level collectors and stored maps get the
      layer's full rows, computed for them in the same call.
    - ``eager``: the eager implementation's probabilities, read by hooks on the self-attention
      modules; every metric reads the full map. Layer analyses (``runner/parts.py``) and models
      whose attention bypasses transformers' attention interface (MPNet) always take it.

    Either way each layer is reduced on the device, on the whole batch at once, and dropped; only
    when ``keep`` names batch rows are those rows' maps copied to the host.
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
        fused = self.path == "fused"
        self.fused_metrics = [(k, m) for k, m in enumerate(metrics) if fused and m.need is not None and m.level != "parts"]
        on_fused = {k for k, _ in self.fused_metrics}
        self.token_metrics = [(k, m) for k, m in enumerate(metrics) if m.level == "token" and k not in on_fused]
        self.word_metrics = [(k, m) for k, m in enumerate(metrics) if m.level == "word" and k not in on_fused]
        self.words = any(m.level == "word" for m in metrics)
        self.columns = sorted({f"{m.level}:{m.need.arg}" for _, m in self.fused_metrics if m.need.kind == "mass"})
        self.entropy = any(m.need.kind == "entropy" for _, m in self.fused_metrics)
        self.full_rows = bool(self.token_metrics or self.word_metrics or self.collectors)
        self.relations = tuple(dict.fromkeys(m.params["relation"] for m in metrics if "relation" in m.params))
        self.modules = lm.adapter.attention_modules(lm.model)
        self.compute_dtype = torch.float64 if lm.dtype == torch.float64 else torch.float32
        params = inspect.signature(lm.model.forward).parameters
        self.takes_token_types = "token_type_ids" in params

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
        """How each metric is computed: ``fused`` (no map), ``full-rows`` (the layer's map, computed in
        the fused call), ``eager`` (the eager implementation's map), ``parts`` (a layer analysis)."""
        fused = {m.name for _, m in self.fused_metrics}
        other = "full-rows" if self.path == "fused" else "eager"
        return {m.name: "parts" if m.level == "parts" else "fused" if m.name in fused else other for m in self.metrics}

    def batch(self, items) -> Batch:
        return Batch(
            items, self.lm.device, self.compute_dtype, words=self.words, aggregation=self.aggregation,
            relations=self.relations,
        )

    def score(self, batch: Batch, keep: list[int] = ()) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        lm = self.lm
        out = torch.full(
            (len(batch), len(self.metrics), lm.num_layers, lm.num_heads), float("nan"),
            dtype=self.compute_dtype, device=lm.device,
        )
        kept: dict[int, list[torch.Tensor]] = {row: [] for row in keep}
        inputs = batch.model_inputs()
        if not self.takes_token_types:
            inputs.pop("token_type_ids")
        if self.path == "fused":
            calls = self._forward_fused(batch, inputs, out, kept)
        else:
            calls = self._forward_eager(batch, inputs, out, kept, keep)
        if calls != lm.num_layers:
            raise ModelError(f"captured attention from {calls} layers, expected {lm.num_layers}.")
        maps = {row: torch.stack(layers).numpy() for row, layers in kept.items()}
        return out.cpu().numpy().astype(np.float64, copy=False), maps

    def _check_layer(self, layer: int) -> None:
        if layer >= self.lm.num_layers:
            raise ModelError(f"the model ran more attention layers than its config declares ({self.lm.num_layers}).")

    def _full_rows(self, layer: int, attn: torch.Tensor, batch: Batch, out: torch.Tensor) -> None:
        """The metrics and collectors that read the layer's whole map ``attn`` [B, H, T, T]."""
        words = batch.word_attention(attn)  # shared by both views, computed once if needed
        if self.token_metrics:
            view = batch.token_view(attn, words)
            for k, metric in self.token_metrics:
                out[:, k, layer] = metric.score(view)
        if self.word_metrics:
            view = batch.word_view(attn, words)
            for k, metric in self.word_metrics:
                out[:, k, layer] = metric.score(view)
        for collector in self.collectors:
            collector.on_layer(layer, attn, batch)

    def _forward_eager(self, batch, inputs, out, kept, keep) -> int:
        def on_layer(layer: int, probs: torch.Tensor) -> None:
            self._check_layer(layer)
            attn = probs if probs.dtype == self.compute_dtype else probs.to(self.compute_dtype)
            self._full_rows(layer, attn, batch, out)
            for row in kept:
                n = int(batch.n_tokens[row])
                kept[row].append(attn[row, :, :n, :n].float().cpu())

        capture = AttentionCapture(on_layer)
        with torch.inference_mode(), hooks(self.modules, capture, dict(self.lm.adapter.attention_call_kwargs)), \
                part_hooks(self.lm, self.part_analyses, batch, keep, out, self.part_columns):
            self.lm.model(**inputs)
        return capture.calls

    def _forward_fused(self, batch, inputs, out, kept) -> int:
        columns = {name: i for i, name in enumerate(self.columns)}
        token_metrics = [(k, m) for k, m in self.fused_metrics if m.level == "token"]
        word_metrics = [(k, m) for k, m in self.fused_metrics if m.level == "word"]

        def on_layer(layer: int, fused: FusedLayer, probs) -> None:
            self._check_layer(layer)
            if token_metrics:
                view = FusedView(fused, batch.token_valid, batch.token_kinds, columns)
                for k, metric in token_metrics:
                    out[:, k, layer] = view.score(metric.need)
            if word_metrics:
                view = FusedView(fused, batch.unit_valid, batch.unit_kinds, columns, "word", rows=batch.row_agg,
                                 token_unit=batch.token_unit, key_weight=batch.key_weight)
                for k, metric in word_metrics:
                    out[:, k, layer] = view.score(metric.need)
            if self.full_rows:
                self._full_rows(layer, probs, batch, out)
            for row in kept:
                n = int(batch.n_tokens[row])
                kept[row].append(probs[row][:, :n, :n].float().cpu())

        plan = fused_path.Plan(
            batch.token_valid, on_layer, self.compute_dtype, entropy=self.entropy, full_rows=self.full_rows,
            columns=batch.key_columns(self.columns, self.compute_dtype) if self.columns else None,
            rows=tuple(kept),
        )
        with torch.inference_mode(), fused_path.using(self.lm.model, plan):
            self.lm.model(**inputs)
        return plan.calls
