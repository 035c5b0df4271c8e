"""Head roles with hypothesis tests (Pande et al. 2021), over a run's per-sentence sieve scores.

For every head, role and threshold tau: H0 mean score <= tau against H1 mean score > tau, over
the sentences where the role is defined. Two tests per cell, each corrected across the whole
family of heads x roles x taus (the family is recorded): the one-sample t-test (ddof=1) and a
distribution-free test (Wilcoxon signed-rank by default, or the sign test). A head has a role
when both corrected tests reject at ``alpha``. Fewer than ``min_n`` sentences, or scores that
never vary, give a status instead of a role (never NaN, never a role by default).

``replicate="pande2021"`` gives the original choices: t statistic with the population standard
deviation (ddof=0), no correction, tau = 3, no second test, and the entropy-weighted block
score. It is kept for comparison with the paper; it is not the default because over 144 heads
x 20 roles an uncorrected 5% test claims several roles by chance alone (see docs/roles.md).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import ConfigError
from ...heads import head_label, head_of
from ...stats import CORRECTIONS, NOT_ENOUGH_DATA, Family, ci_method_used, one_sample, shared_resampling
from ...store import Run
from ...store.outputs import write_outputs
from ..columns import ScoreColumns, poisson_means
from ...stats.poisson import POISSON, large_ci
from .options import REPLICATIONS, RoleSettings  # noqa: F401 - the settings live with the options


def role_name(metric: str) -> str | None:
    """The role a sieve metric tests: local, delimiter, delimiter_cls, ..., syntactic:nsubj:d2h."""
    fixed = {"role_delim": "delimiter", "role_delim_cls": "delimiter_cls", "role_delim_sep": "delimiter_sep",
             "role_block": "block", "role_block_h": "block"}
    if metric in fixed:
        return fixed[metric]
    if re.fullmatch(r"role_local_w[0-9]+", metric):
        return "local"
    m = re.fullmatch(r"role_syn_(.+)_(d2h|h2d)", metric)
    return f"syntactic:{m[1]}:{m[2]}" if m else None


@dataclass
class RoleResult:
    settings: RoleSettings
    table: pa.Table  # one row per head x role x tau
    colocation: pa.Table
    layers: pa.Table
    families: dict
    ci_method: str = "percentile"  # of the mean's CI: the bootstrap, or the Poisson bootstrap above boot_max_n sentences

    def roles_of(self, tau: float | None = None) -> dict[str, set[tuple[int, int]]]:
        """role -> {(layer, head)} (0-based) of the heads that have it at ``tau`` (default: the first)."""
        tau = self.settings.taus[0] if tau is None else tau
        out: dict[str, set[tuple[int, int]]] = {}
        for r in self.table.to_pylist():
            if r["tau"] == tau and r["is_role"]:
                out.setdefault(r["role"], set()).add((r["layer"], r["head"]))
        return out


def role_metrics(run: Run, settings: RoleSettings) -> dict[str, str]:
    """metric -> role for the run's sieve metrics that these settings test."""
    other_block = "role_block_h" if settings.block == "role_block" else "role_block"
    out = {m: role_name(m) for m in run.metrics if role_name(m) and m != other_block}
    if not out:
        raise ConfigError(f"run {run.path} has no role scores; run it with --analyses roles.")
    return out


def _tests(x: np.ndarray, tau: float, s: RoleSettings):
    t = one_sample(x, popmean=tau, test="t", alternative="greater", ddof=s.ddof, min_n=s.min_n, ci=s.ci, n_boot=s.n_boot,
                   seed=s.seed, boot_max_n=s.boot_max_n)
    if s.distribution_free == "none":
        return t, None
    free = one_sample(x, popmean=tau, test=s.distribution_free, alternative="greater", min_n=s.min_n, ci=s.ci, n_boot=0, seed=s.seed)
    return t, free


_FIELDS = {"n": "n", "mean": "estimate", "ci_low": "ci_low", "ci_high": "ci_high", "effect": "effect",
           "statistic": "statistic", "p": "p", "status": "status"}


def _column_tests(run: Run, names: list[str], s: RoleSettings) -> tuple[dict, int, int]:
    """(tau, metric) -> the fields of its tests over every head, from one scan of the store and one
    block of columns at a time (the same numbers as testing all columns at once)."""
    out: dict[tuple[float, str], dict[str, list]] = {}
    with ScoreColumns(run, names) as cols, shared_resampling():  # every metric's block resamples the same rows
        for metric in names:
            for _, X in cols.blocks(metric):
                for tau in s.taus:
                    t, free = _tests(X, tau, s)
                    cell = out.setdefault((tau, metric), {k: [] for k in (*_FIELDS, "p_free", "effect_free")})
                    for name, field in _FIELDS.items():
                        cell[name] += list(getattr(t, field))
                    cell["p_free"] += list(free.p) if free is not None else [np.nan] * X.shape[1]
                    cell["effect_free"] += list(free.effect) if free is not None else [np.nan] * X.shape[1]
        if cols.n > s.boot_max_n:  # above it the mean's CI is the streamed Poisson bootstrap (stats.poisson)
            boot = poisson_means(cols, "heads", s.n_boot, s.seed)
            for (tau, metric), cell in out.items():
                cell["ci_low"], cell["ci_high"] = (list(x) for x in large_ci(
                    cell["ci_low"], cell["ci_high"], cell["n"], cell["status"], s.boot_max_n, boot[metric], s.ci))
        return out, cols.width, cols.heads


