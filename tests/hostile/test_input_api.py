"""API arguments (issue 17, item 10): a string or a list where a list is meant; unknown analysis
and metric names fail at RunConfig construction with the valid ones; wrong types name the field."""

from __future__ import annotations

import pytest

import headlens
from headlens.config import RunConfig
from headlens.errors import ConfigError
from headlens.analyses.registry import analyses, available
from conftest import write
from test_bad_input import assert_error, cli

SPELLINGS = [
    ("analyses", "surface,roles", ("surface", "roles")),
    ("analyses", " surface , roles ,", ("surface", "roles")),
    ("analyses", ["surface", "roles"], ("surface", "roles")),
    ("analyses", ("surface",), ("surface",)),
    ("metrics", "prev,next", ("prev", "next")),
    ("metrics", ["prev"], ("prev",)),
    ("metrics", "", None),
    ("store_maps", "0,17", ("0", "17")),
    ("store_maps", [0, 17], ("0", "17")),
    ("store_maps", ["0", "weblog-1"], ("0", "weblog-1")),
]


@pytest.mark.parametrize("field, value, expected", SPELLINGS, ids=[f"{f}={v!r}" for f, v, _ in SPELLINGS])
def test_list_fields_take_a_string_or_a_list(field, value, expected):
    assert getattr(RunConfig(**{field: value}), field) == expected


OPTION_SPELLINGS = [
    ("roles", "relations", "nsubj,obj", ("nsubj", "obj")),
    ("roles", "relations", ["amod"], ("amod",)),
    ("syntax", "relations", "nsubj", ("nsubj",)),
    ("roles", "taus", "1,2.5", (1.0, 2.5)),
]


@pytest.mark.parametrize("analysis, field, value, expected", OPTION_SPELLINGS,
                         ids=[f"{a}.{f}={v!r}" for a, f, v, _ in OPTION_SPELLINGS])
def test_analysis_list_options_take_a_string_or_a_list(analysis, field, value, expected):
    from headlens.analyses.registry import ANALYSES

    if field == "taus":  # a statistics setting (headlens roles), not a run option
        assert getattr(ANALYSES[analysis].settings(**{field: value}), field) == expected
        return
    assert getattr(RunConfig(analyses=analysis, options={analysis: {field: value}}).options[analysis], field) == expected


WRONG = [("analyses", 5), ("analyses", ["surface", 2]), ("metrics", {"prev": 1}), ("store_maps", [True]), ("store_maps", {"0"})]
WRONG_OPTIONS = [("roles", "relations", [None], "RolesOptions"), ("syntax", "relations", 3.5, "SyntaxOptions")]


@pytest.mark.parametrize("analysis, field, value, owner", WRONG_OPTIONS, ids=[f"{a}.{f}={v!r}" for a, f, v, _ in WRONG_OPTIONS])
def test_wrong_option_types_name_the_option_and_class(analysis, field, value, owner):
    with pytest.raises(ConfigError, match=rf"The '{field}' parameter of {owner} must be a comma-separated string or a list of"):
        RunConfig(analyses=analysis, options={analysis: {field: value}})


@pytest.mark.parametrize("field, value", WRONG, ids=[f"{f}={v!r}" for f, v in WRONG])
def test_wrong_types_name_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"The '{field}' parameter of RunConfig must be a comma-separated string or a list of"):
        RunConfig(**{field: value})


@pytest.mark.parametrize("value", ["surfac", "surface,rols", ["Surface"]])
def test_unknown_analysis_lists_the_valid_ones(value):
    with pytest.raises(ConfigError) as e:
        RunConfig(analyses=value)
    assert "unknown analysis" in str(e.value)
    valid = str(e.value).split("Valid analyses: ")[1].rstrip(".").split(", ")
    assert set(analyses()) | {"roles", "syntax", "cluster"} <= set(valid) and valid == sorted(valid)


@pytest.mark.parametrize("value", ["prevv", "prev,nxt"])
def test_unknown_metric_lists_the_valid_ones(value):
    with pytest.raises(ConfigError) as e:
        RunConfig(metrics=value)
    assert "unknown metric(s)" in str(e.value) and all(m in str(e.value) for m in ("cls", "prev", "entropy"))
    assert len(available()) > 3


def test_no_analysis_is_refused():
    with pytest.raises(ConfigError, match="no metric selected"):
        RunConfig(analyses=" , ")


def test_cli_unknown_analysis_writes_nothing(capsys, tmp_path, tiny_bert_dir):
    corpus = write(tmp_path, "c.txt", "the cat sat\n")
    out = tmp_path / "run"
    rc, _, err = cli(capsys, "run", "--model", tiny_bert_dir, "--corpus", corpus, "--out", str(out), "--analyses", "surface,rols")
    assert_error(rc, err, "ConfigError", "unknown analysis ['rols']", "Valid analyses:", "surface")
    assert not out.exists()


CONLLU = "".join(
    f"# text = the {n} sat\n1\tthe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2\t{n}\t{n}\tNOUN\tNN\t_\t3\tnsubj\t_\t_\n"
    f"3\tsat\tsit\tVERB\tVBD\t_\t0\troot\t_\t_\n\n" for n in ("cat", "dog", "man", "woman", "cat", "dog")
)


def test_run_with_a_string_of_analyses(tmp_path, tiny_bert_dir):
    corpus = write(tmp_path, "c.conllu", CONLLU)
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=corpus, analyses="surface,roles",
                       progress=False)
    assert run.manifest["analyses"] == ["surface", "roles"]
    names = {m["name"] for m in run.manifest["metrics"]}
    assert {"prev", "cls"} <= names and any(m["analysis"] == "roles" for m in run.manifest["metrics"])
    assert run.manifest["counts"]["analysed"] == 6


SPEC_WRONG = [("text_column", -1), ("text_column", 1.5), ("text_column", ""), ("text_column", None), ("label_column", True),
              ("text_b_column", [1]), ("text_field", None), ("text_field", ""), ("text_b_field", 3), ("label_field", ["y"])]


@pytest.mark.parametrize("field, value", SPEC_WRONG, ids=[f"{f}={v!r}" for f, v in SPEC_WRONG])
def test_corpus_spec_columns_and_fields(field, value):
    """A negative index would silently read from the right (Python's fields[-1]); a float or list
    would fail deep in the reader."""
    with pytest.raises(ConfigError, match=rf"The '{field}' parameter of CorpusSpec must be"):
        headlens.CorpusSpec("c.tsv", **{field: value})
