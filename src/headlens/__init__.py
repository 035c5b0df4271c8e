"""headlens: what each attention head of a BERT-family encoder does, over a real corpus.

>>> import headlens
>>> run = headlens.run(out="runs/demo", overwrite=True)   # embedded MiniLM + UD EWT sample
>>> run.top_heads("prev", k=3)
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
    "Run": ".store", "open_run": ".store",
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
    "available_metrics",
    "default_corpus_path",
    "default_model_path",
    "load_model",
    "open_run",
    "read_corpus",
    "run",
    "supported_model_types",
]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _WHERE[name] if isinstance(_WHERE[name], tuple) else (_WHERE[name], name)
    value = getattr(import_module(module, __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
