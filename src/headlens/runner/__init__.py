"""Batching, hooks and the scoring engine.

The names below are imported on first use (PEP 562), so that ``headlens.runner.batch``'s
constants (``AGGREGATIONS``) are read without importing torch or the model code. The hook
context manager is ``headlens.runner.hooks.hooks``: ``headlens.runner.hooks`` is its module.
"""

from importlib import import_module

_WHERE = {
    "AGGREGATIONS": ".batch", "Batch": ".batch", "plan_batches": ".batching", "Engine": ".engine",
    "AttentionCapture": ".hooks",
}

__all__ = ["AGGREGATIONS", "AttentionCapture", "Batch", "Engine", "plan_batches"]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
