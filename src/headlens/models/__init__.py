"""Model loading and the per-family adapters."""

from .adapters import ADAPTERS, BERT, Adapter, adapter_for, supported_model_types
from .loading import DEFAULT_MODEL_NAME, LoadedModel, default_model_path, load_model

__all__ = [
    "ADAPTERS",
    "BERT",
    "DEFAULT_MODEL_NAME",
    "Adapter",
    "LoadedModel",
    "adapter_for",
    "default_model_path",
    "load_model",
    "supported_model_types",
]
