"""Corpus readers: CoNLL-U, plain text, TSV (GLUE layouts), JSONL; limit, streaming, fingerprint."""

from __future__ import annotations

import hashlib
import json
import os
import threading

import pytest
from conftest import SHARED, UD_DEV, require_shared, write

import headlens.corpus.reader as reader_mod
from headlens.corpus import ROOT, Corpus, CorpusSpec, Sentence, Skipped, fingerprint, read_corpus
from headlens.errors import ConfigError, CorpusError

GLUE = os.path.join(SHARED, "glue")


def conllu_line(i, form, upos="X", xpos="_", head="0", deprel="root", misc="_", lemma=None) -> str:
    return "\t".join([str(i), form, lemma or form.lower(), upos, xpos, "_", str(head), deprel, "_", misc])


def mwt_line(a, b, form, misc="_") -> str:
    return "\t".join([f"{a}-{b}", form, "_", "_", "_", "_", "_", "_", "_", misc])


def span_text(s: Sentence, w) -> str:
    return s.texts[w.segment][w.start : w.end]


# --------------------------------------------------------------------------------------------
# CoNLL-U
# --------------------------------------------------------------------------------------------

SENT_GOLD = "\n".join([
    "# newdoc id = doc1",
    "# sent_id = s1",
    "# text = I don't like it .",
    conllu_line(1, "I", "PRON", "PRP", 4, "nsubj"),
    mwt_line(2, 3, "don't"),
    conllu_line(2, "do", "AUX", "VBP", 4, "aux"),
    conllu_line(3, "n't", "PART", "RB", 4, "advmod"),
    conllu_line(4, "like", "VERB", "VB", 0, "root"),
    conllu_line(5, "it", "PRON", "PRP", 4, "obj"),
    "\t".join(["5.1", "likes", "like", "VERB", "VBZ", "_", "_", "_", "4:conj", "CopyOf=4"]),
    conllu_line(6, ".", "PUNCT", ".", 4, "punct"),
    "",
])


def test_conllu_gold_fields_heads_zero_based_root_minus_one(tmp_path):
    path = write(tmp_path, "g.conllu", SENT_GOLD)
    (s,) = list(read_corpus(path))
    assert isinstance(s, Sentence)
    assert s.text == "I don't like it ."
    assert s.sent_id == "s1"
    assert s.scheme == "ud"
    assert s.source == f"{path}:1"
    assert [w.form for w in s.words] == ["I", "do", "n't", "like", "it", "."]  # empty node 5.1 ignored
    assert [w.upos for w in s.words] == ["PRON", "AUX", "PART", "VERB", "PRON", "PUNCT"]
    assert [w.xpos for w in s.words] == ["PRP", "VBP", "RB", "VB", "PRP", "."]
    # CoNLL-U HEAD is 1-based with 0 = root; Word.head is 0-based with ROOT = -1
    assert [w.head for w in s.words] == [3, 3, 3, ROOT, 3, 3]
    assert ROOT == -1
    assert [w.deprel for w in s.words] == ["nsubj", "aux", "advmod", "root", "obj", "punct"]
    # the multiword token's words split its surface form exactly ("do" + "n't" == "don't")
    do, nt = s.words[1], s.words[2]
    assert (do.start, do.end, nt.start, nt.end) == (2, 4, 4, 7)
    assert s.text[do.start:do.end] == "do" and s.text[nt.start:nt.end] == "n't"
    for w in s.words:
        assert span_text(s, w) == w.form


def test_conllu_underscore_fields_are_none(tmp_path):
    text = "\n".join(["1\tHi\thi\t_\t_\t_\t_\t_\t_\t_", ""])
    (s,) = list(read_corpus(write(tmp_path, "u.conllu", text)))
    (w,) = s.words
    assert (w.upos, w.xpos, w.head, w.deprel) == (None, None, None, None)


def test_conllu_mwt_exact_when_forms_concatenate_case_insensitively(tmp_path):
    text = "\n".join([
        "# text = Im here",
        mwt_line(1, 2, "Im"),
        conllu_line(1, "I", head=3, deprel="nsubj"),
        conllu_line(2, "m", head=3, deprel="cop"),
        conllu_line(3, "here", head=0),
        "",
    ])
    (s,) = list(read_corpus(write(tmp_path, "e.conllu", text)))
    assert [(w.start, w.end) for w in s.words] == [(0, 1), (1, 2), (3, 7)]


