"""Sieve scores of head roles (Pande et al. 2021, "The Heads Hypothesis"), per sentence and head.

score = mean over the role's query tokens i of [ mean over the sieve set S_i of alpha_ij ] / (1/N),
with N the number of tokens including the special ones, so that uniform attention scores
exactly 1 for every role. Token level, special tokens kept in N as in the original.

==================  ==============================  =============================================
metric              queries                         sieve set S_i
==================  ==============================  =============================================
role_local_w<k>     every token                     tokens i-k .. i+k clipped to the sequence
role_delim          every token                     [CLS] and every [SEP]
role_delim_cls      every token                     [CLS]
role_delim_sep      every token                     every [SEP]
role_block          tokens of a pair's two texts    non-special tokens of the query's own text
role_block_h        same                            same, times the row entropy H(alpha_i) in
                                                    nats (the original's weighting; not 1 under
                                                    uniform attention, hence not the default)
role_syn_<r>_d2h    dependent word of each arc r    its head word
role_syn_<r>_h2d    head word of arcs r             its dependents with relation r
==================  ==============================  =============================================

Syntactic scores use word-to-word attention averaged over the sub-tokens on both sides
(``AttentionView.mean_word_attention``, read at the arcs by ``arc_attention``), whatever
``--word-aggregation`` is. A sentence without the role's keys or queries (no arc of the
relation, a single sentence for ``block``) gets NaN and does not enter that role's test.
"""

from __future__ import annotations

import re

from ...lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ...align.encode import CLS, SEP
from ...errors import ConfigError
from ...metrics.arcs import DEFAULT_RELATIONS, DIRECTIONS, pair_means
from ...metrics.fused import KEY_SETS, Fused, FusedView
from ...metrics.registry import Metric, MetricFamily, MetricSet
from ...metrics.view import AttentionView

ANALYSIS = "roles"
METRICS = MetricSet(ANALYSIS)  # its metric list follows from RolesOptions (role_metric_names, below)
DEFAULT_WINDOW = 2
NAN = float("nan")


