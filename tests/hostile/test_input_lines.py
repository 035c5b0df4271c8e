"""Hostile corpus lines in every reader (issue 17, P7): each is an ordinary bad line.

``--on-error raise`` stops with exit status 2 and one ``CorpusError: FILE:LINE: what`` line;
``--on-error skip`` completes the run, counts the line under its reason in the manifest and
keeps its row (status ``skipped``, source ``FILE:LINE``, the reason) in the sentences table.
Extends tests/test_bad_input.py, whose CLI helpers it reuses.
"""

from __future__ import annotations

import os

import pytest

import headlens
from headlens.corpus.lines import MAX_LINE_BYTES
from conftest import write
from test_bad_input import assert_error, run_cli, sentences

DEEP = 100_000
BIG = "9" * 5000

GOOD = {
    "txt": (b"the cat sat\n", b"\nthe dog ran\n"),
    "jsonl": (b'{"text": "the cat sat", "b": "a mat"}\n', b'\n{"text": "the dog ran", "b": "a log"}\n'),
    "tsv": (b"the cat sat\t1\n", b"\nthe dog ran\t0\n"),
}
EXTRA = {"txt": (), "jsonl": (), "tsv": ("--label-column", "1")}

# (id, format, the bad line (bytes, no newline), extra CLI options, skip reason, what the error says)
LINES = [
    ("txt-invalid-utf8", "txt", b"bad \xff\xfe line", (), "invalid_utf8", "invalid UTF-8 (byte b'\\xff\\xfe l' at column 5)"),
    ("txt-truncated-utf8", "txt", b"euro \xe2\x82", (), "invalid_utf8", "at column 6"),
    ("txt-utf8-surrogate", "txt", b"half \xed\xa0\x80 pair", (), "invalid_utf8", "invalid UTF-8"),
    ("txt-overlong-utf8", "txt", b"slash \xc0\xaf", (), "invalid_utf8", "invalid UTF-8"),
    ("txt-latin1", "txt", "caf\u00e9 cr\u00e8me".encode("latin-1"), (), "invalid_utf8", "invalid UTF-8"),
    ("txt-nul", "txt", b"nul\x00byte", (), "nul_byte", "NUL byte at column 4"),
    ("txt-utf16-line", "txt", "the cat".encode("utf-16-le"), (), "nul_byte", "UTF-16"),
    ("txt-cr-inside", "txt", b"the cat\rsat", (), "carriage_return", "carriage return (CR) at column 8"),
    ("tsv-cr-inside-field", "tsv", b"a b\r\t1", (), "carriage_return", "column 4"),
    ("jsonl-cr-between-objects", "jsonl", b'{"text": "a"}\r{"text": "b"}', (), "carriage_return", "old Mac (CR) line endings"),
    ("jsonl-deep-array", "jsonl", b"[" * DEEP + b"]" * DEEP, (), "malformed", "nested deeper than the parser allows"),
    ("jsonl-deep-object", "jsonl", b'{"a":' * DEEP + b"1" + b"}" * DEEP, (), "malformed", "nested deeper"),
    ("jsonl-deep-in-field", "jsonl", b'{"text": "x", "meta": ' + b"[" * DEEP + b"]" * DEEP + b"}", (), "malformed", "nested deeper"),
    ("jsonl-huge-int", "jsonl", b'{"text": "a b", "n": ' + BIG.encode() + b"}", (), "malformed", "more than 4300 digits"),
    ("jsonl-huge-int-label", "jsonl", b'{"text": "a b", "y": ' + BIG.encode() + b"}", ("--label-field", "y"), "malformed", "digits"),
    ("jsonl-lone-high-surrogate", "jsonl", b'{"text": "bad \\ud800 text"}', (), "malformed", "lone surrogate escape ('\\ud800' at character 5)"),
    ("jsonl-lone-low-surrogate", "jsonl", b'{"text": "\\udc00 first"}', (), "malformed", "lone surrogate escape ('\\udc00' at character 1)"),
    ("jsonl-reversed-pair", "jsonl", b'{"text": "x \\ude00\\ud83d y"}', (), "malformed", "lone surrogate"),
    ("jsonl-surrogate-label", "jsonl", b'{"text": "a b", "y": "\\ud800"}', ("--label-field", "y"), "malformed", "field 'y'"),
    ("jsonl-surrogate-text-b", "jsonl", b'{"text": "a b", "b": "c \\udfff"}', ("--text-b-field", "b"), "malformed", "field 'b'"),
    ("jsonl-nan", "jsonl", b'{"text": "a b", "score": NaN}', (), "malformed", "NaN is not valid JSON"),
    ("jsonl-infinity", "jsonl", b'{"text": "a b", "score": -Infinity}', (), "malformed", "-Infinity is not valid JSON"),
    ("jsonl-trailing-comma", "jsonl", b'{"text": "a b",}', (), "malformed", "not valid JSON"),
    ("jsonl-truncated", "jsonl", b'{"text": "a b', (), "malformed", "not valid JSON"),
    ("jsonl-single-quotes", "jsonl", b"{'text': 'a b'}", (), "malformed", "not valid JSON"),
    ("jsonl-raw-control-char", "jsonl", b'{"text": "a\tb"}', (), "malformed", "Invalid control character"),
    ("jsonl-duplicate-key", "jsonl", b'{"text": "a b", "text": "c d"}', (), "malformed", "duplicate key 'text'"),
    ("jsonl-nested-duplicate-key", "jsonl", b'{"text": "a b", "m": {"x": 1, "x": 2}}', (), "malformed", "duplicate key 'x'"),
    ("jsonl-array", "jsonl", b'["a", "b"]', (), "malformed", "expected a JSON object, got an array"),
    ("jsonl-string", "jsonl", b'"the cat"', (), "malformed", "got a string"),
    ("jsonl-number", "jsonl", b"42", (), "malformed", "got a number"),
    ("jsonl-missing-field", "jsonl", b'{"sentence": "a b"}', (), "malformed", "field 'text' must be a string (missing)"),
    ("jsonl-number-field", "jsonl", b'{"text": 17}', (), "malformed", "(int)"),
    ("jsonl-null-field", "jsonl", b'{"text": null}', (), "malformed", "(NoneType)"),
    ("jsonl-object-field", "jsonl", b'{"text": {"a": 1}}', (), "malformed", "(dict)"),
    ("jsonl-invalid-utf8", "jsonl", b'{"text": "caf\xe9"}', (), "invalid_utf8", "invalid UTF-8"),
    ("jsonl-nul", "jsonl", b'{"text": "a"}\x00', (), "nul_byte", "NUL byte at column 14"),
    ("tsv-too-many-columns", "tsv", b"a b\t1\textra", (), "wrong_columns", "3 tab-separated columns, expected 2"),
    ("tsv-too-few-columns", "tsv", b"no label here", (), "wrong_columns", "1 tab-separated columns, expected 2"),
    ("tsv-spaces-not-tabs", "tsv", b"a b    1", (), "wrong_columns", "expected 2"),
    ("tsv-invalid-utf8", "tsv", b"caf\xe9\t1", (), "invalid_utf8", "invalid UTF-8"),
    ("tsv-nul", "tsv", b"a\x00b\t1", (), "nul_byte", "NUL byte"),
]


