"""Sub-token to word alignment by character offsets, with three tokenizer families built offline.

Every case checks the alignment against an independent brute-force statement of the rule
(a token goes to the word its whitespace-trimmed span overlaps most, the first on a tie; a token
that overlaps no word joins the previous token's word in its segment, else the next one's),
plus hand-checked expectations for the cases that motivate the rule.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest
from tokenizers_offline import BUILDERS, load_tokenizer

from headlens.align import CLS, OTHER_SPECIAL, SEP, WORD, Encoded, Encoder, align_tokens, build_encoded, is_punctuation
from headlens.corpus import Sentence, Skipped, Word

KINDS = list(BUILDERS)


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    from transformers import AutoTokenizer

    out = {}
    for kind in KINDS:
        path = str(tmp_path_factory.mktemp(kind))
        tok = load_tokenizer(kind, path)
        assert tok.is_fast
        # what load_model uses (AutoTokenizer) gives the same tokens as the family class
        auto = AutoTokenizer.from_pretrained(path)
        probe = "Hello world, the cat sat on NewYork's mat."
        assert auto(probe)["input_ids"] == tok(probe)["input_ids"]
        out[kind] = tok
    return out


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


# -- helpers ---------------------------------------------------------------------------------


def ws_words(text: str, segment: int = 0) -> list[Word]:
    return [Word(m.group(), m.start(), m.end(), segment=segment) for m in re.finditer(r"\S+", text)]


def regex_words(text: str, segment: int = 0) -> list[Word]:
    return [Word(m.group(), m.start(), m.end(), segment=segment) for m in re.finditer(r"\w+|[^\w\s]", text)]


def spans(text: str, *forms: str) -> list[Word]:
    """Words with the given forms, found left to right in ``text`` (they may be adjacent)."""
    out, pos = [], 0
    for f in forms:
        i = text.index(f, pos)
        out.append(Word(f, i, i + len(f)))
        pos = i + len(f)
    return out


def sentence(text, words=None, text_b=None, words_b=None, index=0) -> Sentence:
    words = list(words if words is not None else ws_words(text))
    if text_b is not None:
        words += list(words_b if words_b is not None else ws_words(text_b, 1))
    return Sentence(index=index, text=text, source=f"test:{index}", text_b=text_b, words=tuple(words))


def raw_encoding(tok, s: Sentence):
    enc = tok(
        s.text, s.text_b, add_special_tokens=True, return_offsets_mapping=True,
        return_special_tokens_mask=True, return_token_type_ids=True,
    )
    return enc.encodings[0]


def encode(tok, s: Sentence) -> Encoded:
    (e,) = Encoder(tok, max_tokens=512).encode([s])
    assert isinstance(e, Encoded)
    return e


def trimmed(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def expected_words(s: Sentence, encoding) -> list[int]:
    """The rule, brute force: no bisect, no sorted-span assumption."""
    words = s.words or ()
    n = len(encoding.ids)
    seqs = encoding.sequence_ids
    special = encoding.special_tokens_mask
    out: list[int | None] = [None] * n  # None: orphan to resolve; -1: special / no words
    for t in range(n):
        if special[t] or seqs[t] is None:
            out[t] = -1
            continue
        seg = seqs[t]
        a, b = trimmed(s.texts[seg], *encoding.offsets[t])
        best, best_ov = None, 0
        for i, w in enumerate(words):
            if w.segment != seg:
                continue
            ov = min(b, w.end) - max(a, w.start)
            if ov > best_ov:
                best, best_ov = i, ov
        out[t] = best
    final = list(out)
    for t in range(n):
        if out[t] is not None:
            continue
        seg = seqs[t]
        if t > 0 and seqs[t - 1] == seg and not special[t - 1] and final[t - 1] is not None and final[t - 1] >= 0:
            final[t] = final[t - 1]
            continue
        u = t + 1
        while u < n and seqs[u] == seg and not special[u] and out[u] is None:
            u += 1
        if u < n and seqs[u] == seg and not special[u] and out[u] is not None and out[u] >= 0:
            final[t] = out[u]
        else:
            final[t] = -1
    return final


def check_alignment(tok, e: Encoded) -> list[int]:
    """Assert every invariant of an Encoded; return each token's word index (-1 for none)."""
    s = e.sentence
    words = s.words or ()
    encoding = raw_encoding(tok, s)
    n = e.n_tokens
    assert list(e.input_ids) == list(encoding.ids)
    assert list(e.token_type_ids) == list(encoding.type_ids)
    special = encoding.special_tokens_mask
    seqs = encoding.sequence_ids
    got = [-1] * n
    for t in range(n):
        u = int(e.token_unit[t])
        if special[t]:
            assert e.kinds[t] in (CLS, SEP, OTHER_SPECIAL)
            assert e.kinds[t] == (CLS if e.input_ids[t] == tok.cls_token_id else SEP if e.input_ids[t] == tok.sep_token_id else OTHER_SPECIAL)
            assert e.segment[t] == -1
            assert u >= 0 and e.unit_word[u] == -1 and e.unit_kind[u] == e.kinds[t]
            continue
        assert e.kinds[t] == WORD
        assert e.segment[t] == seqs[t]
        if u >= 0:
            assert e.unit_kind[u] == WORD
            got[t] = int(e.unit_word[u])
            w = words[got[t]]
            assert w.segment == seqs[t]
    # the rule, restated independently
    assert got == expected_words(s, encoding)
    # every non-special token whose segment has words gets a word that overlaps its characters,
    # or is an orphan (overlapping no word) attached to a neighbour's word
    for t in range(n):
        if special[t]:
            continue
        seg = seqs[t]
        if not any(w.segment == seg for w in words):
            assert got[t] == -1
            continue
        assert got[t] >= 0, f"token {t} {tok.convert_ids_to_tokens(int(e.input_ids[t]))!r} has no word"
        a, b = trimmed(s.texts[seg], *encoding.offsets[t])
        w = words[got[t]]
        overlaps_any = any(min(b, v.end) > max(a, v.start) for v in words if v.segment == seg)
        if overlaps_any:
            assert min(b, w.end) > max(a, w.start)
        else:
            neighbours = {got[k] for k in (t - 1, t + 1) if 0 <= k < n and not special[k] and seqs[k] == seg}
            assert got[t] in neighbours
    # units: one per special token, one per word with tokens, in the order of first tokens
    word_units = [int(x) for x in e.unit_word if x >= 0]
    assert len(word_units) == len(set(word_units))
    firsts = []
    for t in range(n):
        u = int(e.token_unit[t])
        if u >= 0 and u not in firsts:
            firsts.append(u)
    assert firsts == list(range(e.n_units))
    assert e.words_without_tokens == len(words) - len({g for g in got if g >= 0})
    assert list(e.unit_punct) == [w >= 0 and is_punctuation(words[w]) for w in e.unit_word]
    return got


