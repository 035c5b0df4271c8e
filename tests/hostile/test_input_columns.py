"""Column sanity for TSV and JSONL (issue 17, item 7): a text column of labels, or a header read
as data, stops the run, with or without --on-error skip, naming the file and the first sampled
line, showing a short sample and the flags that read the file (the GLUE layouts by name)."""

from __future__ import annotations

import os

import pytest

from headlens.corpus import read_corpus
from headlens.corpus.columns import SAMPLE_ROWS
from headlens.errors import CorpusError
from headlens.finetune.data import Columns, read_examples
from conftest import SHARED, require_shared, write
from test_bad_input import assert_error, run_cli

SENTENCES = [f"the {a} {v} the {b}" for a, v, b in zip(["cat", "dog", "man", "woman"] * 3, ["sat on", "ran to", "saw", "went to"] * 3,
                                                          ["mat", "house", "city", "york"] * 3)]


def _rows(*columns: list[str]) -> str:
    return "".join("\t".join(r) + "\n" for r in zip(*columns))


LABELS = ["0", "1", "1", "0"] * 3
NLI = ["entailment", "not_entailment", "entailment"] * 4
SST2 = _rows(LABELS, SENTENCES)
COLA = _rows(SENTENCES, LABELS)
COLA_GLUE = _rows(["gj04"] * 12, LABELS, ["", "*", "", ""] * 3, SENTENCES)
SST2_HEADER = "sentence\tlabel\n" + _rows(SENTENCES, LABELS)
RTE = "index\tsentence1\tsentence2\tlabel\n" + _rows([str(i) for i in range(12)], SENTENCES, SENTENCES[::-1], NLI)
THREE = _rows(LABELS, ["x", "y"] * 6, SENTENCES)

# (id, file content, extra options, what the error says)
CASES = [
    ("sst2-default", SST2, (), ("text column 0 holds labels", "'0', '1', '1', '0', '0'", "SST-2's",
                                "use --text-column 1 --label-column 0.")),
    ("cola-text-is-label", COLA, ("--text-column", "1"), ("text column 1 holds labels", "CoLA's",
                                                          "use --text-column 0 --label-column 1.")),
    ("glue-cola-default", COLA_GLUE, (), ("text column 0 holds labels", "'gj04'", "GLUE CoLA's",
                                         "use --text-column 3 --label-column 1.")),
    ("sst2-header-as-data", SST2_HEADER, (), ("looks like a header ('sentence', 'label')", "SST-2's (header",
                                              "use --text-column sentence --label-column label.")),
    ("rte-header-as-data", RTE, (), ("looks like a header ('index', 'sentence1', 'sentence2', 'label')", "RTE's",
                                     "use --text-column sentence1 --text-b-column sentence2 --label-column label.")),
    ("rte-index-as-text", RTE, ("--header", "yes"), ("text column index holds labels", "'0', '1', '2', '3', '4'",
                                                     "--text-column sentence1 --text-b-column sentence2")),
    ("rte-label-as-text-b", RTE, ("--text-column", "sentence1", "--text-b-column", "label"),
     ("text_b column label holds labels", "'entailment', 'not_entailment'", "RTE's")),
    ("unknown-layout", THREE, (), ("text column 0 holds labels", "Use --text-column 2.")),
    ("unknown-layout-no-text", _rows(LABELS, ["x", "y"] * 6), (), ("text column 0 holds labels",
                                                                 "Name the one that holds the text: --text-column NAME.")),
    ("numbers-only", _rows([str(i * 7) for i in range(12)]), (), ("holds labels", "'0', '7', '14'")),
    ("jsonl-label-field", "".join(f'{{"y": "{lab}", "s": "{s}"}}\n' for lab, s in zip(LABELS, SENTENCES)),
     ("--text-field", "y"), ("text field 'y' holds labels", "Use --text-field s.")),
    ("jsonl-text-b-field", "".join(f'{{"a": "{s}", "b": "{lab}"}}\n' for lab, s in zip(NLI, SENTENCES)),
     ("--text-field", "a", "--text-b-field", "b"), ("text_b field 'b' holds labels", "'entailment'")),
]