def _relative(v: AttentionView, set_mass: torch.Tensor, set_size: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """Mean over ``queries`` of (mass on S_i / |S_i|) / (1 / N); set_mass [B, H, N], set_size [B, N]."""
    per_query = set_mass / set_size.clamp(min=1).unsqueeze(1) * v.n[:, None, None]
    out = v.query_mean(per_query, queries)
    undefined = ~((set_size > 0) & queries).any(-1)  # [B]: no query with a non-empty sieve
    return out.masked_fill(undefined[:, None], NAN)


def _window_size(v, width: int, bug: bool = False) -> torch.Tensor:
    """[B, N]: tokens in the window i-k .. i+k clipped to the sentence. ``bug``: Pande et al.'s
    count (local_score.ipynb, calc_score_band2: ``min(token+k, sent_len) + 1 - max(0, token-k)``),
    one too many for the last k tokens (docs/fidelity.md, B1)."""
    i = torch.arange(v.valid.shape[1], device=v.valid.device)
    last = v.valid.sum(-1, keepdim=True) - 1  # [B, 1]
    return (torch.minimum(i + width, last + 1 if bug else last) - (i - width).clamp(min=0) + 1).to(v.dtype)


def local(width: int, bug: bool = False):
    def score(v: AttentionView) -> torch.Tensor:
        b, h, n, _ = v.attn.shape
        mass = torch.zeros(b, h, n, dtype=v.attn.dtype, device=v.attn.device)
        for d in range(-min(width, n - 1), min(width, n - 1) + 1):
            diag = torch.diagonal(v.attn, offset=d, dim1=-2, dim2=-1)  # query i, key i + d
            if d >= 0:
                mass[..., : n - d] += diag
            else:
                mass[..., -d:] += diag
        return _relative(v, mass, _window_size(v, width, bug), v.valid)

    return score


def local_fused(width: int, bug: bool = False) -> Fused:
    def score(v: FusedView) -> torch.Tensor:
        n = v.valid.shape[1]
        mass = sum(v.pair(d) for d in range(-min(width, n - 1), min(width, n - 1) + 1))
        return _relative(v, mass, _window_size(v, width, bug), v.valid)

    return Fused(score)


def _delimiter_size(v, cls: bool, sep: bool) -> torch.Tensor:
    size = ((v.kinds == CLS) & v.valid).sum(-1) * cls + ((v.kinds == SEP) & v.valid).sum(-1) * sep
    return size.to(v.dtype)[:, None].expand_as(v.valid)


def delimiter(cls: bool, sep: bool):
    def score(v: AttentionView) -> torch.Tensor:
        cm = v.column_mass()
        return _relative(v, cm[..., 0] * cls + cm[..., 1] * sep, _delimiter_size(v, cls, sep), v.valid)

    return score


def delimiter_fused(cls: bool, sep: bool) -> Fused:
    sets = tuple(KEY_SETS["token"][name] for name, on in (("cls", cls), ("sep", sep)) if on)

    def score(v: FusedView) -> torch.Tensor:
        return _relative(v, sum(v.mass(ks) for ks in sets), _delimiter_size(v, cls, sep), v.valid)

    return Fused(score, sets)


def _own_text(v, mass: torch.Tensor, entropy: torch.Tensor | None, pande: bool = False) -> torch.Tensor:
    """The block sieve from each query's mass on the two texts [B, H, N, 2] (NaN for single sentences).
    ``pande``: the special tokens are queries too, [CLS] of the first text and every [SEP] of the
    second (block_score.ipynb, calc_block_attn_score: ``tok_id < sep1_idx`` picks the first text)."""
    seg = v.segment.long()
    b, h, n, _ = mass.shape
    own = seg.clamp(min=0)  # [B, N]: the query's own text
    queries = (seg >= 0) & v.valid
    if pande:
        own = torch.where(seg >= 0, seg, (v.kinds == SEP).long())
        queries = v.valid
    own_mass = mass.gather(-1, own[:, None, :, None].expand(b, h, n, 1)).squeeze(-1)
    members = torch.stack([seg == 0, seg == 1], dim=-1).to(v.dtype)  # [B, N, 2]
    size = members.sum(1).gather(-1, own)  # [B, N]
    if entropy is not None:
        own_mass = own_mass * entropy
    out = _relative(v, own_mass, size, queries)
    return out.masked_fill(~(v.segment == 1).any(-1)[:, None], NAN)


def block(entropy_weighted: bool, pande: bool = False):
    def score(v: AttentionView) -> torch.Tensor:
        if v.segment is None:
            raise ValueError("the block role needs token segments")
        b, h, n, _ = v.attn.shape
        if not bool((v.segment == 1).any()):  # the role is defined for sentence pairs only
            return torch.full((b, h), NAN, dtype=v.attn.dtype, device=v.attn.device)
        seg = v.segment.long()
        members = torch.stack([seg == 0, seg == 1], dim=-1).to(v.attn.dtype)  # [B, N, 2]
        mass = torch.bmm(v.attn.reshape(b, h * n, n), members).view(b, h, n, 2)
        return _own_text(v, mass, torch.special.entr(v.attn).sum(-1) if entropy_weighted else None, pande)

    return score


def block_fused(entropy_weighted: bool, pande: bool = False) -> Fused:
    sets = (KEY_SETS["token"]["segment0"], KEY_SETS["token"]["segment1"])

    def score(v: FusedView) -> torch.Tensor:
        if not bool((v.segment == 1).any()):
            return torch.full((v.valid.shape[0], v.layer.q.shape[1]), NAN, dtype=v.dtype, device=v.valid.device)
        mass = torch.stack([v.mass(ks) for ks in sets], dim=-1)
        return _own_text(v, mass, v.entropy() if entropy_weighted else None, pande)

    return Fused(score, sets, entropy=entropy_weighted)


def first_occurrence_attention(v, direction: str) -> torch.Tensor:
    """[B, H, K]: ``arc_attention`` with each arc end's tokens replaced by the first token of the
    segment with the same id (Pande et al.'s list.index, B2), on both views; memoised on the view."""

    def compute():
        arcs = v.arcs
        query, key = ((arcs.pair_dep_first, arcs.pair_head_first) if direction == "d2h"
                      else (arcs.pair_head_first, arcs.pair_dep_first))
        if isinstance(v, FusedView):
            p = v.layer.gather(query, key)
        else:
            b, h, n, _ = v.attn.shape
            p = v.attn.reshape(b, h, n * n).gather(2, (query * n + key)[:, None, :].expand(b, h, -1))
        return pair_means(p, arcs)

    return v._memo(("arc_attention_first", direction), compute)


def syntactic(relation: str, direction: str, per_arc: bool = False, first: bool = False):
    """Works on both views: the arcs' word attention comes from the map or from the arcs' token pairs.
    ``per_arc``: a mean over the arcs (the d2h weights, one per arc) whatever the direction, as
    Pande et al.'s Heads1.get_score averages h2d (``--role-h2d arc``). ``first``: arc ends at the
    first occurrence of their tokens (``--role-bug-compatible``, B2)."""

    def score(v: AttentionView) -> torch.Tensor:
        if v.arcs is None:
            raise ValueError("the syntactic roles need the batch's arcs")
        values = first_occurrence_attention(v, direction) if first else v.arc_attention(direction)  # [B, H, K]
        weights = v.arcs.weights[(relation, "d2h" if per_arc else direction)]
        out = (values * weights[:, None, :]).sum(-1) * v.n[:, None]
        return out.masked_fill((weights.sum(-1) == 0)[:, None], NAN)

    return score


FIXED = {
    "role_delim": (delimiter(True, True), delimiter_fused(True, True),
                   "sieve score: attention to [CLS] and [SEP]s relative to uniform"),
    "role_delim_cls": (delimiter(True, False), delimiter_fused(True, False),
                       "sieve score: attention to [CLS] relative to uniform"),
    "role_delim_sep": (delimiter(False, True), delimiter_fused(False, True),
                       "sieve score: attention to [SEP]s relative to uniform"),
    "role_block": (block(False), block_fused(False),
                   "sieve score: attention to the query's own text of a pair relative to uniform"),
    "role_block_h": (block(True), block_fused(True), "block sieve score times the row entropy (Pande et al.'s weighting)"),
}
for _name, (_fn, _fused, _desc) in FIXED.items():
    METRICS.add(Metric(_name, "token", _desc, _fn, ANALYSIS, need=_fused))

LOCAL_PATTERN = r"role_local_w(?P<width>[0-9]+)"
SYN_PATTERN = r"role_syn_(?P<relation>[A-Za-z]+(?::[A-Za-z]+)?)_(?P<direction>d2h|h2d)"


def _local_metric(m: re.Match) -> Metric:
    width = int(m["width"])
    if width < 1:
        raise ConfigError(f"{m.group(0)}: the local window width must be at least 1.")
    return Metric(m.group(0), "token", f"sieve score: attention to tokens within +-{width} relative to uniform",
                  local(width), ANALYSIS, {"width": width}, need=local_fused(width))


def _syn_metric(m: re.Match) -> Metric:
    rel, direction = m["relation"], m["direction"]
    what = "dependent -> head" if direction == "d2h" else "head -> dependents"
    fn = syntactic(rel, direction)
    return Metric(m.group(0), "token", f"sieve score: {what} attention along {rel} arcs relative to uniform",
                  fn, ANALYSIS, {"relation": rel, "direction": direction}, need=Fused(fn))


METRICS.family(MetricFamily(ANALYSIS, LOCAL_PATTERN, _local_metric, "role_local_w<k>", "local window of +-k tokens"))
METRICS.family(MetricFamily(ANALYSIS, SYN_PATTERN, _syn_metric, "role_syn_<rel>_<d2h|h2d>",
                             "dependency relation (UD or spaCy label, or 'all') and direction d2h|h2d"))


def role_metric_names(options=None) -> list[str]:
    """The metrics of ``--analyses roles`` with ``options`` (a RolesOptions: window, relations; None: defaults)."""
    width = options.window if options is not None else DEFAULT_WINDOW
    relations = options.relations if options is not None else DEFAULT_RELATIONS
    for rel in relations:
        if not re.fullmatch(r"[A-Za-z]+(?::[A-Za-z]+)?", str(rel)):
            raise ConfigError(f"relation {rel!r} is not a dependency label (e.g. nsubj, nmod:poss, dobj, all).")
    syn = [f"role_syn_{r}_{d}" for r in relations for d in DIRECTIONS]
    per_arc = options is not None and options.h2d == "arc"  # Pande et al.'s mean over arcs (docs/fidelity.md, D7)
    if options is not None and options.bug_compatible:  # arc ends by list.index (docs/fidelity.md, B2)
        syn = [_pande(name, per_arc, True) for name in syn]
    elif per_arc:
        syn = [_pande(name, True, False) if name.endswith("_h2d") else name for name in syn]
    local_metric = f"role_local_w{width}"
    if options is not None and options.bug_compatible:  # Pande et al.'s window count (docs/fidelity.md, B1)
        local_metric = Metric(local_metric, "token", f"sieve score: attention to tokens within +-{width} relative to "
                              "uniform, with Pande et al.'s window count at the sequence end (--role-bug-compatible)",
                              local(width, True), ANALYSIS, {"width": width}, need=local_fused(width, True))
    fixed = list(FIXED)
    if options is not None and options.replicate == "pande2021":  # the original's block queries (docs/fidelity.md, D8)
        fixed = [_pande_block(name) if name.startswith("role_block") else name for name in fixed]
    return [local_metric, *fixed, *syn]


def _pande_block(name: str) -> Metric:
    weighted = name == "role_block_h"
    return Metric(name, "token", f"{FIXED[name][2]}; [CLS] and the [SEP]s are queries too (Pande et al.'s "
                  "calc_block_attn_score: --replicate pande2021)", block(weighted, True), ANALYSIS,
                  need=block_fused(weighted, True))


def _pande(name: str, per_arc: bool, first: bool) -> Metric:
    """A syntactic metric with Pande et al.'s averaging over arcs (h2d, ``per_arc``) and/or arc ends
    by first occurrence (``first``, B2)."""
    m = re.fullmatch(SYN_PATTERN, name)
    rel, direction = m["relation"], m["direction"]
    fn = syntactic(rel, direction, per_arc=per_arc and direction == "h2d", first=first)
    what = "dependent -> head" if direction == "d2h" else "head -> dependent"
    how = (", mean over arcs (--role-h2d arc)" if per_arc and direction == "h2d" else "") + (
        ", arc ends at the first occurrence of their tokens (--role-bug-compatible)" if first else "")
    return Metric(name, "token", f"sieve score: {what} attention along {rel} arcs relative to uniform{how} "
                  "(Pande et al.'s code)", fn, ANALYSIS, {"relation": rel, "direction": direction}, need=Fused(fn))


METRICS.expand_with(role_metric_names)