def _case_corpus(tmp_path, fmt: str, bad: bytes) -> str:
    head, tail = GOOD[fmt]
    return write(tmp_path, f"c.{fmt}", head + bad + tail)


def assert_bad_line(capsys, tmp_path, model, corpus, line, reason, needles, extra=(), annotator="regex", analysed=2):
    """Raise names FILE:LINE and the problem; skip counts the line under ``reason`` and keeps its row."""
    rc, _, err = run_cli(capsys, model, corpus, str(tmp_path / "raise"), *extra, annotator=annotator)
    assert_error(rc, err, "CorpusError", f"{corpus}:{line}: ", *needles)
    out = str(tmp_path / "skip")
    rc, _, err = run_cli(capsys, model, corpus, out, "--on-error", "skip", *extra, annotator=annotator)
    assert rc == 0, err
    counts = headlens.open_run(out).manifest["counts"]
    assert counts["skipped_by_reason"] == {reason: 1}
    assert (counts["analysed"], counts["skipped"]) == (analysed, 1)
    bad = [r for r in sentences(out) if r["status"] == "skipped"]
    assert [r["source"] for r in bad] == [f"{corpus}:{line}"]
    assert bad[0]["reason"].startswith(reason + ": ") and needles[0] in bad[0]["reason"]


@pytest.mark.parametrize("fmt, bad, extra, reason, needle", [c[1:] for c in LINES], ids=[c[0] for c in LINES])
def test_bad_line(capsys, tmp_path, tiny_bert_dir, fmt, bad, extra, reason, needle):
    corpus = _case_corpus(tmp_path, fmt, bad)
    assert_bad_line(capsys, tmp_path, tiny_bert_dir, corpus, 2, reason, (needle,), (*EXTRA[fmt], *extra))


