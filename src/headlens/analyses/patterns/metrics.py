"""Attention pattern types of Kovaleva et al. (2019, "Revealing the Dark Secrets of BERT"), per sentence and head.

Kovaleva et al. sorted attention maps into five types with a CNN trained on ~400 hand-labelled
maps; the classifier was not released. This is a transparent replacement: four measurable
features of the token-level map and ordered rules with fixed thresholds (``THRESHOLDS``).

Features (per sentence and head, token level, special tokens kept as queries and keys):

======================  =====================================================================
pattern_special         mean over every query of its attention to special tokens ([CLS],
                        [SEP], <s>, </s>): the mass of the vertical stripes
pattern_diag            mean over word-token queries of their attention to the word tokens
                        at offsets -1 and +1: the mass of the two side diagonals
pattern_segment         pairs only: of the attention that the word tokens of a text give to
                        word tokens, the share that stays in their own text; the mean of that
                        share over the two texts (uniform attention gives exactly 0.5 whatever
                        the lengths); NaN for single sentences
pattern_entropy         mean over every query of its row entropy (nats) divided by
                        log N: 1 for uniform attention, 0 for one-hot rows
======================  =====================================================================

Rules, in this order (S, D, B, E the four features; the first that holds decides):

1. ``vertical_diagonal``: S >= 0.25 and D >= 0.25 and S + D >= 0.6
2. ``vertical``: S >= 0.5
3. ``diagonal``: D >= 0.5
4. ``block``: B >= 0.8 and E >= 0.7 (pairs only)
5. ``heterogeneous``: everything else

Each class is a one-hot metric ``pattern_is_<type>`` (1 when the map of that sentence and head
is of the type, else 0), so a head's mean over sentences is the share of its maps of that type
and a layer's mean over heads and sentences is the layer's distribution. See docs/patterns.md
for the reasons behind each threshold.
"""

from __future__ import annotations

from ...lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ...align.encode import OTHER_SPECIAL, WORD
from ...errors import ConfigError
from ...metrics.fused import KEY_SETS, Fused, FusedView
from ...metrics.registry import Metric, MetricSet
from ...metrics.view import AttentionView

ANALYSIS = "patterns"
METRICS = MetricSet(ANALYSIS)
TYPES = ("vertical", "diagonal", "vertical_diagonal", "block", "heterogeneous")
FEATURES = ("special", "diag", "segment", "entropy")
THRESHOLDS = {
    "vertical_min_special": 0.5,  # S: at least half of the attention on the special-token columns
    "diagonal_min_diag": 0.5,  # D: at least half of a word's attention on its two neighbours
    "mixed_min_each": 0.25,  # vertical+diagonal: each component visible (a quarter of the mass) ...
    "mixed_min_sum": 0.6,  # ... and together most of the mass
    "block_min_own": 0.8,  # B: 80% of the word attention stays in the query's own text (uniform: 0.5)
    "block_min_entropy": 0.7,  # E: broad inside the text (uniform in it: >= 0.75), not a +-3 window (~0.6 in 40 tokens)
}
NAN = float("nan")


def _diag_mass(v: AttentionView, words: torch.Tensor) -> torch.Tensor:
    """[B, H, N]: each query's attention to word tokens at offsets -1 and +1."""
    b, h, n, _ = v.attn.shape
    mass = torch.zeros(b, h, n, dtype=v.attn.dtype, device=v.attn.device)
    if n < 2:
        return mass
    w = words.to(v.attn.dtype)
    after = torch.diagonal(v.attn, offset=1, dim1=-2, dim2=-1)  # entry i: query i, key i + 1
    before = torch.diagonal(v.attn, offset=-1, dim1=-2, dim2=-1)  # entry i: query i + 1, key i
    mass[..., : n - 1] += after * w[:, None, 1:]
    mass[..., 1:] += before * w[:, None, : n - 1]
    return mass


