"""Head clustering (Clark et al. 2019, section 6): JS distances, metric MDS to 2-D, behaviour labels.

Distances come from the ``cluster`` collector (``collect/js.py``): the sum over every query token
of the corpus of the Jensen-Shannon divergence between two heads' attention rows, accumulated
while the run streamed (never from stored maps). The map is metric MDS (SMACOF, started from
classical MDS, so it is deterministic) of the per-token mean distance (the sum / tokens: the
same map up to scale).

Behaviour labels, from the run's token-level surface means per head (thresholds of Clark et
al.; the first that applies, in this order): ``prev`` / ``next`` (mean attention to the
previous / next token > 0.5), ``cls`` / ``sep`` / ``punct`` (> 0.6), ``broad`` (mean row entropy
> 3.8 nats; note that a sentence of n tokens has at most ln n, so short sentences never reach
3.8), else ``other``.

"Heads of one layer cluster": the ratio of the mean distance between heads of the same layer to
the mean distance between heads of different layers, with a one-sided permutation p (layer
labels shuffled over heads; a ratio this small or smaller by chance).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from ...collect import iter_parts
from ...errors import RunStoreError
from ...heads import all_heads, head_index, head_labels
from .metrics import BEHAVIOUR_METRICS
from ...store import Run, layout
from ...store.outputs import write_outputs
from .options import ClusterSettings

THRESHOLDS = (("prev", 0.5), ("next", 0.5), ("cls", 0.6), ("sep", 0.6), ("punct", 0.6), ("entropy", 3.8))
LABELS = {"entropy": "broad"}


@dataclass
class ClusterResult:
    settings: ClusterSettings
    heads: pa.Table  # layer, head, label, x, y, behaviour, the surface means
    distances: np.ndarray  # [K, K] sum over tokens of the JS divergence
    tokens: int
    summary: dict


def head_distances(run: Run) -> tuple[np.ndarray, int]:
    """([K, K] JS divergence summed over tokens, number of tokens), merged from the committed parts as
    they are read (memory: one part)."""
    total, tokens = 0, 0
    for part in iter_parts(run, "cluster"):
        total = total + part["js_sum"]
        tokens += int(part["tokens"])
    if not np.allclose(total, total.T) or np.any(np.diag(total) != 0):
        raise RunStoreError(f"{run.path}: the stored head distances are not symmetric with a zero diagonal.")
    return total, tokens


def classical_mds(d: np.ndarray, dim: int = 2) -> np.ndarray:
    n = len(d)
    j = np.eye(n) - 1.0 / n
    w, v = np.linalg.eigh(-0.5 * j @ (d ** 2) @ j)
    top = np.argsort(w)[::-1][:dim]
    x = v[:, top] * np.sqrt(np.clip(w[top], 0, None))
    return x * np.where(x[np.abs(x).argmax(0), range(dim)] < 0, -1, 1)  # a fixed sign per axis


def smacof(d: np.ndarray, dim: int = 2, max_iter: int = 500, tol: float = 1e-9) -> tuple[np.ndarray, float]:
    """Metric MDS by SMACOF (Guttman transform); returns the points and Kruskal's stress-1."""
    x, n = classical_mds(d, dim), len(d)
    last = np.inf
    for _ in range(max_iter):
        dist = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
        stress = ((d - dist) ** 2).sum() / 2
        if last - stress < tol * max(last, 1e-300):
            break
        last = stress
        ratio = np.divide(d, dist, out=np.zeros_like(d), where=dist > 0)
        b = -ratio
        b[np.diag_indices(n)] = ratio.sum(1)
        x = b @ x / n
    dist = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    return x, float(np.sqrt(((d - dist) ** 2).sum() / max((d ** 2).sum(), 1e-300)))


def layer_clustering(d: np.ndarray, layer_of: np.ndarray, n_perm: int, seed: int) -> dict:
    off = ~np.eye(len(d), dtype=bool)

    def ratio(layers):
        same = (layers[:, None] == layers[None]) & off
        return d[same].mean() / d[~same & off].mean()

    observed = ratio(layer_of)
    rng = np.random.default_rng(seed)
    null = np.asarray([ratio(rng.permutation(layer_of)) for _ in range(n_perm)])
    return {"within_between_ratio": float(observed), "null_mean": float(null.mean()),
            "p": float((1 + np.sum(null <= observed)) / (1 + n_perm)), "n_perm": n_perm, "seed": seed}


def behaviours(run: Run, layers: int, heads: int) -> dict[str, np.ndarray]:
    missing = [m for m in BEHAVIOUR_METRICS if m not in run.metrics]
    if missing:
        raise RunStoreError(f"run {run.path} has no {', '.join(missing)} scores; run it with --analyses cluster.")
    out = {}
    for m in BEHAVIOUR_METRICS:
        t = run.heads(m)
        v = np.full(layers * heads, np.nan)
        v[head_index(t["layer"].to_numpy().astype(int), t["head"].to_numpy(), heads)] = t["mean"].to_numpy(zero_copy_only=False)
        out[m] = v
    return out


def cluster_heads(run: Run, settings: ClusterSettings | None = None) -> ClusterResult:
    s = settings or ClusterSettings()
    model = run.manifest["model"]
    layers, heads = int(model["num_layers"]), int(model["num_heads"])
    total, tokens = head_distances(run)
    if tokens == 0:
        raise RunStoreError(f"run {run.path} analysed no tokens: nothing to cluster.")
    points, stress = smacof(total / tokens, max_iter=s.max_iter)
    means = behaviours(run, layers, heads)
    layer, head = all_heads(layers, heads)
    label = np.full(len(layer), "other", dtype=object)
    for metric, threshold in reversed(THRESHOLDS):  # the first rule that applies wins
        label[means[metric] > threshold] = LABELS.get(metric, metric)
    table = pa.table({
        "layer": layer, "head": head, "label": head_labels(layers, heads),
        "x": points[:, 0], "y": points[:, 1], "behaviour": [str(x) for x in label],
        **{m: means[m] for m in BEHAVIOUR_METRICS},
    })
    summary = {"tokens": tokens, "stress1": stress, "layer_clustering": layer_clustering(total, layer, s.n_perm, s.seed),
               "behaviours": {b: int(np.sum(label == b)) for b in dict.fromkeys(label.tolist())},
               "thresholds": {LABELS.get(m, m): t for m, t in THRESHOLDS}}
    return ClusterResult(s, table, total, tokens, summary)


def save_cluster(run: Run, result: ClusterResult) -> str:
    k = len(result.distances)
    a, b = np.divmod(np.arange(k * k), k)
    dist = pa.table({"a": a, "b": b, "js_sum": result.distances.ravel(), "js_mean": result.distances.ravel() / result.tokens})
    params = {"settings": asdict(result.settings), **result.summary}
    return write_outputs(run, "cluster", result.settings.name, {"heads": result.heads, "distances": dist}, params)


def finalize(run: Run) -> str:
    """The default head map of a finished ``--analyses cluster`` run, saved under RUN/cluster/default/."""
    return save_cluster(run, cluster_heads(run))
