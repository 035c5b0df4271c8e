"""Mergeable accumulators."""

from .moments import Moments

__all__ = ["Moments"]
