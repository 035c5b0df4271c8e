"""headlens: what each attention head of a BERT-family encoder does, over a real corpus.

>>> import headlens
>>> run = headlens.run(out="runs/demo", analyses="surface,roles", overwrite=True)  # embedded MiniLM + UD EWT sample
>>> run.top_heads("prev", k=3)
>>> headlens.roles(run, alpha=0.01).roles_of()      # the statistics step of each analysis, on the stored run
>>> headlens.report(run)                              # RUN/report.html

One function per analysis: ``roles``, ``syntax``, ``cluster``, ``categories``, ``patterns``,
``decomposition``, ``attribution``, ``compare`` and ``layers`` read a stored run; ``probe`` and ``ablate`` run a model. Their
settings are the typed options classes of ``headlens/analyses/<name>/options.py``.
"""

from importlib import import_module

from .errors import AnnotationError, ConfigError, CorpusError, HeadlensError, ModelError, RunStoreError
from .version import __version__

# Everything else is imported on first use (PEP 562): ``import headlens`` imports neither torch nor
# transformers; ``headlens.run`` and the model functions import them when called for.
_WHERE = {
    "RunConfig": ".config", "default_corpus_path": ".config",
    "CorpusSpec": ".corpus", "Sentence": ".corpus", "Word": ".corpus", "read_corpus": ".corpus",
    "available_metrics": (".analyses.registry", "available"),
    "default_model_path": ".models", "load_model": ".models", "supported_model_types": ".models",
    "run": ".pipeline",
    "Run": ".store", "open_run": ".analyses.api",
    # the analyses (headlens/analyses/api.py; ablate from its folder)
    "roles": ".analyses.api", "syntax": ".analyses.api", "cluster": ".analyses.api", "categories": ".analyses.api",
    "patterns": ".analyses.api", "decomposition": ".analyses.api", "compare": ".analyses.api", "probe": ".analyses.api",
    "attribution": ".analyses.api",
    "ablate": ".analyses.ablation.api", "layers": ".analyses.layers.api",
    # the report: the package itself is callable (headlens.report(run) is write_report)
    "report": (".report", None), "write_report": ".report", "write_figures": ".report",
}

__all__ = [
    "AnnotationError",
    "ConfigError",
    "CorpusError",
    "CorpusSpec",
    "HeadlensError",
    "ModelError",
    "Run",
    "RunConfig",
    "RunStoreError",
    "Sentence",
    "Word",
    "__version__",
    "ablate",
    "attribution",
    "available_metrics",
    "categories",
    "cluster",
    "compare",
    "decomposition",
    "default_corpus_path",
    "default_model_path",
    "layers",
    "load_model",
    "open_run",
    "patterns",
    "probe",
    "read_corpus",
    "report",
    "roles",
    "run",
    "supported_model_types",
    "syntax",
    "write_figures",
    "write_report",
]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _WHERE[name] if isinstance(_WHERE[name], tuple) else (_WHERE[name], name)
    imported = import_module(module, __name__)
    value = imported if attr is None else getattr(imported, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
