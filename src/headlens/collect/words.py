"""Every layer's word-level attention of one batch, kept on the CPU: for the few sentences whose
whole maps an analysis needs (the probing classifier's features, the report's head view)."""

from __future__ import annotations

import torch

from ..metrics.view import word_map
from . import Collector


class WordMaps(Collector):
    """The last batch's word attention (the run's word aggregation) of every layer; reset at layer 0."""

    name = "word-maps"
    needs_attention = True
    reads_rows = True  # on_layer gets the layer's rows (runner.rows.Rows), not its map

    def __init__(self):
        self.layers: list[torch.Tensor] = []

    def on_layer(self, layer, attn, batch) -> None:
        if layer == 0:
            self.layers = []
        self.layers.append(word_map(attn, batch))  # a block of word rows at a time

    def stacked(self) -> torch.Tensor:
        """[B, L, H, U, U]."""
        return torch.stack(self.layers, dim=1)