def _own_text_share(v, words: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    """[B, H]: the balanced own-text share of word attention (pairs), NaN for single sentences, from
    each query's attention to the word tokens of each text ``mass`` [B, H, N, 2]."""
    seg = v.segment.long()
    b, h, n, _ = mass.shape
    own = mass.gather(-1, seg.clamp(min=0)[:, None, :, None].expand(b, h, n, 1)).squeeze(-1)  # [B, H, N]
    total = mass.sum(-1)
    per_text = []
    for s in (0, 1):  # ratio of sums: queries with little word attention weigh little
        q = (words & (seg == s)).to(mass.dtype)[:, None, :]
        per_text.append((own * q).sum(-1) / (total * q).sum(-1))  # NaN when the text has no word
    return (per_text[0] + per_text[1]) / 2


def _segment(v: AttentionView, words: torch.Tensor) -> torch.Tensor:
    if v.segment is None:
        raise ValueError("the pattern features need token segments")
    b, h, n, _ = v.attn.shape
    if not bool((v.segment == 1).any()):  # no pair in the batch
        return torch.full((b, h), NAN, dtype=v.attn.dtype, device=v.attn.device)
    seg = v.segment.long()
    members = torch.stack([(seg == 0) & words, (seg == 1) & words], dim=-1).to(v.attn.dtype)  # [B, N, 2]
    return _own_text_share(v, words, torch.bmm(v.attn.reshape(b, h * n, n), members).view(b, h, n, 2))


def _features(v: AttentionView) -> torch.Tensor:
    words = (v.kinds == WORD) & v.valid
    cm = v.column_mass()  # [B, H, N, 3]: mass on [CLS], on [SEP]s, on punctuation (shared with surface)
    special = cm[..., 0] + cm[..., 1]
    other = v.valid & (v.kinds == OTHER_SPECIAL)  # a special token that is neither [CLS] nor [SEP]
    if bool(other.any()):
        b, h, n, _ = v.attn.shape
        special = special + torch.bmm(v.attn.reshape(b, h * n, n), other.to(v.attn.dtype)[..., None]).view(b, h, n)
    s = v.query_mean(special, v.valid)
    d = v.query_mean(_diag_mass(v, words), words)
    e = v.query_mean(v.row_entropy(), v.valid) / torch.log(v.n.clamp_min(2.0))[:, None]
    return torch.stack([s, d, _segment(v, words), e], dim=-1)


FUSED_SETS = tuple(KEY_SETS["token"][k] for k in ("cls", "sep", "other_special", "segment0_words", "segment1_words"))


def _features_fused(v: FusedView) -> torch.Tensor:
    """The four features from masses, the +-1 pairs and the row entropy (no map)."""
    cls, sep, other, seg0, seg1 = FUSED_SETS
    words = (v.kinds == WORD) & v.valid
    w = words.to(v.dtype)[:, None, :]
    diag = torch.zeros_like(v.pair(1))
    diag[..., :-1] += v.pair(1)[..., :-1] * w[..., 1:]
    diag[..., 1:] += v.pair(-1)[..., 1:] * w[..., :-1]
    s = v.query_mean(v.mass(cls) + v.mass(sep) + v.mass(other), v.valid)
    d = v.query_mean(diag, words)
    if bool((v.segment == 1).any()):
        seg = _own_text_share(v, words, torch.stack([v.mass(seg0), v.mass(seg1)], dim=-1))
    else:
        seg = torch.full_like(s, NAN)
    e = v.query_mean(v.entropy(), v.valid) / torch.log(v.n.clamp_min(2.0))[:, None]
    return torch.stack([s, d, seg, e], dim=-1)


def pattern_features(v) -> torch.Tensor:
    """[B, H, 4]: special, diag, segment, entropy (see the module docstring); memoised on the view."""
    return v._memo("pattern_features", lambda: _features_fused(v) if isinstance(v, FusedView) else _features(v))


def check_thresholds(changes: dict[str, float] | None) -> dict[str, float]:
    """THRESHOLDS with ``changes`` applied (unknown names and values outside [0, 2] are errors)."""
    changes = dict(changes or {})
    unknown = sorted(set(changes) - set(THRESHOLDS))
    if unknown:
        raise ConfigError(f"unknown pattern threshold(s) {unknown}; known: {', '.join(THRESHOLDS)}.")
    bad = {k: v for k, v in changes.items() if not isinstance(v, (int, float)) or not 0 <= v <= 2}
    if bad:
        raise ConfigError(f"pattern thresholds must be numbers in [0, 2] (shares, sums of shares): got {bad}.")
    return {**THRESHOLDS, **{k: float(v) for k, v in changes.items()}}


def classify(features: torch.Tensor, thresholds: dict[str, float] | None = None) -> torch.Tensor:
    """long [...]: the index in TYPES of each map from its features [..., 4] (NaN segment: not a pair)."""
    t = thresholds or THRESHOLDS
    s, d, b, e = features.unbind(-1)
    out = torch.full(s.shape, TYPES.index("heterogeneous"), dtype=torch.long, device=features.device)
    rules = [  # first match wins: fill in reverse order so that earlier rules overwrite later ones
        ("vertical_diagonal", (s >= t["mixed_min_each"]) & (d >= t["mixed_min_each"]) & (s + d >= t["mixed_min_sum"])),
        ("vertical", s >= t["vertical_min_special"]),
        ("diagonal", d >= t["diagonal_min_diag"]),
        ("block", (b >= t["block_min_own"]) & (e >= t["block_min_entropy"])),  # NaN compares False
    ]
    for name, holds in reversed(rules):
        out = torch.where(holds, TYPES.index(name), out)
    return out


def _types(v: AttentionView) -> torch.Tensor:
    return v._memo("pattern_types", lambda: classify(pattern_features(v)))


def _feature(k: int):
    return lambda v: pattern_features(v)[..., k]


def _is(k: int):
    return lambda v: (_types(v) == k).to(v.dtype)


DESCRIPTIONS = {
    "special": "pattern feature: mean attention to the special tokens (vertical mass)",
    "diag": "pattern feature: mean attention of words to the neighbouring words (+-1 diagonals)",
    "segment": "pattern feature: balanced share of word attention kept in the own text (pairs; 0.5 uniform)",
    "entropy": "pattern feature: mean row entropy / log N (1 uniform)",
}
for _k, _name in enumerate(FEATURES):
    METRICS.add(Metric(f"pattern_{_name}", "token", DESCRIPTIONS[_name], _feature(_k), ANALYSIS,
                    need=Fused(_feature(_k), FUSED_SETS, entropy=True)))
for _k, _name in enumerate(TYPES):
    METRICS.add(Metric(f"pattern_is_{_name}", "token", f"1 when the map is of type {_name} (Kovaleva et al. 2019), else 0",
                    _is(_k), ANALYSIS, need=Fused(_is(_k), FUSED_SETS, entropy=True)))