@pytest.mark.parametrize("fmt", ["txt", "jsonl", "tsv"])
def test_line_over_the_byte_limit(capsys, tmp_path, tiny_bert_dir, fmt):
    """Read past in chunks, never held whole; the error gives its size."""
    corpus = _case_corpus(tmp_path, fmt, b"a" * (MAX_LINE_BYTES + 10))
    size = f"{MAX_LINE_BYTES + 10:,} bytes"
    assert_bad_line(capsys, tmp_path, tiny_bert_dir, corpus, 2, "line_too_long", (size, "split it"), EXTRA[fmt])


def test_error_quotes_are_bounded(capsys, tmp_path, tiny_bert_dir):
    """An object with 100k keys and no text field: the message lists a few keys, not all of them."""
    keys = ", ".join(f'"k{i}": 1' for i in range(100_000))
    corpus = _case_corpus(tmp_path, "jsonl", ("{" + keys + "}").encode())
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(tmp_path / "run"))
    message = assert_error(rc, err, "CorpusError", f"{corpus}:2: ", "field 'text'", "(100,000 in all)")
    assert len(message) < 500


# -- CoNLL-U --------------------------------------------------------------------------------------

OK = "# text = a dog\n1\ta\ta\tDET\tDT\t_\t2\tdet\t_\t_\n2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n"


def _word(ident: str = "1", form: str = "the", head: str = "2") -> str:
    return f"{ident}\t{form}\t{form}\tDET\tDT\t_\t{head}\tdet\t_\t_"


CAT = "2\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_"

# (id, the bad sentence's lines, 1-based line of the fault inside it, what the error says)
CONLLU = [
    ("head-superscript-two", [_word(head="²"), CAT], 1, "HEAD '²' is not a word ID"),
    ("head-arabic-indic", [_word(head="\u0662"), CAT], 1, "ASCII digits"),
    ("head-fullwidth", [_word(head="\uff12"), CAT], 1, "HEAD '２'"),
    ("head-5000-digits", [_word(head=BIG), CAT], 1, "(5,000 characters)"),
    ("head-signed", [_word(head="+2"), CAT], 1, "HEAD '+2'"),
    ("head-out-of-range", [_word(head="7"), CAT], 1, "HEAD '7'"),
    ("id-superscript-two", [_word(), CAT.replace("2", "²", 1)], 2, "bad word ID '²'"),
    ("id-arabic-indic", [_word(ident="\u0661"), CAT], 1, "bad word ID"),
    ("id-5000-digits", [_word(ident=BIG), CAT], 1, "(5,000 characters)"),
    ("id-out-of-order", [_word(), CAT.replace("2", "3", 1)], 2, "out of order"),
    ("mwt-superscript", ["1-²\tthe\t_\t_\t_\t_\t_\t_\t_\t_", _word(), CAT], 1, "bad multiword-token range '1-²'"),
    ("mwt-reversed", ["2-1\tthe\t_\t_\t_\t_\t_\t_\t_\t_", _word(), CAT], 1, "bad multiword-token range '2-1'"),
    ("mwt-outside", ["2-5\tcats\t_\t_\t_\t_\t_\t_\t_\t_", _word(), CAT], 1, "outside the words"),
    ("empty-form", [_word(form=""), CAT], 1, "empty FORM, LEMMA field"),
    ("empty-head", [_word(head=""), CAT], 1, "empty HEAD field"),
    ("nine-fields", [_word().rsplit("\t", 1)[0], CAT], 1, "found 9"),
    ("eleven-fields", [_word() + "\textra", CAT], 1, "found 11"),
    ("comments-only", ["# sent_id = x", "# text = nothing"], 1, "no word lines"),
]


