"""The smallest change worth reporting for each metric, in the metric's own units (its *margin*).

Four scales (see docs/finetuning.md, "The margin"):

- ``nats``: row entropies (``entropy``, ``cls_entropy``, ``word_entropy``, ``word_cls_entropy``):
  an absolute margin in nats (default 0.02: the effective number of attended tokens,
  exp(entropy), changes by 2%);
- ``relative``: unbounded positive scores (sieve scores ``role_*``, value norms ``dec_fnorm*``,
  dependency-head counts ``dep_*``): a fraction of the head's |mean before| (default 0.02);
- ``word``: the lexical-category metrics ``cat_*``, means over a category's words of the weight
  each receives (``cat_pref`` a difference of two): an absolute margin (default 0.001: one point
  of attention mass moved onto a category's ~9 words raises their mean by about that);
- ``mass``: everything else, attention proportions in [0, 1] (shares such as ``pattern_is_*``;
  ratios such as ``dec_mix_*``): an absolute margin (default 0.01, one percentage point).

``--margin NAME=X`` sets one metric's margin (absolute, in its units) whatever its scale; a metric
on another scale than these (a plugin's) should be given one.
"""

from __future__ import annotations

import re

import numpy as np

from ...errors import ConfigError

SCALES = ("mass", "word", "nats", "relative")
_NATS = re.compile(r"(word_)?(cls_)?entropy")
_RELATIVE = ("role_", "dec_fnorm", "dep_")


def scale_of(metric: str) -> str:
    if _NATS.fullmatch(metric):
        return "nats"
    if metric.startswith("cat_"):
        return "word"
    return "relative" if metric.startswith(_RELATIVE) else "mass"


def parse_overrides(items: tuple[str, ...]) -> dict[str, float]:
    """``("entropy=0.05", ...)`` -> {"entropy": 0.05}; ConfigError naming the bad item."""
    out = {}
    for item in items:
        name, _, value = (x.strip() for x in item.partition("="))
        try:
            number = float(value) if name else float("nan")
        except ValueError:
            number = float("nan")
        if not number >= 0:
            raise ConfigError(f"--margin {item!r}: give METRIC=X with X >= 0 in the metric's units, "
                              "e.g. --margin entropy=0.05,prev=0.02.")
        out[name] = number
    return out


def margins(metric: str, before_mean: np.ndarray, settings) -> np.ndarray:
    """The margin of each head (or layer) of ``metric``; ``before_mean``: its mean before the change."""
    before_mean = np.asarray(before_mean, dtype=np.float64)
    override = parse_overrides(settings.margins).get(metric)
    if override is not None:
        return np.full(before_mean.shape, override)
    scale = scale_of(metric)
    if scale == "relative":
        return settings.margin_relative * np.abs(np.nan_to_num(before_mean, nan=0.0))
    absolute = {"mass": settings.margin_mass, "word": settings.margin_word, "nats": settings.margin_nats}[scale]
    return np.full(before_mean.shape, absolute)


def describe(settings) -> str:
    return (f"margin: {settings.margin_mass:g} for attention proportions, {settings.margin_word:g} for the category "
            f"metrics' per-word weights, {settings.margin_nats:g} nats for entropies, "
            f"{settings.margin_relative:g} x |mean before| for sieve scores, norms and counts"
            + (f"; set: {', '.join(settings.margins)}" if settings.margins else ""))