@pytest.mark.parametrize(
    "surface, forms",
    [("wanna", ["want", "to"]), ("gonna", ["going", "to"]), ("del", ["de", "el"]), ("au", ["à", "le"]), ("zum", ["zu", "dem"])],
)
def test_conllu_mwt_proportional_when_forms_differ(tmp_path, surface, forms):
    lines = [f"# text = We {surface} go", conllu_line(1, "We", head=0)]
    lines.append(mwt_line(2, 1 + len(forms), surface))
    lines += [conllu_line(2 + k, f, head=1, deprel="dep") for k, f in enumerate(forms)]
    lines += [conllu_line(2 + len(forms), "go", head=1, deprel="dep"), ""]
    (s,) = list(read_corpus(write(tmp_path, "p.conllu", "\n".join(lines))))
    start = s.text.index(surface)
    end = start + len(surface)
    inner = s.words[1 : 1 + len(forms)]
    assert [w.form for w in inner] == forms
    # the inner words tile the surface form: contiguous, non-empty, covering it exactly
    assert inner[0].start == start and inner[-1].end == end
    for a, b in zip(inner, inner[1:]):
        assert a.end == b.start
    assert all(w.end > w.start for w in inner)
    # ... in proportion to the forms' lengths (to the nearest character)
    total = sum(len(f) for f in forms)
    for k, w in enumerate(inner):
        share = sum(len(f) for f in forms[: k + 1]) / total
        assert abs((w.end - start) - len(surface) * share) <= 1
    # the words outside the MWT are untouched
    assert span_text(s, s.words[0]) == "We" and span_text(s, s.words[-1]) == "go"


@pytest.mark.parametrize(
    "mwts, needle",
    [(["0-1"], "outside the words"), (["2-4"], "outside the words"), (["1-2", "2-3"], "overlaps 1-2"), (["2-1"], "bad multiword")],
)
def test_conllu_bad_multiword_ranges(tmp_path, mwts, needle):
    lines = ["# text = abc"] + [mwt_line(*r.split("-"), "ab") for r in mwts]
    lines += [conllu_line(1, "a", head=0), conllu_line(2, "b", head=1, deprel="dep"), conllu_line(3, "c", head=1, deprel="dep"), ""]
    path = write(tmp_path, "x.conllu", "\n".join(lines))
    with pytest.raises(CorpusError) as e:
        list(read_corpus(path))
    assert needle in str(e.value)
    assert f"{path}:{1 + len(mwts)}:" in str(e.value)  # the line of the offending range
    (item,) = list(read_corpus(path, on_error="skip"))
    assert isinstance(item, Skipped) and item.reason == "malformed"


def test_conllu_text_comment_used_verbatim_with_irregular_spacing(tmp_path):
    text = "\n".join([
        "# text = Hello  world !",
        conllu_line(1, "Hello", head=0),
        conllu_line(2, "world", head=1, deprel="dep"),
        conllu_line(3, "!", head=1, deprel="punct"),
        "",
    ])
    (s,) = list(read_corpus(write(tmp_path, "t.conllu", text)))
    assert s.text == "Hello  world !"
    assert [(w.start, w.end) for w in s.words] == [(0, 5), (7, 12), (13, 14)]


def test_conllu_text_rebuilt_from_forms_and_space_after(tmp_path):
    text = "\n".join([
        "# sent_id = no-text",
        conllu_line(1, "Hello", head=0, misc="SpaceAfter=No"),
        conllu_line(2, ",", head=1, deprel="punct"),
        mwt_line(3, 4, "don't", misc="SpaceAfter=No"),
        conllu_line(3, "do", head=1, deprel="dep"),
        conllu_line(4, "n't", head=3, deprel="advmod"),
        conllu_line(5, "!", head=1, deprel="punct", misc="Foo=Bar|SpaceAfter=No"),
        "",
    ])
    (s,) = list(read_corpus(write(tmp_path, "r.conllu", text)))
    assert s.text == "Hello, don't!"
    for w in s.words:
        assert span_text(s, w) == w.form


