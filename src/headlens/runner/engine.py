"""The forward pass with metrics: per-sentence, per-(layer, head) numbers leave the device, nothing else."""

from __future__ import annotations

import inspect

import numpy as np
import torch

from ..errors import ModelError
from ..metrics.registry import Metric
from ..models.loading import LoadedModel
from .batch import Batch
from .hooks import AttentionCapture, hooks


class Engine:
    """Scores batches: ``score(batch) -> values[B, M, L, H]`` (float64 numpy, NaN = undefined).

    Each layer's attention is reduced by every metric on the device inside the hook, on the
    whole batch at once, and then dropped; only when ``keep`` names batch rows are those rows'
    maps copied to the host.
    """

    def __init__(self, lm: LoadedModel, metrics: list[Metric], aggregation: str = "clark"):
        self.lm = lm
        self.metrics = metrics
        self.aggregation = aggregation
        self.token_metrics = [(k, m) for k, m in enumerate(metrics) if m.level == "token"]
        self.word_metrics = [(k, m) for k, m in enumerate(metrics) if m.level == "word"]
        self.modules = lm.adapter.attention_modules(lm.model)
        self.compute_dtype = torch.float64 if lm.dtype == torch.float64 else torch.float32
        params = inspect.signature(lm.model.forward).parameters
        self.takes_token_types = "token_type_ids" in params

    def batch(self, items) -> Batch:
        return Batch(items, self.lm.device, self.compute_dtype, words=bool(self.word_metrics), aggregation=self.aggregation)

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
            if self.token_metrics:
                view = batch.token_view(attn)
                for k, metric in self.token_metrics:
                    out[:, k, layer] = metric.score(view)
            if self.word_metrics:
                view = batch.word_view(attn)
                for k, metric in self.word_metrics:
                    out[:, k, layer] = metric.score(view)
            for row in kept:
                n = int(batch.n_tokens[row])
                kept[row].append(attn[row, :, :n, :n].float().cpu())

        capture = AttentionCapture(on_layer)
        inputs = batch.model_inputs()
        if not self.takes_token_types:
            inputs.pop("token_type_ids")
        with torch.inference_mode(), hooks(self.modules, capture):
            lm.model(**inputs)
        if capture.calls != lm.num_layers:
            raise ModelError(f"captured attention from {capture.calls} layers, expected {lm.num_layers}.")
        maps = {row: torch.stack(layers).numpy() for row, layers in kept.items()}
        return out.cpu().numpy().astype(np.float64, copy=False), maps
