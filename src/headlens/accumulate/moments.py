"""Mergeable running statistics per cell: count, mean, variance (parallel update), min, max.

``update`` takes a batch of observations ``[n, *shape]`` (NaN = no observation for that cell);
``merge`` combines two accumulators exactly as if their observations had been seen in one
pass (Chan, Golub & LeVeque's parallel variance update), so shards, workers and resumed runs
combine. All arithmetic is float64.
"""

from __future__ import annotations

import numpy as np


class Moments:
    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)
        self.count = np.zeros(self.shape, dtype=np.int64)
        self.mean = np.zeros(self.shape, dtype=np.float64)
        self.m2 = np.zeros(self.shape, dtype=np.float64)
        self.min = np.full(self.shape, np.inf, dtype=np.float64)
        self.max = np.full(self.shape, -np.inf, dtype=np.float64)

    def update(self, values: np.ndarray) -> Moments:
        x = np.asarray(values, dtype=np.float64)
        if x.shape[1:] != self.shape:
            raise ValueError(f"expected observations of shape (n, {self.shape}), got {x.shape}")
        ok = np.isfinite(x)
        count = ok.sum(0)
        filled = np.where(ok, x, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, filled.sum(0) / np.maximum(count, 1), 0.0)
        m2 = (np.where(ok, x - mean, 0.0) ** 2).sum(0)
        other = Moments(self.shape)
        other.count, other.mean, other.m2 = count, mean, m2
        other.min = np.where(ok, x, np.inf).min(0, initial=np.inf)
        other.max = np.where(ok, x, -np.inf).max(0, initial=-np.inf)
        return self.merge(other)

    def merge(self, other: Moments) -> Moments:
        if other.shape != self.shape:
            raise ValueError(f"cannot merge accumulators of shapes {self.shape} and {other.shape}")
        n = self.count + other.count
        safe = np.maximum(n, 1)
        delta = other.mean - self.mean
        self.mean = np.where(n > 0, self.mean + delta * (other.count / safe), 0.0)
        self.m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / safe)
        self.count = n
        self.min = np.minimum(self.min, other.min)
        self.max = np.maximum(self.max, other.max)
        return self

    @property
    def var(self) -> np.ndarray:
        """Sample variance (ddof=1); NaN where fewer than two observations."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 1, self.m2 / np.maximum(self.count - 1, 1), np.nan)

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.var)

    def to_dict(self) -> dict:
        return {k: getattr(self, k).tolist() for k in ("count", "mean", "m2", "min", "max")} | {"shape": list(self.shape)}

    @classmethod
    def from_dict(cls, d: dict) -> Moments:
        m = cls(tuple(d["shape"]))
        m.count = np.asarray(d["count"], dtype=np.int64)
        for k in ("mean", "m2", "min", "max"):
            setattr(m, k, np.asarray(d[k], dtype=np.float64))
        return m
