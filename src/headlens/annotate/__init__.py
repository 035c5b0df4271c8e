"""Word annotation: gold CoNLL-U, spaCy, or regex words; cached on disk."""

from .annotators import ANNOTATORS, DEFAULT_SPACY_MODEL, Annotation, RegexAnnotator, SpacyAnnotator, make_annotator
from .cache import AnnotationCache, default_cache_dir

__all__ = [
    "ANNOTATORS",
    "DEFAULT_SPACY_MODEL",
    "Annotation",
    "AnnotationCache",
    "RegexAnnotator",
    "SpacyAnnotator",
    "default_cache_dir",
    "make_annotator",
]
