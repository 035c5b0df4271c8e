"""The front half of every job that runs a model over a corpus, in one streaming stage:
corpus -> sentences with words (annotation) -> encoded batches (alignment and encoding, masking,
length-sorted batch planning).

``headlens run`` (pipeline.py), ``compare-models`` (modelcompare/job.py) and the probes
(analyses/probe/data.py) all read their batches from a ``FrontHalf``; nothing else builds one.
It reads the corpus once, lazily: only the batches asked for are formed, and memory stays
bounded by the sort window. The batches are a deterministic function of the corpus, the
tokenizer and the settings, which ``--resume`` relies on (store/resume.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cached_property
from itertools import chain

from ..align.encode import Encoded, Encoder
from ..annotate import DEFAULT_SPACY_MODEL, Annotation, AnnotationCache, make_annotator
from ..corpus.reader import Corpus, CorpusSpec, fingerprint
from ..corpus.types import Skipped
from ..errors import CorpusError
from .batching import plan_batches
from .masking import mask_stream


class FrontHalf:
    """Corpus -> sentences with words -> encoded batches (lists of ``Encoded``) and ``Skipped`` items.

    Opening it checks the corpus path. ``annotator`` names how sentences get words (``gold``, ``auto``,
    ``regex``, ``spacy``: annotate/annotators.py); it is made on first use of ``annotator``.
    ``cache_dir``/``annotation_cache``: where annotations are cached, and whether. ``long``: what
    happens to a sentence longer than the model takes (skip, truncate, window). ``mask_rate``: the
    share of word tokens masked (runner/masking.py). ``max_tokens``, ``max_batch``, ``sort_window``:
    the batch plan (runner/batching.py). The corpus is read once: through ``sentences``, ``encoded``
    or ``batches``, each stage being the one before it carried further.
    """

    def __init__(self, spec: CorpusSpec, *, annotator: str = "gold", spacy_model: str = DEFAULT_SPACY_MODEL,
                 annotation_cache: bool = True, cache_dir: str | None = None, long: str = "skip", mask_rate: float = 0.0,
                 max_tokens: int = 8192, max_batch: int = 128, sort_window: int = 2048, read: bool = True):
        self.spec = spec
        # a worker of a scaled-out run (read=False) gets its items from the driver: it never opens the corpus
        self.corpus = Corpus(spec) if read else None  # checks the path before anything slow
        self._items = iter(self.corpus) if read else iter(())
        self._annotator_name, self._spacy_model = annotator, spacy_model
        self.annotation_cache, self.cache_dir = annotation_cache, cache_dir
        self.long, self.mask_rate = long, mask_rate
        self.max_tokens, self.max_batch, self.sort_window = max_tokens, max_batch, sort_window

    @classmethod
    def of(cls, cfg, read: bool = True) -> FrontHalf:
        """The front half a ``RunConfig`` describes (read by attribute: the runner sits below config);
        ``read=False``: one that is given its items (``batches(..., items=)``), for a worker."""
        return cls(cfg.corpus_spec, annotator=cfg.annotator, spacy_model=cfg.spacy_model,
                   annotation_cache=cfg.annotation_cache, cache_dir=cfg.cache_dir, long=cfg.long,
                   mask_rate=cfg.mask_rate, max_tokens=cfg.max_tokens, max_batch=cfg.max_batch,
                   sort_window=cfg.sort_window, read=read)

    def items(self) -> Iterator:
        """The corpus's items as read (Sentence or Skipped, before annotation), in corpus order."""
        return self._items

    def require_sentences(self) -> FrontHalf:
        """Refuse an empty corpus (nothing but blank lines) before anything is written."""
        first = next(self._items, None)
        if first is None:
            raise CorpusError(
                f"no sentences: the corpus has {self.corpus.blank_lines} blank lines and nothing else. "
                "Check the file, --format and the column/field options.",
                path=self.spec.path,
            )
        self._items = chain([first], self._items)
        return self

    @cached_property
    def annotator(self):
        """The annotator that gives sentences words; None: the corpus's gold words are used as they are."""
        return make_annotator(self._annotator_name, self.spec.resolved_format, self._spacy_model)

    @cached_property
    def fingerprint(self) -> tuple[str, int]:
        """The corpus file's sha256, and an estimate of the items read (for a progress bar)."""
        sha, estimate = fingerprint(self.spec.path, self.spec.resolved_format)
        return sha, min(estimate, self.spec.limit) if self.spec.limit else estimate

    def sentences(self, items: Iterable | None = None) -> Iterator:
        """The corpus's sentences with words (and its Skipped items), in corpus order; the
        annotation cache, if any, is closed when the stream ends or is closed. ``items``: these
        items instead of the corpus's (a block of a scaled-out run, headlens.scale)."""
        items = self._items if items is None else iter(items)
        annotator = self.annotator
        if annotator is None:
            yield from items
            return
        cache = AnnotationCache(self.cache_dir) if self.annotation_cache else None
        try:
            replace_gold = self.spec.resolved_format == "conllu"
            yield from Annotation(annotator, cache, replace_gold=replace_gold).stream(items)
        finally:
            if cache is not None:
                cache.close()

    def encoded(self, tokenizer, max_length: int, items: Iterable | None = None) -> Iterator[Encoded | Skipped]:
        """The sentences aligned and encoded (``max_length``: the most tokens the model takes; a longer
        sentence is skipped, truncated or windowed), then masked, in corpus order."""
        sentences = self.sentences(items)
        try:
            yield from mask_stream(Encoder(tokenizer, max_length, self.long).stream(sentences), self.mask_rate, tokenizer)
        finally:
            sentences.close()

    def batches(self, tokenizer, max_length: int, items: Iterable | None = None) -> Iterator[list[Encoded] | Skipped]:
        """Skipped items as they come, and length-sorted batches of encoded sentences. Closing the
        stream (``contextlib.closing``) closes the annotation cache."""
        encoded = self.encoded(tokenizer, max_length, items)
        try:
            yield from plan_batches(encoded, self.max_tokens, self.max_batch, self.sort_window)
        finally:
            encoded.close()
