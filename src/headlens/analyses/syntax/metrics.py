"""Dependency-head accuracy of every attention head (Clark et al. 2019, section 4.2), per sentence.

``dep_<rel>_d2h``: the number of arcs with relation ``rel`` in the sentence whose dependent's
most-attended word (the argmax of its word-level attention row) is its gold head.
``dep_<rel>_h2d``: the number of those arcs whose dependent is attended most by its gold head
among all words (the argmax of the dependent's column: Clark's "transpose" mode).

Word-level attention follows the run's ``--word-aggregation`` (Clark's by default: to a word =
sum over its sub-tokens, from a word = mean). The argmax ignores the word itself and every
special unit ([CLS], [SEP]); ties go to the first word. Arcs are those with both ends present
as word units (root arcs and words without tokens are left out; see ``metrics/arcs.py`` for the
relation matching: subtypes, obj/dobj, ``all`` = every arc except punct).

The values are COUNTS, not rates: a corpus-level (micro) accuracy is sum(counts) / sum(arcs)
over sentences, and the arc counts and fixed-offset baseline counts are stored once per
sentence by the ``syntax`` collector (``collect/baselines.py``). A sentence without an arc of
the relation gets NaN (no row). Clark's special case for ``poss`` (the possessive 's) is not
applied: UD attaches 's to the possessor, so the gold arc is scored as it is.
"""

from __future__ import annotations

import re

from ...lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ...align.encode import WORD
from ...errors import ConfigError
from ...metrics.arcs import EVERY
from ...metrics.fused import Rows
from ...metrics.registry import Metric, MetricFamily, MetricSet
from ...metrics.view import AttentionView

ANALYSIS = "syntax"
DIRECTIONS = ("d2h", "h2d")
# Clark et al.'s Table 1 relations in UD v2 names (poss = nmod:poss, auxpass = aux:pass, pobj ~ obl)
SYNTAX_RELATIONS = ("nsubj", "obj", "det", "nmod:poss", "aux:pass", "amod", "advmod", "aux", "case", "compound",
                    "mark", "cc", "conj", "obl", "nmod", "ccomp", "xcomp", "advcl", "acl", "nummod", "all")
LABEL = r"[A-Za-z]+(?::[A-Za-z]+)?"
PATTERN = rf"dep_(?P<relation>{LABEL})_(?P<direction>d2h|h2d)"


def predicted(v: AttentionView, direction: str) -> torch.Tensor:
    """long [B, H, K]: for each arc slot, the unit the dependent attends to most (d2h) or that
    attends most to the dependent (h2d); memoised on the view, shared by every relation."""

    def compute():
        a = v.attn if direction == "d2h" else v.attn.transpose(-1, -2)
        b, h, u, _ = a.shape
        dep = v.arcs.dep
        rows = a.gather(2, dep[:, None, :, None].expand(b, h, dep.shape[1], u))  # [B, H, K, U]
        words = (v.valid & (v.kinds == WORD))[:, None, None, :]
        other = torch.arange(u, device=dep.device)[None, None, None, :] != dep[:, None, :, None]
        return rows.masked_fill(~(words & other), float("-inf")).argmax(-1)

    return v._memo(("dependency_argmax", direction), compute)


def accuracy_count(relation: str, direction: str):
    def score(v: AttentionView) -> torch.Tensor:
        if v.arcs is None:
            raise ValueError("dependency accuracy needs the batch's arcs on the word view")
        selected = v.arcs.weights[(relation, "d2h")] > 0  # [B, K]: the relation's arcs
        hit = (predicted(v, direction) == v.arcs.head[:, None, :]) & selected[:, None, :]
        out = hit.sum(-1).to(v.dtype)
        return out.masked_fill(~selected.any(-1)[:, None], float("nan"))

    return score


def _metric(m: re.Match) -> Metric:
    rel, direction = m["relation"], m["direction"]
    what = "its dependent attends most to the head" if direction == "d2h" else "the head attends most to its dependent"
    return Metric(m.group(0), "word", f"count of {rel} arcs where {what} (word level)", accuracy_count(rel, direction),
                  ANALYSIS, {"relation": rel, "direction": direction}, need=Rows((f"dependency_argmax_{direction}",)))


def check_relations(relations) -> tuple[str, ...]:
    bad = [r for r in relations if not re.fullmatch(LABEL, str(r)) and r != "all"]
    if bad or not relations:
        raise ConfigError(f"syntax relations {list(bad) or '(none)'} are not dependency labels (e.g. nsubj, nmod:poss, obj, all).")
    return tuple(dict.fromkeys(relations))


def syntax_relations(options=None) -> tuple[str, ...]:
    """The relations counted with ``options`` (a SyntaxOptions: relations; default SYNTAX_RELATIONS);
    under ``replicate="clark2019"`` also ``every`` (every arc, punct too), from which Clark et al.'s
    "all" is computed (analyses/syntax/clark.py)."""
    relations = check_relations((options.relations if options is not None else ()) or SYNTAX_RELATIONS)
    if getattr(options, "replicate", "none") == "clark2019" and "all" in relations and EVERY not in relations:
        relations += (EVERY,)
    return relations


def syntax_metric_names(options=None) -> list[str]:
    """The metrics of ``--analyses syntax`` with ``options`` (a SyntaxOptions)."""
    return [f"dep_{r}_{d}" for r in syntax_relations(options) for d in DIRECTIONS]


METRICS = MetricSet(ANALYSIS, syntax_metric_names)
METRICS.family(MetricFamily(ANALYSIS, PATTERN, _metric, "dep_<rel>_<d2h|h2d>",
                            "dependency-head accuracy count of a relation (UD label or 'all'), d2h or h2d"))
