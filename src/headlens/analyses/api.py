"""One function per analysis, for ``headlens.<name>(...)`` (``headlens/__init__.py``).

Each takes a run (a ``Run`` or its directory) and the analysis' settings, either as a settings
instance (``settings=RoleSettings(...)``) or as its fields (``alpha=0.01, taus=(2, 3)``), and
returns the analysis' result. Nothing is written unless ``save=True``; the command-line
subcommands (``headlens roles RUN``, ...) compute the same and save it. This module imports no
analysis until a function is called: ``import headlens`` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["attribution", "categories", "cluster", "compare", "decomposition", "open_run", "patterns", "probe", "roles", "syntax"]


def open_run(path, allow_incomplete: bool = False):
    """The run stored in directory ``path`` (made by ``headlens.run`` or ``headlens run``), as a ``Run``:
    its manifest, metrics and tables (``run.scores``, ``run.heads``, ``run.top_heads``). A run that
    did not finish is refused (RunStoreError) unless ``allow_incomplete``; the run is read, never
    changed."""
    from ..store import open_run as open_stored

    return open_stored(path, allow_incomplete=allow_incomplete)


def _run(run):
    from ..store import Run

    return run if isinstance(run, Run) else open_run(run)


def _settings(analysis: str, settings, fields: Mapping[str, object]):
    """The settings instance of ``analysis`` from an instance, a dict or None, with ``fields`` replaced."""
    from .registry import ANALYSES

    cls = ANALYSES[analysis].settings
    s = cls.coerce(settings, f"headlens.{analysis}", "settings")
    return s.replace(**fields) if fields else s


def roles(run, settings=None, *, save: bool = False, **fields):
    """Head roles (Pande et al. 2021) of a run made with ``analyses=("roles",)``: for every head, role
    and tau, H1 mean sieve score > tau by a t-test and a distribution-free test, corrected over the
    family. ``settings``/``fields``: ``RoleSettings`` (taus, alpha, correction, distribution_free,
    min_n, ...; ``RoleSettings.replicate("pande2021")`` gives the original procedure). Returns a
    ``RoleResult`` (``.table``, ``.roles_of(tau)``); ``save=True`` also writes RUN/roles/<name>/."""
    from .roles.stats import head_roles, save_roles

    r = _run(run)
    result = head_roles(r, _settings("roles", settings, fields))
    if save:
        save_roles(r, result)
    return result


def attribution(run, settings=None, *, save: bool = False, **fields):
    """Token attribution across layers of a run made with ``analyses=("attribution",)``: per method (rollout,
    norm-based rollout, ALTI, value zeroing), statistic and layer, the mean over sentences with a bootstrap CI; the
    agreement between methods per layer; paired tests between methods, corrected over the family.
    ``settings``/``fields``: ``AttributionSettings``. Returns a dict of tables (``layers``, ``agreement``,
    ``methods``) with the ``family`` and ``settings``; ``save=True`` also writes RUN/attribution/<name>/."""
    from .attribution.stats import attribution as summarise, save_attribution

    r = _run(run)
    result = summarise(r, _settings("attribution", settings, fields))
    if save:
        save_attribution(r, result)
    return result


def syntax(run, settings=None, *, save: bool = False, **fields):
    """Dependency-head accuracy (Clark et al. 2019, section 4) of a run made with ``analyses=("syntax",)``:
    every head against the best fixed-offset baseline per relation, by a paired bootstrap over
    sentences, corrected over relations x heads x directions. ``settings``/``fields``:
    ``SyntaxSettings``. Returns a ``SyntaxResult`` (``.heads``, ``.best``, ``.baselines``);
    ``save=True`` also writes RUN/syntax/<name>/."""
    from .syntax.stats import dependency_accuracy, save_syntax

    r = _run(run)
    result = dependency_accuracy(r, _settings("syntax", settings, fields))
    if save:
        save_syntax(r, result)
    return result


def cluster(run, settings=None, *, save: bool = False, **fields):
    """The head map (Clark et al. 2019, section 6) of a run made with ``analyses=("cluster",)``: metric
    MDS of the heads' Jensen-Shannon distances, each head labelled by its surface behaviour, and a
    permutation test that heads of one layer cluster. ``settings``/``fields``: ``ClusterSettings``.
    Returns a ``ClusterResult`` (``.heads`` with x, y and behaviour; ``.summary``)."""
    from .cluster.stats import cluster_heads, save_cluster

    r = _run(run)
    result = cluster_heads(r, _settings("cluster", settings, fields))
    if save:
        save_cluster(r, result)
    return result


def categories(run, settings=None, *, tuned=None, **fields):
    """Content- vs function-word attention (Jang et al. 2024) of a run made with
    ``analyses=("categories",)``: per head and layer means and cat_pref tested against 0; returns
    (tables, params). With ``tuned`` (fine-tuned runs of the same corpora; ``run`` is then the base
    run or a list of them), the change per task and layer instead: (table, params), as
    ``headlens categories``. ``settings``/``fields``: ``ChangeSettings``."""
    from .categories.stats import run_tables, task_bias

    s = _settings("categories", settings, fields)
    if tuned is None:
        return run_tables(_run(run), s)
    bases = [_run(b) for b in (run if isinstance(run, (list, tuple)) else [run])]
    return task_bias(bases, [_run(t) for t in ([tuned] if isinstance(tuned, str) else tuned)], s)


def patterns(run, thresholds: Mapping[str, float] | None = None, *, save: bool = False, name: str = "default"):
    """Attention pattern types (Kovaleva et al. 2019, section 4) of a run made with
    ``analyses=("patterns",)``: the share of vertical, diagonal, block, heterogeneous and
    vertical + diagonal maps per layer and head; ``thresholds`` (changes to
    ``patterns.metrics.THRESHOLDS``) reclassify the stored features. Returns (tables, params);
    ``save=True`` also writes RUN/patterns/<name>/."""
    from ...store.outputs import write_outputs
    from .patterns.stats import pattern_tables

    r = _run(run)
    tables, params = pattern_tables(r, dict(thresholds) if thresholds else None)
    if save:
        write_outputs(r, "patterns", name, tables, params)
    return tables, params


def compare(before, after, settings=None, *, metrics=None, force: bool = False, save: bool = False,
            name: str | None = None, **fields):
    """Paired before/after tests of every metric two runs of one corpus share (e.g. a base model and
    its fine-tuned version), per head and per layer: a head changed when the corrected paired t-test
    and the distribution-free test both reject. ``settings``/``fields``: ``ChangeSettings``
    (alpha, correction, distribution_free, min_n, ...). Returns (``Changes``, params); ``save=True``
    also writes AFTER/compare/<name>/."""
    from .compare.stats import compare_runs, save_compare

    b, a = _run(before), _run(after)
    changes, params = compare_runs(b, a, _settings("compare", settings, fields), force=force,
                                   metrics=list(metrics) if metrics else None)
    if save:
        save_compare(a, changes, params, name)
    return changes, params


def decomposition(run):
    """The norm-based decomposition (Kobayashi et al. 2020, 2021, 2024) of a run made with
    ``analyses=("decomposition",)`` or ``("decomposition_ff",)``: its ``layers``, ``ffpairs`` and
    ``tokens`` tables (``analyses/decomposition/stats.py`` derives the mixing ratios from them)."""
    from ...decompose.tables import read

    return read(_run(run))


def probe(train, eval, model=None, settings=None, *, device: str = "cpu", **fields):
    """Clark et al.'s attention-based parser probe and Coenen et al.'s pairwise probes, trained on one
    gold CoNLL-U file (``train``: its path or a ``CorpusSpec``) and scored on another (``eval``), with
    ``model`` (a directory, a hub id, a loaded model, or None for the embedded MiniLM) frozen.
    ``settings``/``fields``: ``ProbeSettings`` (features, lr, pairwise, n_boot, seed). Returns a
    ``ProbeResult`` (UAS per probe, the paired comparison with right-branching)."""
    from ...corpus.reader import CorpusSpec
    from ...models import load_model
    from .probe.run import probe as run_probe

    def spec(x):
        return x if isinstance(x, CorpusSpec) else CorpusSpec(str(x), format="conllu")

    lm = model if hasattr(model, "num_heads") else load_model(model, device=device)
    return run_probe(lm, spec(train), spec(eval), _settings("probe", settings, fields))
