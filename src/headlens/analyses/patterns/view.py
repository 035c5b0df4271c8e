"""The patterns section of the report, from the tables its statistics step saved."""

from __future__ import annotations

from ...render.encode import nums


TYPE_PREFIX = "pattern_is_"  # one-hot type of each map (Kovaleva et al. 2019): the head mean is the type's share


FEATURE_PREFIXES = ("pattern_", "feat_")


def patterns_view(head_means: dict[str, list], layers: int, heads: int) -> dict | None:
    """Per head, the share of each pattern type (metrics ``pattern_is_<type>``) and the most frequent type."""
    types = [m for m in head_means if m.startswith(TYPE_PREFIX)]
    if not types:
        return None
    k = layers * heads
    dominant = []
    for c in range(k):
        vals = [(head_means[m][c], m) for m in types if head_means[m][c] is not None]
        dominant.append(types.index(max(vals)[1]) if vals else None)
    per_layer = {m: nums([_mean(head_means[m][la * heads:(la + 1) * heads]) for la in range(layers)], 4) for m in types}
    features = [m for m in head_means if m.startswith(FEATURE_PREFIXES) and m not in types]
    return {"types": [m[len(TYPE_PREFIX):] for m in types], "metrics": types, "dominant": dominant,
            "per_layer": per_layer, "features": features}


def _mean(values) -> float | None:
    v = [x for x in values if x is not None]
    return sum(v) / len(v) if v else None