def tokens_of_word(e: Encoded, wi: int) -> list[int]:
    return [t for t in range(e.n_tokens) if e.token_unit[t] >= 0 and e.unit_word[e.token_unit[t]] == wi]


# -- cases over the three tokenizers -----------------------------------------------------------

TEXTS = {
    "plain": "Hello world, the cat sat on the mat.",
    "cjk": "中文 and 中 text 日本語",
    "emoji": "I love NY 😀! 👍🏽 ok ❤️",
    "accents": "café naïve résumé Ångström",
    "combining": "cafe\u0301 nai\u0308ve",
    "control": "bell \x07 ring zero\u200bwidth tab\there",
    "markers": "a ##b ▁c Ġd ## ▁ Ġ",
    "spaces": "  two  spaces   here ",
    "html": "<script>alert(1)</script> <img src=x onerror=alert(1)>",
}


@pytest.mark.parametrize("case", list(TEXTS))
@pytest.mark.parametrize("word_split", ["ws", "regex"])
def test_alignment_invariants(toks, kind, case, word_split):
    text = TEXTS[case]
    words = ws_words(text) if word_split == "ws" else regex_words(text)
    e = encode(toks[kind], sentence(text, words))
    got = check_alignment(toks[kind], e)
    assert any(g >= 0 for g in got)


