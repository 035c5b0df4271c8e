"""spaCy annotation in its own scheme, pairs, and the on-disk cache."""

import pytest

import headlens
from headlens.annotate import Annotation, AnnotationCache, RegexAnnotator, SpacyAnnotator
from headlens.corpus import ROOT, Sentence


@pytest.fixture(scope="module")
def spacy_annotator():
    return SpacyAnnotator()


def test_spacy_words_tags_and_tree(spacy_annotator):
    text = "The cat's toy sat on the mat  in New York."
    (words,) = spacy_annotator.annotate_texts([text])
    assert all(text[w.start : w.end] == w.form for w in words)
    assert not any(w.form.isspace() for w in words)  # the double space is not a word
    assert sum(w.head == ROOT for w in words) == 1
    by_form = {w.form: w for w in words}
    assert by_form["on"].deprel == "prep" and words[by_form["mat"].head].form == "on"  # ClearNLP: prep heads pobj
    assert by_form["York"].entity == "GPE"
    assert all(w.head is None or w.head == ROOT or 0 <= w.head < len(words) for w in words)


def test_pairs_get_segments_and_global_heads(spacy_annotator, tmp_path):
    s = Sentence(0, "A dog ran.", "x:1", text_b="The cat sat.")
    (out,) = Annotation(spacy_annotator, AnnotationCache(str(tmp_path))).stream([s])
    segs = [w.segment for w in out.words]
    assert segs == sorted(segs) and set(segs) == {0, 1}
    for w in out.words:
        if w.head is not None and w.head != ROOT:
            assert out.words[w.head].segment == w.segment
    assert out.scheme == "spacy-clearnlp"


def test_cache_is_used_on_the_second_pass(tmp_path):
    calls = []

    class Counting(RegexAnnotator):
        def annotate_texts(self, texts):
            calls.append(list(texts))
            return super().annotate_texts(texts)

    sents = [Sentence(i, t, f"x:{i}") for i, t in enumerate(["a b", "c d", "a b"])]
    ann = Annotation(Counting(), AnnotationCache(str(tmp_path)))
    first = list(ann.stream(sents))
    second = list(Annotation(Counting(), AnnotationCache(str(tmp_path))).stream(sents))
    assert calls == [["a b", "c d"]]  # duplicates annotated once, second pass all from the cache
    assert [s.words for s in first] == [s.words for s in second]


def test_text_corpus_run_records_spacy_scheme(tiny_bert_dir, tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("the cat sat on the mat .\nnew york is a city .\n", encoding="utf-8")
    run = headlens.run(out=str(tmp_path / "r"), model=tiny_bert_dir, corpus=str(p), progress=False, metrics=("punct",))
    assert run.manifest["annotator"]["name"] == "spacy"
    assert run.manifest["annotator"]["scheme"] == "spacy-clearnlp"
    assert run.manifest["annotator"]["model_version"]
    assert run.manifest["counts"]["analysed"] == 2