def test_conllu_text_comment_that_does_not_match_forms_is_rebuilt(tmp_path):
    text = "\n".join([
        "# text = something else entirely",
        conllu_line(1, "Real", head=0),
        conllu_line(2, "words", head=1, deprel="dep"),
        "",
    ])
    (s,) = list(read_corpus(write(tmp_path, "m.conllu", text)))
    assert s.text == "Real words"
    assert [span_text(s, w) for w in s.words] == ["Real", "words"]


def test_conllu_several_blocks_index_and_source_lines(tmp_path):
    blocks = []
    for k in range(3):
        blocks.append("\n".join([f"# sent_id = s{k}", f"# text = w{k}", conllu_line(1, f"w{k}", head=0), ""]))
    path = write(tmp_path, "b.conllu", "\n".join(blocks) + "\n\n")  # extra blank lines at the end
    items = list(read_corpus(path))
    assert [s.index for s in items] == [0, 1, 2]
    assert [s.sent_id for s in items] == ["s0", "s1", "s2"]
    assert [s.source for s in items] == [f"{path}:1", f"{path}:5", f"{path}:9"]


def _independent_ud_parse(path: str):
    """A deliberately simple second parser: per sentence, the integer-ID word lines' fields."""
    sents, cur = [], []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                if cur:
                    sents.append(cur)
                cur = []
                continue
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            if cols[0].isdigit():
                cur.append(cols)
    if cur:
        sents.append(cur)
    return sents


@pytest.mark.integration
def test_conllu_ud_english_ewt_dev_whole_file():
    path = require_shared(UD_DEV)
    items = list(read_corpus(path))
    assert len(items) == 2001
    assert all(isinstance(s, Sentence) for s in items)
    assert [s.index for s in items] == list(range(2001))
    expected = _independent_ud_parse(path)
    assert len(expected) == 2001
    mwt_words = 0
    for s, rows in zip(items, expected):
        assert len(s.words) == len(rows)
        assert s.sent_id
        roots = 0
        for w, cols in zip(s.words, rows):
            assert w.form == cols[1]
            assert w.upos == cols[3] and w.xpos == cols[4]
            assert w.deprel == cols[7]
            assert w.head == int(cols[6]) - 1  # 0 -> ROOT (-1)
            roots += w.head == ROOT
            assert 0 <= w.start <= w.end <= len(s.text)
        assert roots >= 1
        # every non-MWT word's span is exactly its form; MWT words lie inside their surface
        for w in s.words:
            if s.text[w.start : w.end] != w.form:
                mwt_words += 1
                assert w.end > w.start
        # spans are in order and never overlap
        for a, b in zip(s.words, s.words[1:]):
            assert a.end <= b.start
    # EWT dev's multiword tokens all concatenate to their surface form (don't = do + n't), so
    # every word's span text equals its form
    assert mwt_words == 0


@pytest.mark.integration
def test_conllu_ud_dev_mwt_words_are_split_inside_the_surface():
    path = require_shared(UD_DEV)
    # find the first multiword token in the file and the sentence it belongs to
    block = 0
    target = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                block += 1
                continue
            cols = line.rstrip("\n").split("\t")
            if "-" in cols[0] and len(cols) == 10:
                a, b = map(int, cols[0].split("-"))
                target = (block, a, b, cols[1])
                break
    assert target is not None
    block, a, b, surface = target
    s = next(x for i, x in enumerate(read_corpus(path)) if i == block)
    inner = s.words[a - 1 : b]
    assert s.text[inner[0].start : inner[-1].end] == surface
    assert "".join(w.form for w in inner).lower() == surface.lower()


# --------------------------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------------------------


def test_text_blank_lines_counted_not_yielded(tmp_path):
    path = write(tmp_path, "t.txt", "first line\n\n   \nsecond line\n\t\nthird  line  \n\n")
    corpus = read_corpus(path)
    items = list(corpus)
    assert [s.text for s in items] == ["first line", "second line", "third  line  "]  # verbatim
    assert [s.index for s in items] == [0, 1, 2]
    assert [s.source for s in items] == [f"{path}:1", f"{path}:4", f"{path}:6"]
    assert corpus.blank_lines == 4
    assert all(s.words is None and s.text_b is None for s in items)
    # a second iteration reads again and counts again (not cumulatively)
    assert [s.text for s in corpus] == [s.text for s in items]
    assert corpus.blank_lines == 4