def test_cjk_characters_of_one_word_share_its_unit(toks, kind):
    tok = toks[kind]
    text = "中文 and 日本語"
    e = encode(tok, sentence(text))
    check_alignment(tok, e)
    first = tokens_of_word(e, 0)
    # BERT splits CJK characters apart, byte-level BPE splits them into bytes: all go to word 0
    assert len(first) >= 2
    enc = raw_encoding(tok, e.sentence)
    covered = set()
    for t in first:
        a, b = enc.offsets[t]
        covered.update(range(a, b))
    assert covered == {0, 1}
    assert e.words_without_tokens == 0


def test_unknown_token_maps_to_its_word(toks, kind):
    tok = toks[kind]
    text = "the 😀 cat 日 end"
    e = encode(tok, sentence(text))
    check_alignment(tok, e)
    assert e.words_without_tokens == 0
    unk = [t for t in range(e.n_tokens) if tok.unk_token_id is not None and e.input_ids[t] == tok.unk_token_id]
    if kind == "bytelevel_bpe":
        assert unk == []  # bytes are never unknown
        assert len(tokens_of_word(e, 1)) == 4  # the emoji's four UTF-8 bytes
    else:
        assert len(unk) >= 2
        for t in unk:
            assert e.sentence.words[e.unit_word[e.token_unit[t]]].form in ("😀", "日")


def test_accents_precomposed_and_combining(toks, kind):
    tok = toks[kind]
    text = "café cafe\u0301 naïve"
    e = encode(tok, sentence(text))
    check_alignment(tok, e)
    assert e.words_without_tokens == 0
    # the combining accent stays with its word: no token of word 2 starts inside word 1
    enc = raw_encoding(tok, e.sentence)
    w1 = e.sentence.words[1]
    for t in tokens_of_word(e, 1):
        a, b = trimmed(text, *enc.offsets[t])
        assert w1.start <= a and b <= w1.end


def test_control_characters(toks, kind):
    tok = toks[kind]
    text = "bell \x07 ring zero\u200bwidth"
    s = sentence(text)
    assert [w.form for w in s.words] == ["bell", "\x07", "ring", "zero\u200bwidth"]
    e = encode(tok, s)
    check_alignment(tok, e)
    if kind == "wordpiece":
        # BERT's normalizer deletes control characters: the word "\x07" has no token
        assert tokens_of_word(e, 1) == []
        assert e.words_without_tokens == 1
    else:
        assert tokens_of_word(e, 1) != []
        assert e.words_without_tokens == 0
    assert tokens_of_word(e, 3) != []


def test_one_token_over_two_words_goes_to_the_first_on_a_tie(toks, kind):
    tok = toks[kind]
    text = "I cannot go"
    s = sentence(text, spans(text, "I", "can", "not", "go"))
    enc = raw_encoding(tok, s)
    covering = [t for t in range(len(enc.ids)) if trimmed(text, *enc.offsets[t]) == (2, 8)]
    assert len(covering) == 1, tok.convert_ids_to_tokens(enc.ids)  # one sub-token spans "cannot"
    e = encode(tok, s)
    check_alignment(tok, e)
    assert e.unit_word[e.token_unit[covering[0]]] == 1  # "can" (3 chars) ties "not" (3): first wins
    assert tokens_of_word(e, 2) == []
    assert e.words_without_tokens == 1
    assert 2 not in set(e.unit_word.tolist())


