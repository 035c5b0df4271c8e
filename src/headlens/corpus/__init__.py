"""Corpus readers: plain text, CoNLL-U, TSV and JSONL, all streamed."""

from .reader import FORMATS, Corpus, CorpusSpec, fingerprint, read_corpus
from .types import ROOT, Sentence, Skipped, Word

__all__ = ["FORMATS", "ROOT", "Corpus", "CorpusSpec", "Sentence", "Skipped", "Word", "fingerprint", "read_corpus"]
