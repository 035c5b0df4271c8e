"""The forward pass with metrics: per-sentence, per-(layer, head) numbers leave the device, nothing else."""

from __future__ import annotations

import inspect

import numpy as np
import torch

from ..errors import ConfigError, ModelError
from ..metrics.registry import Metric
from ..models.loading import LoadedModel
from .batch import Batch
from .hooks import AttentionCapture, hooks
from .parts import part_hooks


class Engine:
    """Scores batches: ``score(batch) -> values[B, M, L, H]`` (float64 numpy, NaN = undefined).

    Each layer's attention is reduced by every metric on the device inside the hook, on the
    whole batch at once, and then dropped; only when ``keep`` names batch rows are those rows'
    maps copied to the host.
    """

    def __init__(self, lm: LoadedModel, metrics: list[Metric], aggregation: str = "clark", collectors=()):
        self.lm = lm
        self.metrics = metrics
        self.collectors = list(collectors)  # batch-level collectors that see every layer (headlens.collect)
        self.aggregation = aggregation
        self.token_metrics = [(k, m) for k, m in enumerate(metrics) if m.level == "token"]
        self.word_metrics = [(k, m) for k, m in enumerate(metrics) if m.level == "word"]
        # layer analyses (runner/parts.py) fill the metrics of level "parts" from each layer's parts
        self.part_analyses = [c for c in self.collectors if getattr(c, "needs_parts", False)]
        self.part_columns = {m.name: k for k, m in enumerate(metrics) if m.level == "parts"}
        if self.part_columns and not self.part_analyses:
            analyses = sorted({m.analysis for m in metrics if m.level == "parts"})
            raise ConfigError(f"metrics {sorted(self.part_columns)} are computed by the {', '.join(analyses)} analysis; "
                              f"run it with --analyses {','.join(analyses)} instead of --metrics.")
        self.relations = tuple(dict.fromkeys(m.params["relation"] for m in metrics if "relation" in m.params))
        self.modules = lm.adapter.attention_modules(lm.model)
        self.compute_dtype = torch.float64 if lm.dtype == torch.float64 else torch.float32
        params = inspect.signature(lm.model.forward).parameters
        self.takes_token_types = "token_type_ids" in params

    def batch(self, items) -> Batch:
        return Batch(
            items, self.lm.device, self.compute_dtype, words=bool(self.word_metrics), aggregation=self.aggregation,
            relations=self.relations,
        )

    def score(self, batch: Batch, keep: list[int] = ()) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        lm = self.lm
        out = torch.full(
            (len(batch), len(self.metrics), lm.num_layers, lm.num_heads), float("nan"),
            dtype=self.compute_dtype, device=lm.device,
        )
        kept: dict[int, list[torch.Tensor]] = {row: [] for row in keep}

        def on_layer(layer: int, probs: torch.Tensor) -> None:
            if layer >= lm.num_layers:
                raise ModelError(f"the model ran more attention layers than its config declares ({lm.num_layers}).")
            attn = probs if probs.dtype == self.compute_dtype else probs.to(self.compute_dtype)
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
            for row in kept:
                n = int(batch.n_tokens[row])
                kept[row].append(attn[row, :, :n, :n].float().cpu())

        capture = AttentionCapture(on_layer)
        inputs = batch.model_inputs()
        if not self.takes_token_types:
            inputs.pop("token_type_ids")
        with torch.inference_mode(), hooks(self.modules, capture, dict(lm.adapter.attention_call_kwargs)), \
                part_hooks(lm, self.part_analyses, batch, keep, out, self.part_columns):
            lm.model(**inputs)
        if capture.calls != lm.num_layers:
            raise ModelError(f"captured attention from {capture.calls} layers, expected {lm.num_layers}.")
        maps = {row: torch.stack(layers).numpy() for row, layers in kept.items()}
        return out.cpu().numpy().astype(np.float64, copy=False), maps