def test_one_token_over_two_words_goes_to_the_larger_overlap(toks, kind):
    tok = toks[kind]
    text = "NewYork city"
    s = sentence(text, spans(text, "New", "York", "city"))
    enc = raw_encoding(tok, s)
    e = encode(tok, s)
    check_alignment(tok, e)
    whole = [t for t in range(len(enc.ids)) if trimmed(text, *enc.offsets[t]) == (0, 7)]
    if kind == "bytelevel_bpe":
        assert whole == []  # its merges split New|York: both words get tokens
        assert e.words_without_tokens == 0
    else:
        assert len(whole) == 1  # "newyork" is one vocabulary entry
        assert e.unit_word[e.token_unit[whole[0]]] == 1  # "York" overlaps 4 characters, "New" 3
        assert tokens_of_word(e, 0) == []
        assert e.words_without_tokens == 1


def test_orphan_tokens_join_a_neighbour(toks, kind):
    tok = toks[kind]
    # the "annotator" left the punctuation out: its tokens overlap no word
    text = "Hello , world !"
    s = sentence(text, spans(text, "Hello", "world"))
    e = encode(tok, s)
    got = check_alignment(tok, e)
    enc = raw_encoding(tok, s)
    comma = [t for t in range(len(enc.ids)) if trimmed(text, *enc.offsets[t]) == (6, 7)]
    bang = [t for t in range(len(enc.ids)) if trimmed(text, *enc.offsets[t]) == (14, 15)]
    assert comma and bang
    assert all(got[t] == 0 for t in comma)  # joins the previous word
    assert all(got[t] == 1 for t in bang)
    # at the start of a segment, an orphan joins the next word
    text = ", Hello world"
    s = sentence(text, spans(text, "Hello", "world"))
    e = encode(tok, s)
    got = check_alignment(tok, e)
    enc = raw_encoding(tok, s)
    lead = [t for t in range(len(enc.ids)) if trimmed(text, *enc.offsets[t]) == (0, 1)]
    assert lead and all(got[t] == 0 for t in lead)


def test_markers_are_never_interpreted(toks, kind):
    """Words that literally contain '##', '▁' or 'Ġ' get exactly the tokens inside their spans."""
    tok = toks[kind]
    text = "x ##y ▁z Ġw ##"
    s = sentence(text)
    e = encode(tok, s)
    check_alignment(tok, e)
    enc = raw_encoding(tok, s)
    assert e.words_without_tokens == 0
    for wi, w in enumerate(s.words):
        mine = [t for t in tokens_of_word(e, wi) if trimmed(text, *enc.offsets[t])[0] < trimmed(text, *enc.offsets[t])[1]]
        assert mine  # tokens with characters, not only a lone space piece attached as an orphan
        for t in mine:
            a, b = trimmed(text, *enc.offsets[t])
            assert w.start <= a and b <= w.end, (w.form, tok.convert_ids_to_tokens(int(e.input_ids[t])))
        # and every token whose characters lie in the word's span went to it
        inside = [t for t in range(e.n_tokens) if e.kinds[t] == WORD and w.start <= trimmed(text, *enc.offsets[t])[0]
                  < trimmed(text, *enc.offsets[t])[1] <= w.end]
        assert set(inside) <= set(tokens_of_word(e, wi))
    # and a word made of a marker alone is still a word of its own
    assert s.words[-1].form == "##" and len(tokens_of_word(e, len(s.words) - 1)) >= 1


