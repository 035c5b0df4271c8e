"""Which exact path a batch takes under ``attention="auto"``: the cheaper one by a calibrated cost model.

Both paths compute the same numbers (tests/test_fused.py); they differ in where the work goes. The
eager path forms each layer's map [B, H, T, T] and reduces every metric from it, one call per metric
and layer: cheap while the map is small. The fused path pads q and k to the width of
``[V | K | key-set columns]`` for one kernel call and reduces stacks of layers from per-row
quantities and a band of pairs: its cost grows with B H T, the eager one's with B H T^2.

Per batch, in milliseconds of one CPU thread, with L layers, H heads, B sentences padded to T tokens:
``cost = L (per_layer + H B T (per_token / 1e3 + per_entry T / 1e6))``. The coefficients are
least-squares fits (relative error) to ``Engine.score`` CPU times of MiniLM (6 x 12) with the default
analyses on 1 thread, T from 16 to 124 and B from 8 to 128, each pair of paths measured in one session
(``benchmarks/calibrate_paths.py``; docs/performance.md, 2026-12-04 21:10-22:25 UTC):

- the fused path on the flash kernel calls (no one-pass kernel: not built, not float32, T > 512):
  the eager maps are the cheaper below T of about 90 for full batches (18 of 20 measured batches
  predicted right; the two missed differed by 3 and 4%);
- the fused path on the one-pass kernel (runner/onepass.py): the eager maps only for the shortest
  full batches (T about 16, B 128: 0.97 of the fused time); the fit predicted all 13 measured batches.

Surface alone gave the same ratios as the default analyses against the flash calls (0.76 to 0.93
below T = 62), so one model serves every analysis.

The eager path's stored maps (``keep``) need their q.k logits from one more fused pass of those
rows (``Engine._kept_logits``): its cost is added to the eager side.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PathCost:
    per_layer: float  # ms per layer: the calls of the metrics, whatever the batch
    per_token: float  # ms per 1,000 (query token, head) of a layer
    per_entry: float  # ms per 1,000,000 map entries (query, key, head) of a layer

    def ms(self, layers: int, heads: int, batch: int, length: int) -> float:
        if batch == 0:
            return 0.0
        return layers * (self.per_layer + heads * batch * length * (self.per_token / 1e3 + self.per_entry * length / 1e6))


# (eager, fused) per kernel of the fused path, each pair measured in one session
COSTS = {
    "flash": (PathCost(per_layer=7.41, per_token=2.11, per_entry=21.2), PathCost(per_layer=3.86, per_token=3.58, per_entry=5.56)),
    "onepass": (PathCost(per_layer=4.07, per_token=2.25, per_entry=18.66), PathCost(per_layer=1.72, per_token=2.78, per_entry=2.01)),
}


def cheaper(layers: int, heads: int, batch: int, length: int, kept: int = 0, kernel: str = "flash") -> str:
    """``"eager"`` or ``"fused"``: the path with the lower modelled cost for a batch of ``batch``
    sentences padded to ``length`` tokens, ``kept`` of whose maps are stored, when the fused path
    runs ``kernel`` (``"flash"`` or ``"onepass"``)."""
    eager_cost, fused_cost = COSTS[kernel]
    eager = eager_cost.ms(layers, heads, batch, length) + fused_cost.ms(layers, heads, kept, length)
    return "eager" if eager < fused_cost.ms(layers, heads, batch, length) else "fused"


def describe() -> str:
    """The choice as the manifest records it."""
    return ("per batch, the cheaper exact path by runner/cost.py's model (the eager maps for short, full "
            "batches, the fused path otherwise)")
