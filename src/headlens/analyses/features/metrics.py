"""Attention to features of interest (Kovaleva et al. 2019, section 4.3), per sentence and head.

For a feature (a set of units of the sentence), the attention a unit j receives is the mean over
every query unit i of a_ij (word level: the run's ``--word-aggregation``, Clark's by default, so
attention to a word is the sum over its sub-tokens and each row still sums to 1); the
sentence's value is the MAXIMUM over the feature's units. A sentence without a unit of the
feature gets NaN (no row) and is skipped, as Kovaleva et al. skip it.

==================  ==========================================================================
feat_recv_noun      words tagged NOUN or PROPN (UPOS)
feat_recv_verb      words tagged VERB (UPOS; auxiliaries, AUX, are not verbs here)
feat_recv_pronoun   words tagged PRON (UPOS)
feat_recv_subject   dependents of a subject arc: relation ``subj`` = nsubj and its subtypes
                    (UD nsubj:pass) and spaCy's nsubjpass (see metrics/arcs.py)
feat_recv_object    dependents of a direct-object arc: obj (UD) / dobj (spaCy)
feat_recv_negation  words whose lower-cased form is in NEGATION_WORDS, or whose dependency label
                    is ``neg`` (spaCy's ClearNLP scheme labels not / n't / never so)
feat_recv_cls       the [CLS] unit
feat_recv_sep       the [SEP] units (max over them: a pair has two)
==================  ==========================================================================

Tags and arcs come from the annotation (gold CoNLL-U or spaCy); words without a tag or arc
are in no feature. UD's feature ``Polarity=Neg`` is not read (the corpus records keep no
morphological features); in English it marks the same closed class the word list holds.
"""

from __future__ import annotations

from ...lazy import torch  # imported on first use: the names register without torch (headlens.lazy)

from ...align.encode import CLS, SEP
from ...corpus.types import Word
from ..categories.metrics import UPOS_CODE
from ...metrics.fused import Fused, FusedView
from ...metrics.lexicon import NEGATION_DEPREL, NEGATION_WORDS, is_negation  # noqa: F401 - the batch marks them
from ...metrics.registry import Metric, MetricSet
from ...metrics.view import AttentionView

ANALYSIS = "features"
METRICS = MetricSet(ANALYSIS)
SUBJECT, OBJECT = "subj", "obj"  # relations as metrics/arcs.py matches them
NAN = float("nan")


def received(v: AttentionView) -> torch.Tensor:
    """[B, H, U]: attention each unit receives, the mean over the valid query units (memoised)."""

    def compute():
        queries = v.valid.to(v.attn.dtype)
        return torch.einsum("bhij,bi->bhj", v.attn, queries) / v.n[:, None, None]

    return v._memo("received", compute)


def max_received(v: AttentionView, units: torch.Tensor) -> torch.Tensor:
    """[B, H]: the most attention any unit of ``units`` (bool [B, U]) receives; NaN without such a unit."""
    units = units & v.valid
    r = (v.received() if isinstance(v, FusedView) else received(v)).masked_fill(~units[:, None, :], float("-inf")).amax(-1)
    return r.masked_fill(~units.any(-1)[:, None], NAN)


def _upos(*tags: str):
    codes = [UPOS_CODE[t] for t in tags]

    def units(v: AttentionView) -> torch.Tensor:
        if v.upos is None:
            raise ValueError("the features of interest need a word view with UPOS codes")
        return torch.isin(v.upos.long(), torch.tensor(codes, device=v.upos.device))

    return units


def _dependents(relation: str):
    def units(v: AttentionView) -> torch.Tensor:
        if v.arcs is None:
            raise ValueError(f"the {relation} feature needs the batch's dependency arcs")
        selected = v.arcs.weights[(relation, "d2h")] > 0  # [B, K]: the relation's arcs (padding slots are 0)
        hits = torch.zeros(v.valid.shape, dtype=torch.int32, device=v.valid.device)
        return hits.scatter_add_(1, v.arcs.dep, selected.to(torch.int32)) > 0  # the arcs' dependent units

    return units


def _negation(v: AttentionView) -> torch.Tensor:
    if v.negation is None:
        raise ValueError("the negation feature needs a word view with negation flags")
    return v.negation


FEATURES = {
    "noun": (_upos("NOUN", "PROPN"), "nouns (NOUN, PROPN)", {}),
    "verb": (_upos("VERB"), "verbs (VERB)", {}),
    "pronoun": (_upos("PRON"), "pronouns (PRON)", {}),
    "subject": (_dependents(SUBJECT), "subjects (nsubj, nsubj:pass, nsubjpass dependents)", {"relation": SUBJECT}),
    "object": (_dependents(OBJECT), "direct objects (obj / dobj dependents)", {"relation": OBJECT}),
    "negation": (_negation, "negation words (word list or dependency label neg)", {}),
    "cls": (lambda v: v.kinds == CLS, "[CLS]", {}),
    "sep": (lambda v: v.kinds == SEP, "[SEP]s", {}),
}


def _metric(units):
    return lambda v: max_received(v, units(v))


for _name, (_units, _what, _params) in FEATURES.items():
    METRICS.add(Metric(f"feat_recv_{_name}", "word", f"attention received by {_what}: max over them, mean over queries",
                    _metric(_units), ANALYSIS, _params, need=Fused(_metric(_units), received=True)))
