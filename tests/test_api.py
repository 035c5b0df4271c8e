"""The public API and the CLI surface."""

import pytest

import headlens
from headlens.cli import main

EXPECTED = {
    "AnnotationError", "ConfigError", "CorpusError", "CorpusSpec", "HeadlensError", "ModelError", "Run", "RunConfig",
    "RunStoreError", "Sentence", "Word", "__version__", "available_metrics", "default_corpus_path",
    "default_model_path", "load_model", "open_run", "read_corpus", "run", "supported_model_types",
    # one function per analysis, and the report
    "roles", "syntax", "cluster", "categories", "patterns", "decomposition", "attribution", "compare", "probe", "ablate",
    "layers",
    "report", "write_report", "write_figures",
}


def test_exported_members():
    assert set(headlens.__all__) == EXPECTED
    assert len(set(headlens.__all__)) == len(headlens.__all__)
    for name in headlens.__all__:
        assert hasattr(headlens, name), name


def test_every_exported_name_is_documented():
    import inspect

    for name in headlens.__all__:
        value = getattr(headlens, name)
        if name == "__version__":
            assert isinstance(value, str) and value
            continue
        doc = value.__doc__  # its own, not one inherited from a builtin
        assert doc and doc.strip() and not doc.startswith(f"{getattr(value, '__name__', name)}("), \
            f"headlens.{name} has no docstring"
        assert inspect.getdoc(value), name


def test_every_analysis_is_exposed():
    """Each analysis with a statistics step is one function of the top-level API."""
    from headlens.analyses.registry import ANALYSES

    exposed = {"ablation": "ablate", "decomposition_ff": "decomposition", "surface_rows": None, "surface": None,
               "features": None}  # surface and features: headlens.run and Run.top_heads
    for name in ANALYSES:
        fn = exposed.get(name, name)
        if fn is not None:
            assert callable(getattr(headlens, fn)), f"analysis {name!r} has no headlens.{fn}"


def test_the_report_package_is_the_report_function(tmp_path):
    import headlens.report as package

    assert headlens.report is package and callable(package) and package.write_report is headlens.write_report


def test_the_analysis_functions_import_no_model():
    import subprocess
    import sys

    code = ("import sys, headlens\n"
            "for n in ('open_run', 'roles', 'syntax', 'cluster', 'categories', 'compare', 'decomposition', 'report',"
            " 'write_report'):\n    getattr(headlens, n)\n"
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\nassert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


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