@pytest.mark.parametrize("lines, offset, needle", [c[1:] for c in CONLLU], ids=[c[0] for c in CONLLU])
def test_bad_conllu_sentence(capsys, tmp_path, tiny_bert_dir, lines, offset, needle):
    corpus = write(tmp_path, "c.conllu", OK + "\n" + "\n".join(lines) + "\n\n" + OK)
    line = OK.count("\n") + 1 + offset
    assert_bad_line(capsys, tmp_path, tiny_bert_dir, corpus, line, "malformed", (needle,), annotator="auto")


@pytest.mark.parametrize(
    "bad, reason, needle",
    [(b"2\td\xffg\tdog\tNOUN\tNN\t_\t0\troot\t_\t_", "invalid_utf8", "invalid UTF-8"),
     (b"2\td\x00g\tdog\tNOUN\tNN\t_\t0\troot\t_\t_", "nul_byte", "NUL byte")],
    ids=["invalid-utf8", "nul"],
)
def test_unreadable_conllu_line(capsys, tmp_path, tiny_bert_dir, bad, reason, needle):
    corpus = write(tmp_path, "c.conllu", OK.encode() + b"\n" + _word().encode() + b"\n" + bad + b"\n\n" + OK.encode())
    line = OK.count("\n") + 3
    assert_bad_line(capsys, tmp_path, tiny_bert_dir, corpus, line, reason, (needle,), annotator="auto")


# -- whole files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding, name", [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_wide_encodings_are_refused(capsys, tmp_path, tiny_bert_dir, encoding, name, on_error):
    corpus = write(tmp_path, "c.txt", "the cat sat\nthe dog ran\n".encode(encoding))
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(tmp_path / "run"), "--on-error", on_error)
    assert_error(rc, err, "CorpusError", f"{corpus}:1: ", f"the file is {name}", f"iconv -f {name} -t UTF-8")
    assert not (tmp_path / "run").exists()


# -- handled, not refused -------------------------------------------------------------------------

BOM = b"\xef\xbb\xbf"
CONLLU_CAT = "# text = the cat\n" + _word() + "\n" + CAT + "\n"

# (id, file name, content, extra options, (status, text, label) per item, skipped_by_reason)
HANDLED = [
    ("txt-bom-crlf", "c.txt", BOM + b"the cat sat\r\nthe dog ran\r\n", (),
     [("analysed", "the cat sat", None), ("analysed", "the dog ran", None)], {}),
    ("txt-joined-with-bom", "c.txt", BOM + b"the cat sat\n" + BOM + b"the dog ran\n", (),
     [("analysed", "the cat sat", None), ("analysed", "the dog ran", None)], {}),
    ("jsonl-bom-crlf", "c.jsonl", BOM + b'{"text": "the cat"}\r\n' + BOM + b'{"text": "the dog"}\r\n', (),
     [("analysed", "the cat", None), ("analysed", "the dog", None)], {}),
    ("tsv-crlf-label", "c.tsv", b"the cat\t1\r\nthe dog\t0\r\n", ("--label-column", "1"),
     [("analysed", "the cat", "1"), ("analysed", "the dog", "0")], {}),
    ("tsv-empty-text", "c.tsv", b"the cat\t1\n \t0\nthe dog\t0\n", ("--label-column", "1"),
     [("analysed", "the cat", "1"), ("skipped", " ", None), ("analysed", "the dog", "0")], {"empty_text": 1}),
    ("jsonl-empty-text", "c.jsonl", b'{"text": "the cat"}\n{"text": ""}\n{"text": "the dog"}\n', (),
     [("analysed", "the cat", None), ("skipped", "", None), ("analysed", "the dog", None)], {"empty_text": 1}),
    ("jsonl-valid-surrogate-pair", "c.jsonl", b'{"text": "the cat \\ud83d\\ude00"}\n', (),
     [("analysed", "the cat \U0001F600", None)], {}),
    ("conllu-bom-crlf", "c.conllu", BOM + CONLLU_CAT.replace("\n", "\r\n").encode(), (),
     [("analysed", "the cat", None)], {}),
    ("conllu-joined-with-bom", "c.conllu", BOM + CONLLU_CAT.encode() + b"\n" + BOM + OK.encode(), (),
     [("analysed", "the cat", None), ("analysed", "a dog", None)], {}),
]