@pytest.mark.parametrize("content, extra, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_text_column_of_labels(capsys, tmp_path, tiny_bert_dir, content, extra, needles, on_error):
    corpus = write(tmp_path, "c.jsonl" if content.startswith("{") else "c.tsv", content)
    line = 2 if "--header" in extra or "--text-b-column" in extra else 1
    out = tmp_path / "run"
    rc, _, err = run_cli(capsys, tiny_bert_dir, corpus, str(out), "--on-error", on_error, *extra)
    message = assert_error(rc, err, "ColumnError", f"{corpus}:{line}: ", *needles)
    assert len(message) < 400 + len(corpus)  # a few values, not the file
    assert not out.exists()  # refused before the run directory is made


@pytest.mark.parametrize(
    "content",
    [_rows(["cat", "dog", "house", "tree", "mat", "city"]),  # one-word items, all different
     _rows(SENTENCES, ["3.5"] * 12),  # the text column is text, the other numeric
     _rows(["1984", "42"] + SENTENCES)],  # a few numbers among sentences
    ids=["single-words", "numeric-label", "some-numbers"],
)
def test_text_columns_are_not_flagged(tmp_path, content):
    items = list(read_corpus(write(tmp_path, "c.tsv", content)))
    assert items and all(type(i).__name__ == "Sentence" for i in items)


def test_only_the_first_rows_are_sampled(tmp_path):
    """The check reads SAMPLE_ROWS rows ahead and no more: labels after them are data (streaming)."""
    content = _rows((SENTENCES * 10)[:SAMPLE_ROWS] + ["0", "1"] * 5)
    items = list(read_corpus(write(tmp_path, "c.tsv", content)))
    assert [i.text for i in items[-2:]] == ["0", "1"] and len(items) == SAMPLE_ROWS + 10


def test_finetune_swapped_columns_error_is_short(tmp_path):
    """SST-2 read as text=0,label=1: the advice is in --columns terms and a few lines long (was ~700 KB)."""
    path = write(tmp_path, "train.tsv", _rows(["0", "1"] * 5000, (SENTENCES * 1000)[:10000]))
    with pytest.raises(CorpusError) as e:
        read_examples(path, Columns.parse("text=0,label=1"))
    assert str(e.value).startswith(f"{path}:1: the text column 0 holds labels")
    assert str(e.value).endswith("use --columns text=1,label=0.") and len(str(e.value)) < 300


def test_finetune_label_column_of_text(tmp_path):
    rows = [f"{s} number {i}" for i, s in enumerate((SENTENCES * 20)[:200])]
    path = write(tmp_path, "pairs.tsv", _rows(rows, rows[::-1]))
    with pytest.raises(CorpusError, match=r"label column 1 has 200 different values in 200 rows .*\(200 in all\)\): it holds text"):
        read_examples(path, Columns.parse("text=0,label=1"))


def test_finetune_unknown_label_lists_few_labels(tmp_path):
    path = write(tmp_path, "dev.tsv", _rows(SENTENCES[:2], ["0", "x"]))
    labels = tuple(str(i) for i in range(1000))
    with pytest.raises(CorpusError) as e:
        read_examples(path, Columns.parse("text=0,label=1"), labels=labels)
    assert f"{path}:2: label 'x' is not one of the labels '0', '1'" in str(e.value)
    assert "(1,000 in all)" in str(e.value) and len(str(e.value)) < 400 + len(path)


# -- the real GLUE files --------------------------------------------------------------------------

GLUE = os.path.join(SHARED, "glue")
REAL = [
    ("SST-2", {}, "use --text-column 1 --label-column 0."),
    ("CoLA", {"text_column": 1}, "use --text-column 0 --label-column 1."),
    ("RTE", {}, "use --text-column sentence1 --text-b-column sentence2 --label-column label."),
    ("WNLI", {"header": "yes"}, "use --text-column sentence1 --text-b-column sentence2 --label-column label."),
]


@pytest.mark.integration
@pytest.mark.parametrize("task, options, advice", REAL, ids=[r[0] for r in REAL])
def test_real_glue_layouts(task, options, advice):
    path = require_shared(os.path.join(GLUE, task, "dev.tsv"))
    with pytest.raises(CorpusError) as e:
        list(read_corpus(path, **options))
    assert str(e.value).startswith(f"{path}:") and str(e.value).endswith(advice)


@pytest.mark.integration
@pytest.mark.parametrize("task, options", [
    ("SST-2", {"text_column": 1, "label_column": 0}),
    ("CoLA", {"text_column": 0, "label_column": 1}),
    ("RTE", {"text_column": "sentence1", "text_b_column": "sentence2", "label_column": "label"}),
])
def test_real_glue_files_read_with_the_advised_columns(task, options):
    items = list(read_corpus(require_shared(os.path.join(GLUE, task, "dev.tsv")), **options))
    assert len(items) > 100 and all(len(i.text.split()) > 1 for i in items[:50])
    assert {i.label for i in items} <= {"0", "1", "entailment", "not_entailment"}
