"""Non-ASCII and overlong digits in every index, ID and count headlens parses (issue 17, P7):
``str.isdigit()`` is true for '²', '٢' and '２', where ``int()`` fails or reads a wrong value."""

from __future__ import annotations

import pytest

from headlens.analyses.ablation.spec import parse_heads
from headlens.analyses.decomposition.stats import read_counts
from headlens.heads import parse_heads as figure_heads
from headlens.corpus import read_corpus
from headlens.digits import ascii_int, column_ref
from headlens.errors import ConfigError, CorpusError
from headlens.finetune.data import Columns
from conftest import write

HOSTILE = ["²", "\u0662", "\uff12", "1\u0662", "9" * 5000, "+1", "-1", " 1", "1 ", "", "1_000", "0x1"]


@pytest.mark.parametrize("text", HOSTILE, ids=[ascii(t)[:12] for t in HOSTILE])
def test_ascii_int_refuses(text):
    assert ascii_int(text) is None and column_ref(text) == text


def test_ascii_int_reads_ascii_digits():
    assert [ascii_int(t) for t in ("0", "007", "123456789012345678")] == [0, 7, 123456789012345678]
    assert ascii_int("1234567890", 9) is None and column_ref("12") == 12


@pytest.mark.parametrize("column", ["²", "9" * 5000])
def test_tsv_column_of_strange_digits_is_a_name(tmp_path, column):
    path = write(tmp_path, "c.tsv", "the cat\t1\n")
    with pytest.raises(CorpusError) as e:
        list(read_corpus(path, text_column=column, header="no"))
    assert "is a name, but the file is read without a header row" in str(e.value) and len(str(e.value)) < 400


def test_finetune_columns_of_strange_digits_are_names():
    assert Columns.parse("text=²,label=1") == Columns(text="²", label=1)


@pytest.mark.parametrize("spec", ["²:0", "0:\u0662", "9" * 5000 + ":0", "L²H1", "L1H\uff12", "L" + "9" * 5000 + "H1"])
def test_ablation_heads(spec):
    with pytest.raises(ConfigError, match="is not a head label such as L3H7") as e:
        parse_heads(spec, 2, 4)
    assert len(str(e.value)) < 300


@pytest.mark.parametrize("spec", ["²-1", "1-\uff12", "L\u0662H1"])
def test_figure_heads(spec):
    with pytest.raises(ConfigError, match="is not a head label such as L3H7"):
        figure_heads(spec)


@pytest.mark.parametrize("count", ["²", "\u0663", "9" * 5000])
def test_token_count_file(tmp_path, count):
    path = write(tmp_path, "counts.txt", f"the 10\ncat {count}\n")
    with pytest.raises(ConfigError, match=rf"{path}:2: expected 'token count'"):
        read_counts(path)
