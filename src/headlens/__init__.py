"""headlens: what each attention head of a BERT-family encoder does, over a real corpus.

>>> import headlens
>>> run = headlens.run(out="runs/demo", overwrite=True)   # embedded MiniLM + UD EWT sample
>>> run.top_heads("prev", k=3)
"""

from .config import RunConfig, default_corpus_path
from .corpus import CorpusSpec, Sentence, Word, read_corpus
from .errors import AnnotationError, ConfigError, CorpusError, HeadlensError, ModelError, RunStoreError
from .metrics import available as available_metrics
from .models import default_model_path, load_model, supported_model_types
from .pipeline import run
from .store import Run, open_run

__version__ = "0.1.0"

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
