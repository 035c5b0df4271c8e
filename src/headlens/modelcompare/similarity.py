"""Two models on the same batch: the first's maps are held for that batch only, the second's hooks
compare each layer's maps with them (Kovaleva et al. 2019: cosine similarity of flattened maps).

Both are engine collectors (``runner.engine.Engine(collectors=...)``): the engine calls
``on_layer(layer, rows, batch)`` inside the attention hook, with the layer's rows
(``runner.rows.Rows``). ``MapHolder`` keeps model A's rows of each layer (on the fused path its
q and k, not its [B, H, T, T] map) until ``MapCosine`` (model B's hook) has compared them, a block
of query rows at a time, then drops them; nothing is copied to the host but the [B, H] similarities.
"""

from __future__ import annotations

import torch

from ..errors import ModelError
from ..heads import layer_label


class MapHolder:
    name = "map_holder"
    needs_attention = True
    reads_rows = True  # holds the layer's rows (runner.rows.Rows: on the fused path q and k, not the map)

    def __init__(self) -> None:
        self.maps: dict[int, torch.Tensor] = {}

    def on_layer(self, layer: int, attn: torch.Tensor, batch) -> None:
        self.maps[layer] = attn

    def pop(self, layer: int) -> torch.Tensor:
        if layer not in self.maps:
            raise ModelError(f"the first model produced no attention for layer {layer_label(layer)}; the models differ in depth.")
        return self.maps.pop(layer)

    def clear(self) -> None:
        self.maps.clear()


def map_cosine(a: torch.Tensor, b: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """[B, H]: cosine similarity of the flattened maps over the valid query rows and key columns."""
    m = (valid[:, None, :, None] & valid[:, None, None, :]).to(a.dtype)
    a, b = a * m, b * m
    dot = (a * b).sum((-1, -2))
    return dot / (a.pow(2).sum((-1, -2)).sqrt() * b.pow(2).sum((-1, -2)).sqrt()).clamp_min(torch.finfo(a.dtype).tiny)


def rows_cosine(a, b, valid: torch.Tensor) -> torch.Tensor:
    """``map_cosine`` of two layers' rows (``runner.rows.Rows``), a block of query rows at a time."""
    dot = na = nb = 0
    for start, stop, block in b.blocks():
        m = (valid[:, None, start:stop, None] & valid[:, None, None, :]).to(block.dtype)
        x, y = a.block(start, stop).to(block.dtype) * m, block * m
        dot = dot + (x * y).sum((-1, -2))
        na, nb = na + x.pow(2).sum((-1, -2)), nb + y.pow(2).sum((-1, -2))
    return dot / (na.sqrt() * nb.sqrt()).clamp_min(torch.finfo(dot.dtype).tiny)


class MapCosine:
    name = "map_cosine"
    needs_attention = True
    reads_rows = True

    def __init__(self, holder: MapHolder, num_layers: int) -> None:
        self.holder = holder
        self.num_layers = num_layers
        self.values: torch.Tensor | None = None  # [B, L, H] of the current batch

    def on_layer(self, layer: int, attn: torch.Tensor, batch) -> None:
        a = self.holder.pop(layer)
        if a.shape != attn.shape:
            raise ModelError(f"layer {layer_label(layer)}: attention maps of shape {tuple(a.shape)} and {tuple(attn.shape)}; "
                             "the models differ in heads.")
        if self.values is None:
            self.values = torch.full((attn.shape[0], self.num_layers, attn.shape[1]), float("nan"), dtype=torch.float64)
        self.values[:, layer] = rows_cosine(a, attn, batch.token_valid).double().cpu()

    def take(self) -> torch.Tensor:
        out, self.values = self.values, None
        return out
