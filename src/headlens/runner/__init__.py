"""Batching, hooks and the scoring engine.

The names below are imported on first use (PEP 562), so that ``headlens.runner.batch``'s
constants (``AGGREGATIONS``) are read without importing torch or the model code. The hook
context manager is ``headlens.runner.hooks.hooks``: ``headlens.runner.hooks`` is its module.
"""

from ..lazy import lazy_exports

_WHERE = {
    "AGGREGATIONS": ".batch", "Batch": ".batch", "plan_batches": ".batching", "Engine": ".engine",
    "AttentionCapture": ".hooks",
}

__all__ = ["AGGREGATIONS", "AttentionCapture", "Batch", "Engine", "plan_batches"]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE, __all__)
