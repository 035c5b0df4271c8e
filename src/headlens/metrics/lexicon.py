"""Word classes the batch encodes as tensors for the analyses' metrics: UPOS codes (categories)
and negation words (features of interest)."""

from __future__ import annotations

from ..corpus.types import Word

UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X")
UPOS_CODE = {tag: k for k, tag in enumerate(UPOS)}
NEGATION_WORDS = frozenset({"not", "n't", "nt", "no", "never", "nor", "neither", "none", "nobody", "nothing",
                            "nowhere", "cannot"})
NEGATION_DEPREL = "neg"


def upos_codes(tags) -> list[int]:
    """UPOS code per tag (-1 for None or a tag outside UD's 17)."""
    return [UPOS_CODE.get(t, -1) if t is not None else -1 for t in tags]


def is_negation(word: Word) -> bool:
    return word.form.lower() in NEGATION_WORDS or (word.deprel or "").split(":")[0] == NEGATION_DEPREL