def test_sentence_pairs_segments_and_sep_kinds(toks, kind):
    tok = toks[kind]
    a, b = "the cat sat", "the cat ran"
    s = sentence(a, text_b=b)
    assert [w.segment for w in s.words] == [0, 0, 0, 1, 1, 1]
    e = encode(tok, s)
    got = check_alignment(tok, e)
    kinds = list(e.kinds)
    assert kinds[0] == CLS and kinds[-1] == SEP
    n_sep = kinds.count(SEP)
    assert n_sep == (3 if kind == "bytelevel_bpe" else 2)  # RoBERTa: <s> A </s></s> B </s>
    assert kinds.count(CLS) == 1 and kinds.count(OTHER_SPECIAL) == 0
    first_sep = kinds.index(SEP)
    for t in range(e.n_tokens):
        if kinds[t] != WORD:
            continue
        seg = 0 if t < first_sep else 1
        assert e.segment[t] == seg
        assert s.words[got[t]].segment == seg
    # the same form in both texts is two different words, each with its own unit
    assert got.count(0) >= 1 and got.count(3) >= 1
    assert e.token_unit[got.index(0)] != e.token_unit[got.index(3)]
    types = list(e.token_type_ids)
    if kind == "bytelevel_bpe":
        assert set(types) == {0}
    else:
        assert types[: first_sep + 1] == [0] * (first_sep + 1)
        assert set(types[first_sep + 1 :]) == {1}
    assert e.words_without_tokens == 0


def test_encoder_mixed_batch_keeps_order_and_limits(toks, kind):
    tok = toks[kind]
    sents = [
        sentence("the cat sat", index=0),
        sentence("a dog", text_b="the man", index=1),
        sentence(" ".join(["cat"] * 200), index=2),
        sentence("good day", index=3),
    ]
    out = Encoder(tok, max_tokens=40).encode(sents)
    assert [type(x).__name__ for x in out] == ["Encoded", "Encoded", "Skipped", "Encoded"]
    assert [x.sentence.index if isinstance(x, Encoded) else x.index for x in out] == [0, 1, 2, 3]
    assert out[2].reason == "too_long" and "40" in out[2].detail and "--long truncate" in out[2].detail
    assert out[1].sentence.text_b == "the man"
    for x in (out[0], out[1], out[3]):
        check_alignment(tok, x)
        assert not x.truncated
    cut = Encoder(tok, max_tokens=40, long_policy="truncate").encode(sents)
    assert cut[2].truncated and cut[2].n_tokens == 40
    assert cut[2].kinds[0] == CLS and cut[2].kinds[-1] == SEP
    assert cut[2].words_without_tokens == 200 - (cut[2].unit_word >= 0).sum()
    assert cut[2].words_without_tokens > 0


def test_encoder_stream_passes_skipped_through(toks):
    tok = toks["wordpiece"]
    items = [sentence("the cat", index=0), Skipped(1, "x:2", "invalid_utf8"), sentence("a dog", index=2)]
    out = list(Encoder(tok, max_tokens=64, chunk=1).stream(items))
    assert [type(x).__name__ for x in out] == ["Encoded", "Skipped", "Encoded"]


# -- align_tokens / build_encoded on synthetic offsets ----------------------------------------


def test_align_tokens_rules_on_synthetic_offsets():
    text = "can not  x"
    words = (Word("can", 0, 3), Word("not", 4, 7), Word("x", 9, 10))
    #            CLS     can+space  " n"     ot      "  "     x        SEP
    offsets = [(0, 0), (0, 4), (3, 5), (5, 7), (7, 9), (9, 10), (0, 0)]
    seq = [None, 0, 0, 0, 0, 0, None]
    special = [1, 0, 0, 0, 0, 0, 1]
    got = align_tokens((text,), words, offsets, seq, special)
    # (0,4) trims to (0,3) -> can; (3,5) trims to (4,5) -> not; "  " trims to empty -> orphan -> previous
    assert got == [-1, 0, 1, 1, 1, 2, -1]


def test_align_tokens_tie_majority_and_segments():
    texts = ("abcdef", "ghij")
    words = (Word("abc", 0, 3), Word("def", 3, 6), Word("gh", 0, 2, segment=1), Word("ij", 2, 4, segment=1))
    offsets = [(0, 6), (1, 6), (0, 4), (2, 4)]
    seq = [0, 0, 1, 1]
    got = align_tokens(texts, words, offsets, seq, [0, 0, 0, 0])
    assert got == [0, 1, 2, 3]  # tie -> first; 2 vs 3 chars -> second; segment 1 words only