def test_text_crlf_and_bom(tmp_path):
    path = write(tmp_path, "w.txt", b"\xef\xbb\xbfone\r\ntwo\r\n\r\nthree")
    corpus = read_corpus(path)
    assert [s.text for s in corpus] == ["one", "two", "three"]
    assert corpus.blank_lines == 1


def test_text_only_newline_splits_lines(tmp_path):
    # form feed, vertical tab, NEL and U+2028 are not line breaks of a one-sentence-per-line file
    line = "a\x0cb\x0bc\x85d\u2028e"
    path = write(tmp_path, "u.txt", line + "\nnext\n")
    assert [s.text for s in read_corpus(path)] == [line, "next"]


def test_format_auto_by_extension(tmp_path):
    assert CorpusSpec("x.conllu").resolved_format == "conllu"
    assert CorpusSpec("x.CONLL").resolved_format == "conllu"
    assert CorpusSpec("x.tsv").resolved_format == "tsv"
    assert CorpusSpec("x.jsonl").resolved_format == "jsonl"
    assert CorpusSpec("x.ndjson").resolved_format == "jsonl"
    assert CorpusSpec("x.txt").resolved_format == "text"
    assert CorpusSpec("x.anything").resolved_format == "text"
    assert CorpusSpec("x.tsv", format="text").resolved_format == "text"


@pytest.mark.parametrize("kw", [{"format": "csv"}, {"on_error": "ignore"}, {"header": "maybe"}, {"limit": 0}, {"limit": -3}])
def test_corpus_spec_rejects_bad_options(kw):
    with pytest.raises(ConfigError) as e:
        CorpusSpec("x.txt", **kw)
    name = next(iter(kw))
    assert repr(name) in str(e.value) and "CorpusSpec" in str(e.value)


# --------------------------------------------------------------------------------------------
# TSV (GLUE layouts)
# --------------------------------------------------------------------------------------------


def _tsv_rows(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip("\n").split("\t") for line in fh if line.strip()]


@pytest.mark.integration
def test_tsv_cola_sentence_then_label_no_header():
    path = require_shared(os.path.join(GLUE, "CoLA", "dev.tsv"))
    rows = _tsv_rows(path)
    items = list(read_corpus(path, text_column=0, label_column=1))
    assert len(items) == len(rows) == 516
    assert all(isinstance(s, Sentence) for s in items)
    assert [s.text for s in items] == [r[0] for r in rows]
    assert {s.label for s in items} == {"0", "1"}
    assert all(s.text_b is None for s in items)
    assert items[0].source == f"{path}:1"


@pytest.mark.integration
def test_tsv_sst2_label_first_no_header():
    path = require_shared(os.path.join(GLUE, "SST-2", "dev.tsv"))
    rows = _tsv_rows(path)
    items = list(read_corpus(path, text_column=1, label_column=0))
    assert len(items) == len(rows)
    assert {s.label for s in items} == {"0", "1"}
    assert [s.text for s in items] == [r[1] for r in rows]
    assert not any(s.text in ("0", "1") for s in items)


@pytest.mark.integration
@pytest.mark.parametrize("task, labels", [("RTE", {"entailment", "not_entailment"}), ("WNLI", {"0", "1"})])
def test_tsv_pairs_by_header_names(task, labels):
    path = require_shared(os.path.join(GLUE, task, "dev.tsv"))
    rows = _tsv_rows(path)
    assert rows[0] == ["index", "sentence1", "sentence2", "label"]
    items = list(read_corpus(path, text_column="sentence1", text_b_column="sentence2", label_column="label"))
    assert len(items) == len(rows) - 1  # the header is not an item
    assert all(isinstance(s, Sentence) for s in items)
    assert [(s.text, s.text_b, s.label) for s in items] == [(r[1], r[2], r[3]) for r in rows[1:]]
    assert {s.label for s in items} == labels
    assert items[0].texts == (items[0].text, items[0].text_b)
    assert items[0].source == f"{path}:2"


