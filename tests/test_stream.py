"""The one front half (runner/stream.py): corpus -> sentences with words -> encoded batches."""

from contextlib import closing

import pytest

from headlens.annotate import Annotation, RegexAnnotator
from headlens.align.encode import Encoder
from headlens.corpus import CorpusSpec
from headlens.corpus.reader import Corpus
from headlens.corpus.types import Skipped
from headlens.errors import CorpusError
from headlens.runner import plan_batches
from headlens.runner.masking import mask_stream
from headlens.runner.stream import FrontHalf

LINES = ["the cat sat on the mat .", "new york is a city , he said !", "playing dogs ran", "i run",
         "a man went to the house and the woman said good day ."] * 4


@pytest.fixture()
def corpus(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return str(p)


def _steps(items):
    return [item.index if isinstance(item, Skipped) else [(e.sentence.index, e.window, e.input_ids.tolist()) for e in item]
            for item in items]


def test_the_front_half_is_the_stages_composed(corpus, tiny_model, tmp_path):
    front = FrontHalf(CorpusSpec(corpus), annotator="regex", cache_dir=str(tmp_path / "cache"), mask_rate=0.3,
                      max_tokens=40, max_batch=3, sort_window=7)
    tok = tiny_model.tokenizer
    words = Annotation(RegexAnnotator(), None).stream(iter(Corpus(CorpusSpec(corpus))))
    by_hand = plan_batches(mask_stream(Encoder(tok, tiny_model.max_tokens, "skip").stream(words), 0.3, tok), 40, 3, 7)
    with closing(front.batches(tok, tiny_model.max_tokens)) as batches:
        assert _steps(batches) == _steps(by_hand)
    assert front.fingerprint[1] == len(LINES)


def test_an_empty_corpus_is_refused_and_the_first_item_is_kept(tmp_path, corpus, tiny_model):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="2 blank lines"):
        FrontHalf(CorpusSpec(str(empty))).require_sentences()
    front = FrontHalf(CorpusSpec(corpus, limit=3), annotator="regex", annotation_cache=False).require_sentences()
    seen = sorted(e.sentence.index for batch in front.batches(tiny_model.tokenizer, tiny_model.max_tokens) for e in batch)
    assert seen == [0, 1, 2]
    assert front.fingerprint[1] == 3  # the estimate respects the limit


def test_closing_the_stream_closes_the_annotation_cache(tiny_model, tmp_path, monkeypatch):
    from headlens.annotate import cache as cache_module

    corpus = tmp_path / "long.txt"
    corpus.write_text("\n".join(LINES * 40) + "\n", encoding="utf-8")  # more than the annotation reads at once

    closed = []
    real = cache_module.AnnotationCache.close
    monkeypatch.setattr(cache_module.AnnotationCache, "close", lambda self: (closed.append(1), real(self)))
    front = FrontHalf(CorpusSpec(str(corpus)), annotator="regex", cache_dir=str(tmp_path / "cache"), sort_window=2,
                      max_batch=2)
    with closing(front.batches(tiny_model.tokenizer, tiny_model.max_tokens)) as batches:
        next(batches)
        assert not closed
    assert closed == [1]