@pytest.mark.parametrize("name, content, extra, expected, reasons", [c[1:] for c in HANDLED], ids=[c[0] for c in HANDLED])
def test_handled_input(capsys, tmp_path, tiny_bert_dir, name, content, extra, expected, reasons):
    """BOMs (at the start and where files were joined), CRLF, empty texts: a complete run, exact texts."""
    corpus = write(tmp_path, name, content)
    out = str(tmp_path / "run")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out, *extra, annotator="auto" if name.endswith(".conllu") else "regex")
    assert rc == 0, err
    assert [(r["status"], r["text"], r["label"]) for r in sentences(out)] == expected
    assert headlens.open_run(out).manifest["counts"]["skipped_by_reason"] == reasons



def test_corpus_that_is_a_device(capsys, tmp_path, tiny_bert_dir):
    """/dev/zero has no line end and no end: refused up front, not read forever."""
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    rc, _, err = run_cli(capsys, tiny_bert_dir, "/dev/zero", str(tmp_path / "run"), "--on-error", "skip")
    assert_error(rc, err, "CorpusError", "/dev/zero: ", "is a device", "write the corpus to a file")
    assert not (tmp_path / "run").exists()


def test_old_mac_line_endings(capsys, tmp_path, tiny_bert_dir):
    """A file with CR-only line endings is one line to a LF reader: refused, never one long sentence."""
    corpus = write(tmp_path, "mac.txt", b"the cat sat\rthe dog ran\rthe man went\r")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(tmp_path / "run"))
    assert_error(rc, err, "CorpusError", f"{corpus}:1: ", "carriage return (CR) at column 12", "Convert them to LF")


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_lines_read_by_chunks_equal_lines_read_one_by_one(tmp_path, monkeypatch, chunk):
    """iter_lines reads chunks and decodes a chunk's lines together when none can be bad: the Lines
    (numbers, texts, errors, reasons) are those of reading and decoding each line alone, whatever
    the chunk boundaries, for clean lines and every kind of bad line, with or without a final LF."""
    from headlens.corpus import lines

    limit = 16
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", limit)
    monkeypatch.setattr(lines, "_CHUNK", chunk)

    def one_by_one(path):  # the reader before chunks: one readline per line
        with open(path, "rb") as fh:
            number = 0
            while raw := fh.readline(limit + 1):
                number += 1
                if len(raw) > limit and not raw.endswith(b"\n"):
                    yield lines._decode(number, b"", lines._skip_rest(fh, len(raw)))
                else:
                    yield lines._decode(number, raw.rstrip(b"\n").rstrip(b"\r"), 0)

    pieces = [b"plain", b"", "caf\u00e9 \u4e2d".encode(), "\ufeffbom".encode(), b"n\x00ul", b"c\rr", b"crlf\r",
              b"bad \xff utf8", b"x" * limit, b"y" * (limit + 1), b"z" * (limit - 1) + b"\r", b"w" * (3 * limit + 5),
              b"\xe2\x82", b"tail"]
    rng = __import__("random").Random(chunk)
    for trial in range(40):
        body = b"\n".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        data = body + (b"\n" if rng.random() < 0.5 else b"")
        path = tmp_path / f"t{trial}.txt"
        path.write_bytes(data)
        assert list(lines.iter_lines(str(path))) == list(one_by_one(str(path))), data
