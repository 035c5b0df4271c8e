"""Batching, hooks and the scoring engine."""

from .batch import AGGREGATIONS, Batch
from .batching import plan_batches
from .engine import Engine
from .hooks import AttentionCapture, hooks

__all__ = ["AGGREGATIONS", "AttentionCapture", "Batch", "Engine", "hooks", "plan_batches"]