def test_tsv_quotes_not_interpreted_and_header_flag(tmp_path):
    path = write(tmp_path, "q.tsv", 'id\ttext\n1\the said "hello\n2\tit\'s "fine" ok\n')
    items = list(read_corpus(path, text_column="text"))
    assert [s.text for s in items] == ['he said "hello', 'it\'s "fine" ok']
    # with an index column the header must be declared, or it is read as a row
    items = list(read_corpus(path, text_column=1, header="yes"))
    assert [s.text for s in items] == ['he said "hello', 'it\'s "fine" ok']
    items = list(read_corpus(path, text_column=1, header="no"))
    assert [s.text for s in items][0] == "text"


def test_tsv_empty_text_is_skipped_with_reason(tmp_path):
    path = write(tmp_path, "e.tsv", "a\t1\n \t0\nb\t1\n")
    items = list(read_corpus(path, label_column=1))
    assert [type(i).__name__ for i in items] == ["Sentence", "Skipped", "Sentence"]
    assert items[1].reason == "empty_text" and items[1].source == f"{path}:2"
    assert [i.index for i in items] == [0, 1, 2]


# --------------------------------------------------------------------------------------------
# JSONL
# --------------------------------------------------------------------------------------------


def test_jsonl_default_field(tmp_path):
    rows = [{"text": "One sentence.", "id": 1}, {"text": "Zwei — 二", "extra": [1, 2]}]
    path = write(tmp_path, "d.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    corpus = read_corpus(path)
    items = list(corpus)
    assert [s.text for s in items] == ["One sentence.", "Zwei — 二"]
    assert [s.label for s in items] == [None, None]
    assert [s.source for s in items] == [f"{path}:1", f"{path}:2"]
    assert corpus.blank_lines == 1


def test_jsonl_custom_fields_pairs_and_labels(tmp_path):
    rows = [
        {"premise": "A man sleeps.", "hypothesis": "Someone rests.", "gold": 1},
        {"premise": "It rains.", "hypothesis": "It is dry.", "gold": "contradiction"},
        {"premise": "No label here.", "hypothesis": "Fine."},
    ]
    path = write(tmp_path, "c.jsonl", "\n".join(json.dumps(r) for r in rows))
    items = list(read_corpus(path, text_field="premise", text_b_field="hypothesis", label_field="gold"))
    assert [(s.text, s.text_b) for s in items] == [(r["premise"], r["hypothesis"]) for r in rows]
    assert [s.label for s in items] == ["1", "contradiction", None]
    # the default field name is absent from these objects: a clear error naming the keys
    with pytest.raises(CorpusError) as e:
        list(read_corpus(path))
    assert f"{path}:1" in str(e.value) and "'text'" in str(e.value) and "premise" in str(e.value)


def test_jsonl_non_object_lines(tmp_path):
    path = write(tmp_path, "n.jsonl", '{"text": "ok"}\nnull\n[1, 2]\n"str"\n{"text": "end"}\n')
    with pytest.raises(CorpusError) as e:
        list(read_corpus(path))
    assert f"{path}:2" in str(e.value) and "JSON object" in str(e.value)
    items = list(read_corpus(path, on_error="skip"))
    assert [type(i).__name__ for i in items] == ["Sentence", "Skipped", "Skipped", "Skipped", "Sentence"]
    assert [i.source for i in items if isinstance(i, Skipped)] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert {i.reason for i in items if isinstance(i, Skipped)} == {"malformed"}


# --------------------------------------------------------------------------------------------
# limit, streaming, fingerprint
# --------------------------------------------------------------------------------------------


def test_limit_stops_after_n_items(tmp_path):
    path = write(tmp_path, "l.txt", "\n".join(f"line {i}" for i in range(100)) + "\n")
    items = list(read_corpus(path, limit=7))
    assert [s.text for s in items] == [f"line {i}" for i in range(7)]
    # skipped items count toward the limit (they are corpus items with an index)
    path = write(tmp_path, "l2.txt", b"a\n\xff\nb\nc\n")
    items = list(read_corpus(path, limit=2, on_error="skip"))
    assert [type(i).__name__ for i in items] == ["Sentence", "Skipped"]


@pytest.mark.integration
def test_limit_on_conllu():
    path = require_shared(UD_DEV)
    items = list(read_corpus(path, limit=3))
    assert len(items) == 3 and [s.index for s in items] == [0, 1, 2]


def test_streaming_reads_only_what_is_consumed(tmp_path, monkeypatch):
    n = 200_000
    path = tmp_path / "big.txt"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(f"sentence number {i}\n")
    consumed = []
    real = reader_mod.iter_lines

    def counting(p):
        for line in real(p):
            consumed.append(line.number)
            yield line

    monkeypatch.setattr(reader_mod, "iter_lines", counting)
    corpus = read_corpus(str(path))
    assert consumed == []  # constructing a Corpus reads nothing
    it = iter(corpus)
    first = next(it)
    assert first.text == "sentence number 0"
    assert len(consumed) <= 2
    for _ in range(9):
        next(it)
    assert len(consumed) <= 11
    assert isinstance(corpus, Corpus)


def test_streaming_yields_before_a_later_bad_line(tmp_path):
    path = write(tmp_path, "late.txt", b"good\n" + b"more\n" * 1000 + b"\xff\n")
    it = iter(read_corpus(path))
    assert next(it).text == "good"  # the bad line 1002 has not been reached yet
    with pytest.raises(CorpusError) as e:
        for _ in it:
            pass
    assert f"{path}:1002" in str(e.value)


@pytest.mark.timeout(30)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_streaming_from_a_pipe_that_is_still_open(tmp_path):
    fifo = str(tmp_path / "pipe.txt")
    os.mkfifo(fifo)
    release = threading.Event()

    def writer():
        with open(fifo, "w", encoding="utf-8") as fh:
            fh.write("first sentence\n")
            fh.flush()
            release.wait(20)  # the reader must get the first item while the pipe is open
            fh.write("second sentence\n")

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        it = iter(read_corpus(fifo))
        assert next(it).text == "first sentence"
        assert not release.is_set()
    finally:
        release.set()
    assert [s.text for s in it] == ["second sentence"]
    t.join(5)


def test_fingerprint_text(tmp_path):
    content = b"one\n\ntwo\n  \nthree\n"
    path = write(tmp_path, "f.txt", content)
    sha, estimate = fingerprint(path, "text")
    assert sha == hashlib.sha256(content).hexdigest()
    assert estimate == 3 == len(list(read_corpus(path)))
    path2 = write(tmp_path, "g.txt", content.replace(b"two", b"twO"))
    assert fingerprint(path2, "text")[0] != sha


def test_fingerprint_conllu_counts_blocks(tmp_path):
    path = write(tmp_path, "g.conllu", SENT_GOLD + "\n" + SENT_GOLD + "\n\n")
    sha, estimate = fingerprint(path, "conllu")
    assert estimate == 2 == len(list(read_corpus(path)))
    path = write(tmp_path, "h.conllu", SENT_GOLD.rstrip("\n"))  # no trailing blank line
    assert fingerprint(path, "conllu")[1] == 1


@pytest.mark.integration
def test_fingerprint_ud_dev():
    path = require_shared(UD_DEV)
    with open(path, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    assert fingerprint(path, "conllu") == (digest, 2001)


def test_conllu_text_spans_whitespace_and_mismatch(tmp_path):
    """Each form is found after whitespace only ('# text' with runs of spaces and a tab); a form that
    is not next in the text (it occurs only later) rebuilds the text from the forms; a MISC with
    SpaceAfter=No among other items and alone."""
    def block(text, forms, misc=None):
        misc = misc or ["_"] * len(forms)
        rows = [f"{i}\t{f}\t_\tX\t_\t_\t0\troot\t_\t{m}" if i == 1 else f"{i}\t{f}\t_\tX\t_\t_\t1\tdep\t_\t{m}"
                for i, (f, m) in enumerate(zip(forms, misc), start=1)]
        return f"# text = {text}\n" + "\n".join(rows) + "\n\n"

    path = write(tmp_path, "t.conllu", block("a  bb\tc", ["a", "bb", "c"]) + block("x yy z", ["x", "z", "yy"])
                 + block("pq r", ["p", "q", "r"], ["Foo=1|SpaceAfter=No", "_", "SpaceAfter=No"]))
    first, second, third = list(read_corpus(path))
    assert first.text == "a  bb\tc" and [(w.start, w.end) for w in first.words] == [(0, 1), (3, 5), (6, 7)]
    assert second.text == "x z yy" and [(w.start, w.end) for w in second.words] == [(0, 1), (2, 3), (4, 6)]
    assert third.text == "pq r" and [(w.start, w.end) for w in third.words] == [(0, 1), (1, 2), (3, 4)]
