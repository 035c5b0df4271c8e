"""Which exact path a batch takes under ``attention="auto"``: the cheaper one by a calibrated cost model.

Both paths compute the same numbers (tests/test_fused.py); they differ in where the work goes. The
eager path forms each layer's map [B, H, T, T] and reduces every metric from it, one call per metric
and layer: cheap while the map is small. The fused path pads q and k to the width of
``[V | K | key-set columns]`` for one kernel call and reduces stacks of layers from per-row
quantities and a band of pairs: its cost grows with B H T, the eager one's with B H T^2.

Per batch, in milliseconds of one CPU thread, with L layers, H heads, B sentences padded to T tokens:
``cost = L (per_layer + H B T (per_token / 1e3 + per_entry T / 1e6))``. The coefficients are a
least-squares fit (relative error) to ``Engine.score`` CPU times of MiniLM (6 x 12) with the default
analyses on 1 thread, T from 16 to 124 and B from 8 to 128 (docs/performance.md, 2026-12-04 21:20
UTC; ``benchmarks/calibrate_paths.py``): the eager path is the cheaper below T of about 90 for
full batches, the fused one for a batch of a few sentences (fewer calls: its metrics reduce several
layers at once) and from about 90 tokens on. The fit predicted the cheaper path of 18 of the 20
measured batches; the two it missed differed by 3 and 4%. Surface alone gave the same ratios (0.76
to 0.93 below T = 62).

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


EAGER = PathCost(per_layer=7.41, per_token=2.11, per_entry=21.2)
FUSED = PathCost(per_layer=3.86, per_token=3.58, per_entry=5.56)


def cheaper(layers: int, heads: int, batch: int, length: int, kept: int = 0) -> str:
    """``"eager"`` or ``"fused"``: the path with the lower modelled cost for a batch of ``batch``
    sentences padded to ``length`` tokens, ``kept`` of whose maps are stored."""
    eager = EAGER.ms(layers, heads, batch, length) + FUSED.ms(layers, heads, kept, length)
    return "eager" if eager < FUSED.ms(layers, heads, batch, length) else "fused"


def describe() -> str:
    """The choice as the manifest records it."""
    return ("per batch, the cheaper exact path by runner/cost.py's model (eager maps for short padded "
            "lengths and full batches, the fused kernel otherwise)")