def test_align_tokens_without_words_or_segment():
    # a segment with no words (e.g. an annotator returned none) leaves its tokens unaligned
    got = align_tokens(("ab", "cd"), (Word("ab", 0, 2),), [(0, 2), (0, 2)], [0, 1], [0, 0])
    assert got == [0, -1]
    got = align_tokens(("ab",), (), [(0, 1), (1, 2)], [0, 0], [0, 0])
    assert got == [-1, -1]


def test_build_encoded_units_follow_first_token_order():
    s = Sentence(0, "ab cd", "t", words=(Word("ab", 0, 2), Word("cd", 3, 5, upos="PUNCT")))
    enc = SimpleNamespace(
        ids=[101, 7, 8, 9, 102], type_ids=[0] * 5, offsets=[(0, 0), (3, 4), (0, 2), (4, 5), (0, 0)],
        sequence_ids=[None, 0, 0, 0, None], special_tokens_mask=[1, 0, 0, 0, 1],
    )
    e = build_encoded(s, enc, cls_id=101, sep_id=102, truncated=False)
    assert list(e.kinds) == [CLS, WORD, WORD, WORD, SEP]
    assert list(e.unit_kind) == [CLS, WORD, WORD, SEP]
    assert list(e.unit_word) == [-1, 1, 0, -1]  # "cd" appears first in the token order
    assert list(e.token_unit) == [0, 1, 2, 1, 3]
    assert list(e.token_punct) == [False, True, False, True, False]
    assert e.words_without_tokens == 0 and e.n_units == 4 and e.n_tokens == 5
    assert e.input_ids.dtype == np.int64


def test_is_punctuation():
    assert is_punctuation(Word(",", 0, 1))
    assert is_punctuation(Word("...", 0, 3))
    assert is_punctuation(Word("«", 0, 1))
    assert not is_punctuation(Word("a,", 0, 2))
    assert not is_punctuation(Word("$", 0, 1))  # a symbol (Sc), not punctuation
    assert not is_punctuation(Word(",", 0, 1, upos="SYM"))  # a tag decides when there is one
    assert is_punctuation(Word("--", 0, 2, upos="PUNCT"))
    assert not is_punctuation(Word("", 0, 0))


def test_a_batch_aligns_each_sentence_as_alone(toks, kind):
    """Encoder.encode aligns and numbers a whole chunk at once (one axis of characters for every
    sentence's segments): each sentence comes out as it does alone, and as the brute-force rule says,
    with pairs, segments without words, words past the text's end and non-ASCII whitespace mixed in."""
    tok = toks[kind]
    texts = [*TEXTS.values(), "no\u00a0break\u3000ideographic\u2003em space"]
    sents = [sentence(t, ws_words(t) if i % 2 else regex_words(t), index=i) for i, t in enumerate(texts)]
    sents.append(sentence("a dog", text_b="the man", index=len(sents)))
    sents.append(sentence("a dog", text_b="the man", words_b=(), index=len(sents)))  # segment 1 without words
    sents.append(sentence("ab cd", (Word("ab", 0, 2), Word("cd", 3, 9)), index=len(sents)))  # a word past the end
    sents.append(sentence("zz", (), index=len(sents)))  # no words at all
    batch = Encoder(tok, max_tokens=512).encode(sents)
    for s, e in zip(sents, batch):
        alone = encode(tok, s)
        for name in ("input_ids", "token_type_ids", "kinds", "segment", "token_unit", "unit_kind", "unit_word",
                     "unit_punct", "dot_comma"):
            got, want = getattr(e, name), getattr(alone, name)
            assert got.dtype == want.dtype and np.array_equal(got, want), (s.text, name)
        if s.words and s.words[-1].end <= len(s.text):
            check_alignment(tok, e)