def head_roles(run: Run, settings: RoleSettings | None = None) -> RoleResult:
    s = settings or RoleSettings()
    metrics = role_metrics(run, s)
    cols: dict[str, list] = {k: [] for k in (
        "layer", "head", "label", "role", "metric", "tau", "n", "mean", "ci_low", "ci_high", "effect",
        "statistic", "p", "p_free", "effect_free", "status")}
    names = list(metrics)
    tests, k, heads = _column_tests(run, names, s)
    layer, head = head_of(np.arange(k), heads)
    for tau in s.taus:
        for m in names:
            cols["layer"] += list(layer)
            cols["head"] += list(head)
            cols["label"] += [head_label(a, b) for a, b in zip(layer, head)]
            cols["role"] += [metrics[m]] * k
            cols["metric"] += [m] * k
            cols["tau"] += [float(tau)] * k
            for name, values in tests[(tau, m)].items():
                cols[name] += values
    members = [f"{lab}/{role}/tau={tau:g}" for lab, role, tau in zip(cols["label"], cols["role"], cols["tau"])]
    p = np.asarray(cols["p"], dtype=float)
    fam_t = Family("roles: one-sample t, H1 mean > tau", members, s.correction, s.alpha)
    q, reject = fam_t.apply(p)
    families = {"t": fam_t.to_dict()}
    is_role = reject.copy()
    q_free = np.full_like(q, np.nan)
    if s.distribution_free != "none":
        fam_f = Family(f"roles: {s.distribution_free}, H1 > tau", members, s.correction, s.alpha)
        q_free, reject_free = fam_f.apply(np.asarray(cols["p_free"], dtype=float))
        families["distribution_free"] = fam_f.to_dict()
        is_role &= reject_free
    cols.update(q=list(q), q_free=list(q_free), is_role=list(is_role))
    table = _table(cols)
    tested = np.asarray(cols["status"]) != NOT_ENOUGH_DATA
    ci_method = ci_method_used("percentile", s.boot_max_n, np.asarray(cols["n"])[tested], POISSON)
    return RoleResult(s, table, _colocation(table, s.taus), _per_layer(table, s.taus, int(run.manifest["model"]["num_layers"])),
                      families, ci_method)


def _finite_or_none(values) -> list:
    return [None if v is None or (isinstance(v, float) and not np.isfinite(v)) else v for v in values]


def _table(cols: dict) -> pa.Table:
    ints = ("layer", "head", "n")
    floats = ("tau", "mean", "ci_low", "ci_high", "effect", "statistic", "p", "q", "p_free", "q_free", "effect_free")
    arrays = {}
    for k, v in cols.items():
        if k in ints:
            arrays[k] = pa.array([int(x) for x in v], pa.int32())
        elif k in floats:
            arrays[k] = pa.array(_finite_or_none([float(x) for x in v]), pa.float64())
        elif k == "is_role":
            arrays[k] = pa.array([bool(x) for x in v])
        else:
            arrays[k] = pa.array([str(x) for x in v])
    return pa.table(arrays)


def _colocation(table: pa.Table, taus) -> pa.Table:
    rows = []
    for tau in taus:
        have: dict[str, set] = {}
        for r in table.to_pylist():
            if r["tau"] == tau and r["is_role"]:
                have.setdefault(r["role"], set()).add((r["layer"], r["head"]))
        roles = sorted({r for r in table.column("role").to_pylist()})
        for a in roles:
            for b in roles:
                both = len(have.get(a, set()) & have.get(b, set()))
                na = len(have.get(a, set()))
                rows.append({"tau": float(tau), "role_a": a, "role_b": b, "heads_a": na, "heads_both": both,
                             "share_of_a": both / na if na else None})
    return pa.Table.from_pylist(rows)


def _per_layer(table: pa.Table, taus, layers: int) -> pa.Table:
    roles = sorted(set(table.column("role").to_pylist()))
    count = {(float(t), r, layer): 0 for t in taus for r in roles for layer in range(layers)}
    for r in table.to_pylist():
        if r["is_role"]:
            count[(r["tau"], r["role"], r["layer"])] += 1
    return pa.Table.from_pylist([{"tau": t, "role": r, "layer": layer, "heads": n} for (t, r, layer), n in count.items()])


def settings_dict(s: RoleSettings) -> dict:
    d = asdict(s)
    d["taus"] = list(s.taus)
    return d


def unsupported_claims(original: RoleResult, corrected: RoleResult) -> dict:
    """How many (head, role) claims of ``original`` (e.g. Pande et al.'s uncorrected procedure)
    ``corrected`` does not make, at the first tau of ``original``."""
    claimed = {(role, h) for role, heads in original.roles_of().items() for h in heads}
    kept = {(role, h) for role, heads in corrected.roles_of(original.settings.taus[0]).items() for h in heads}
    return {"tau": original.settings.taus[0], "original": len(claimed), "corrected": len(kept),
            "original_only": len(claimed - kept), "corrected_only": len(kept - claimed)}


def save_roles(run: Run, result: RoleResult) -> str:
    """Write the tables to ``runs/NAME/roles/<settings name>/`` and return that directory."""
    rows = result.table.filter(pc.equal(result.table["tau"], result.settings.taus[0])).to_pylist()
    params = {
        "settings": settings_dict(result.settings),
        "families": result.families,
        "ci_method": result.ci_method,
        "decision": "t" if result.settings.distribution_free == "none" else f"t and {result.settings.distribution_free}",
        "heads_per_role": {r: sum(1 for x in rows if x["role"] == r and x["is_role"]) for r in dict.fromkeys(x["role"] for x in rows)},
        "not_enough_data": sum(1 for x in rows if x["status"] != "ok"),
    }
    tables = {"heads": result.table, "colocation": result.colocation, "layers": result.layers}
    return write_outputs(run, "roles", result.settings.name, tables, params)


def finalize(run: Run) -> str:
    """The default tests of a finished ``--analyses roles`` run, saved under RUN/roles/default/."""
    return save_roles(run, head_roles(run))
