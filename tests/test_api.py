"""The public API and the CLI surface."""

import pytest

import headlens
from headlens.cli import main

EXPECTED = {
    "AnnotationError", "ConfigError", "CorpusError", "CorpusSpec", "HeadlensError", "ModelError", "Run", "RunConfig",
    "RunStoreError", "Sentence", "Word", "__version__", "available_metrics", "default_corpus_path",
    "default_model_path", "load_model", "open_run", "read_corpus", "run", "supported_model_types",
}


def test_exported_members():
    assert set(headlens.__all__) == EXPECTED
    for name in headlens.__all__:
        assert hasattr(headlens, name), name


def test_bad_parameter_message_shape():
    import pytest

    with pytest.raises(headlens.ConfigError, match=r"The 'max_tokens' parameter of RunConfig must be an int in the range \[1, inf\)\. Got 0 instead\."):
        headlens.RunConfig(max_tokens=0)
    with pytest.raises(headlens.ConfigError, match=r"Valid analyses: (\w+, )*roles, surface"):
        headlens.run(out="unused", analyses=("nope",))


def test_metrics_command_lists_every_metric(capsys):
    assert main(["metrics"]) == 0
    out = capsys.readouterr().out
    for name in headlens.available_metrics():
        assert name in out


@pytest.mark.integration
def test_run_command_on_embedded_defaults(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["run", "--out", str(out), "--limit", "25", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "25 analysed" in text and "top heads" in text and "prev" in text
    run = headlens.open_run(out)
    assert run.manifest["model"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert run.manifest["corpus"]["path"].endswith("en_ewt-ud-dev-sample.conllu")
