"""The attribution analysis' method, statistic and metric names, without torch (the registry, the statistics step
and the report read them; ``methods.py`` and ``reduce.py`` compute them)."""

from __future__ import annotations

from itertools import combinations

ANALYSIS = "attribution"
PREFIX = "attr_"
METHODS = ("rollout", "normroll", "alti", "vz")
DEFAULT_METHODS = METHODS[:3]  # value zeroing on request: T times a layer's feed-forward per sentence
METHOD_TITLES = {"rollout": "attention rollout", "normroll": "norm-based rollout (AttnResLn-N)", "alti": "ALTI",
                 "vz": "value zeroing", "flow": "attention flow"}
STATS = ("self", "special", "punct", "content", "function", "head", "deps", "other", "distance")
STAT_TEXT = {
    "self": "mean share of each token's own input token (context share = 1 - self)",
    "special": "mean share of [CLS]/[SEP] over the tokens of non-punctuation words",
    "punct": "mean share of punctuation tokens over the tokens of non-punctuation words",
    "content": "mean share of the other content words (Jang et al.'s categories), per word",
    "function": "mean share of the other function words, per word",
    "head": "mean share of the word's gold syntactic head (words that have one)",
    "deps": "mean share of the word's gold dependents (words that have some)",
    "other": "mean share of the other words that are neither head nor dependent",
    "distance": "mean distance in words to the other words, weighted by their share",
}


def stat_metric(method: str, stat: str) -> str:
    return f"{PREFIX}{method}_{stat}"


def agree_metric(a: str, b: str) -> str:
    return f"{PREFIX}agree_{a}_{b}"


def pairs(methods) -> list[tuple[str, str]]:
    return list(combinations(methods, 2))


def metric_names(methods) -> list[str]:
    """The metrics of a run computing ``methods`` (in ``METHODS`` order)."""
    methods = [m for m in METHODS if m in methods]
    return [stat_metric(m, s) for m in methods for s in STATS] + [agree_metric(a, b) for a, b in pairs(methods)]
