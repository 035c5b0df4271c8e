"""``compare``: two runs of the same corpus (e.g. a base and a fine-tuned model), paired over sentences.

Every metric both runs share is tested per head and per layer (see :mod:`.changes`). The runs
must have read the same corpus (same sha256) and computed their metrics the same way (word
aggregation, category mapping, relations, ...); otherwise :func:`compare_runs` raises unless
``force=True``. Sentences are paired by ``sentence_id`` and only those analysed in both runs
enter. The tables go to ``AFTER/compare/<name>/`` (default name ``vs-<before's directory>``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from ...errors import ConfigError
from ...store import Run
from .changes import ChangeSettings, Changes, paired_changes, settings_dict, summary
from ...stats import NOT_ENOUGH_DATA, ci_method_used
from ...stats.poisson import POISSON
from ..columns import PairedColumns, ScoreColumns
from ...store.outputs import write_outputs
from .changes import DECISION, verdicts_of
from .margins import describe

SETTINGS_THAT_CHANGE_METRICS = ("word_aggregation", "long")  # and each analysis' options (RunConfig.options)


def _fingerprint(run: Run, shared: set[str]) -> dict:
    """The settings that change what a metric measures; ``shared``: the analyses both runs ran, whose
    options must agree (an analysis only one run has adds no metric to compare)."""
    m = run.manifest
    cfg = m.get("config", {})
    out = {k: cfg.get(k) for k in SETTINGS_THAT_CHANGE_METRICS}
    out.update({f"{a} options": o for a, o in (cfg.get("options") or {}).items() if a in shared})
    out["annotator"] = (m.get("annotator") or {}).get("name")
    return out


def check_comparable(before: Run, after: Run, force: bool = False) -> list[str]:
    """Problems that make the two runs' scores incomparable (raised unless ``force``); returns them."""
    problems = []
    sha_a, sha_b = before.manifest["corpus"]["sha256"], after.manifest["corpus"]["sha256"]
    if sha_a != sha_b:
        problems.append(f"the runs read different corpora: {before.path} read {before.manifest['corpus']['path']} "
                        f"(sha256 {sha_a[:12]}...), {after.path} read {after.manifest['corpus']['path']} "
                        f"(sha256 {sha_b[:12]}...); paired tests need the same sentences")
    shared = set((before.manifest.get("config") or {}).get("options") or {}) & set(
        (after.manifest.get("config") or {}).get("options") or {})
    fa, fb = _fingerprint(before, shared), _fingerprint(after, shared)
    for k in fa:
        if fa[k] != fb[k]:
            problems.append(f"{k} differs ({fa[k]!r} vs {fb[k]!r}), so metrics of the same name measure different things")
    shape = lambda r: (r.manifest["model"]["num_layers"], r.manifest["model"]["num_heads"])  # noqa: E731
    if shape(before) != shape(after):
        raise ConfigError(f"the models have different shapes (layers x heads {shape(before)} vs {shape(after)}); "
                          "heads cannot be paired.")
    if problems and not force:
        raise ConfigError("cannot compare " + f"{before.path} with {after.path}: " + "; ".join(problems)
                          + ". Run both with the same corpus and options, or pass --force to compare anyway.")
    return problems


@contextmanager
def paired_columns(before: Run, after: Run, metrics: list[str]) -> Iterator[PairedColumns]:
    """The two runs' columns of ``metrics`` (one scan of each run's store, per head and per layer)
    over the sentences analysed in both, read block by block; the temporary files go on exit."""
    with ScoreColumns(before, metrics, layers=True) as b, ScoreColumns(after, metrics, layers=True) as a:
        yield PairedColumns(b, a)


def compare_runs(before: Run, after: Run, settings: ChangeSettings | None = None, force: bool = False,
                 metrics: list[str] | None = None) -> tuple[Changes, dict]:
    """Paired tests of every metric both runs share (or of ``metrics``); returns (changes, params)."""
    problems = check_comparable(before, after, force)
    shared = [m for m in before.metrics if m in set(after.metrics)]
    if metrics:
        missing = [m for m in metrics if m not in shared]
        if missing:
            raise ConfigError(f"metrics {missing} are not in both runs; shared: {', '.join(shared) or 'none'}.")
        shared = list(metrics)
    if not shared:
        raise ConfigError(f"{before.path} and {after.path} share no metric; run them with the same --analyses.")
    with paired_columns(before, after, shared) as pairs:
        changes = paired_changes(pairs, int(after.manifest["model"]["num_heads"]), settings)
        ids = pairs.sentence_ids
    tested = np.asarray(changes.heads["status"].to_pylist()) != NOT_ENOUGH_DATA
    params = {
        "before": {"path": before.path, "model": before.manifest["model"]["name"],
                   "weights_sha256": before.manifest["model"]["weights_sha256"]},
        "after": {"path": after.path, "model": after.manifest["model"]["name"],
                  "weights_sha256": after.manifest["model"]["weights_sha256"]},
        "corpus_sha256": after.manifest["corpus"]["sha256"],
        "forced_despite": problems,
        "sentences_paired": int(len(ids)),
        "metrics": shared,
        "delta": "after - before",
        "decision": DECISION,
        "margins": describe(changes.settings),
        "settings": settings_dict(changes.settings),
        "ci_method": ci_method_used("percentile", changes.settings.boot_max_n, np.asarray(changes.heads["n"])[tested],
                                    POISSON),
        "families": changes.families,
        "changed": summary(changes),
        "verdicts": verdicts_of(changes),
    }
    return changes, params


def save_compare(after: Run, changes: Changes, params: dict, name: str | None = None) -> str:
    name = name or "vs-" + os.path.basename(os.path.normpath(params["before"]["path"]))
    return write_outputs(after, "compare", name, {"heads": changes.heads, "layers": changes.layers}, params)
