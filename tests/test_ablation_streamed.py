"""The ablation statistics in one streamed pass over the sweep's parts (issue 16): exact where the
in-memory table is exact, the Poisson bootstrap above ``boot_max_n`` independent of the parts, and
close to the exact bootstrap on a planted case; bad parts named."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headlens.analyses.ablation.api import AblationStats, ablation_table, head_ablation
from headlens.analyses.ablation.parts import iter_parts, part_path, write_part
from headlens.analyses.ablation.results import parts_table
from headlens.analyses.ablation.view import ablation_view
from headlens.errors import RunStoreError
from headlens.finetune.scores import classification_scores
from headlens.stats.poisson import PoissonConfusion, PoissonMeans, poisson_weights

ABLATIONS = [head_ablation(0, h) for h in range(4)]
EXACT = ("flipped", "worse", "better", "base", "ablated", "delta", "n")  # every metric; accuracy: p and decisions too


def _sweep(n: int, classes: int, seed: int = 0):
    """(labels, predictions [5, n]): a baseline 80% right; ablation 0 changes nothing, 1 fixes 6% of the
    examples, 2 breaks 3%, 3 breaks 2% and fixes as many others (no change, 4% discordant)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    base = np.where(rng.random(n) < 0.8, y, (y + 1 + rng.integers(0, classes - 1, n)) % classes)
    wrong, right = np.flatnonzero(base != y), np.flatnonzero(base == y)
    fixed, broken = base.copy(), base.copy()
    fixed[wrong[: int(0.06 * n)]] = y[wrong[: int(0.06 * n)]]
    broken[right[: int(0.03 * n)]] = (y[right[: int(0.03 * n)]] + 1) % classes
    noisy, k = base.copy(), int(0.02 * n)
    swap_right, swap_wrong = rng.choice(right, k, replace=False), rng.choice(wrong, k, replace=False)
    noisy[swap_right] = (y[swap_right] + 1) % classes
    noisy[swap_wrong] = y[swap_wrong]
    return y, np.stack([base, base, fixed, broken, noisy])


def _parts(pred: np.ndarray, size: int, seed: int | None = None):
    order = np.arange(pred.shape[1]) if seed is None else np.random.default_rng(seed).permutation(pred.shape[1])
    return [(order[s:s + size], pred[:, order[s:s + size]]) for s in range(0, len(order), size)]


def _rows(table: pa.Table, metric: str) -> list[dict]:
    return [r for r in table.to_pylist() if r["metric"] == metric]


@pytest.mark.parametrize("classes", [2, 3])
def test_poisson_path_keeps_every_exact_column_of_the_in_memory_table(classes):
    y, pred = _sweep(3000, classes)
    exact, fam_exact = ablation_table(y, pred[0], pred[1:], ABLATIONS, "uniform", classes,
                                      AblationStats(metrics=("accuracy", "f1", "mcc"), n_boot=300, boot_max_n=10_000))
    streamed, fam = parts_table(_parts(pred, 7, seed=1), y, ABLATIONS, "uniform", classes,
                                AblationStats(metrics=("accuracy", "f1", "mcc"), n_boot=300, boot_max_n=1000))
    for metric in ("accuracy", "f1", "mcc"):
        a, b = _rows(exact, metric), _rows(streamed, metric)
        for ra, rb in zip(a, b):
            assert {k: ra[k] for k in EXACT} == pytest.approx({k: rb[k] for k in EXACT}, rel=1e-12, abs=0)
            assert ra["ci_method"] == "percentile" and rb["ci_method"] == "poisson-bootstrap (n > 1000)"
        if metric == "accuracy":  # McNemar and the paired t TOST are exact on both paths
            assert [r["p"] for r in a] == [r["p"] for r in b] and [r["q"] for r in a] == [r["q"] for r in b]
            assert [(r["significant"], r["decision"]) for r in a] == [(r["significant"], r["decision"]) for r in b]
            assert [r["p_equiv"] for r in a] == pytest.approx([r["p_equiv"] for r in b], rel=1e-9)
            assert [r["q_equiv"] for r in a] == pytest.approx([r["q_equiv"] for r in b], rel=1e-9)
            assert [r["verdict"] for r in a] == [r["verdict"] for r in b]
        else:
            assert {r["test"] for r in a} == {"paired_bootstrap"} and {r["test"] for r in b} == {"paired_poisson_bootstrap"}
    assert "poisson" in fam["mcc"]["name"] and "poisson" in fam["accuracy"]["name"]
    assert "poisson" not in fam_exact["mcc"]["name"]
    # the observed scores are classification_scores' own
    assert _rows(streamed, "mcc")[2]["ablated"] == classification_scores(y, pred[3], classes)["mcc"]
    assert [r["decision"] for r in _rows(streamed, "accuracy")] == ["none", "helps", "hurts", "none"]
    view, _ = ablation_view({"ablations": streamed}, {"alpha": 0.05}, 1, 4)
    assert {p["ci_method"] for p in view["panels"]} == {"poisson-bootstrap (n > 1000)"}  # the report says so


def test_exact_path_from_parts_equals_the_in_memory_table():
    """At or below boot_max_n the parts are gathered and the exact bootstrap runs as before: identical."""
    y, pred = _sweep(600, 2)
    s = AblationStats(metrics=("accuracy", "f1"), n_boot=200)
    whole, _ = ablation_table(y, pred[0], pred[1:], ABLATIONS, "zero", 2, s)
    streamed, _ = parts_table(_parts(pred, 7, seed=3), y, ABLATIONS, "zero", 2, s)
    assert streamed.equals(whole)


def test_poisson_path_does_not_depend_on_the_parts():
    y, pred = _sweep(2500, 3, seed=4)
    s = AblationStats(metrics=("accuracy", "f1", "mcc"), n_boot=250, boot_max_n=100, seed=7)
    small, _ = parts_table(_parts(pred, 7, seed=5), y, ABLATIONS, "uniform", 3, s)
    large, _ = parts_table(_parts(pred, 1000), y, ABLATIONS, "uniform", 3, s)
    assert small.equals(large)  # the weights are integers keyed by example id: the sums are exact
    other, _ = parts_table(_parts(pred, 1000), y, ABLATIONS, "uniform", 3,
                           AblationStats(metrics=("accuracy", "f1", "mcc"), n_boot=250, boot_max_n=100, seed=8))
    assert other.column("ci_low") != small.column("ci_low")  # the seed does change the replicates


def test_poisson_accuracy_ci_is_the_poisson_mean_of_the_correctness_differences():
    y, pred = _sweep(1500, 2, seed=6)
    s = AblationStats(n_boot=400, boot_max_n=100, seed=2)
    table, _ = parts_table(_parts(pred, 64, seed=0), y, ABLATIONS, "uniform", 2, s)
    ok = (pred == y[None, :]).astype(np.float64)
    low, high = PoissonMeans(400, 4).update(np.arange(1500), (ok[1:] - ok[0]).T, seed=2).ci(0.95)
    rows = _rows(table, "accuracy")
    assert [r["ci_low"] for r in rows] == pytest.approx(low, rel=1e-12, abs=1e-15)
    assert [r["ci_high"] for r in rows] == pytest.approx(high, rel=1e-12, abs=1e-15)


def test_poisson_confusion_matrices_equal_weighted_counts_by_hand():
    y, pred = _sweep(300, 3, seed=9)
    got = PoissonConfusion(5, 3, 40, seed=1)
    for ids, part in _parts(pred, 13, seed=2):
        got.update(ids, y[ids], part)
    w = poisson_weights(np.arange(300), 40, seed=1)
    want = np.zeros((5, 40, 3, 3))
    for row in range(5):
        np.add.at(want[row].transpose(1, 2, 0), (y, pred[row]), w)
    assert np.array_equal(got.matrices(), want)


def test_poisson_ci_is_close_to_the_exact_bootstrap_and_covers_the_planted_change():
    """Planted: ablation 1 fixes 6% of 4,000 examples, ablation 3 breaks 2% and fixes 2% (no change).
    The Poisson CI lies within 15% of the exact bootstrap CI's width of it, and covers the planted
    change."""
    y, pred = _sweep(4000, 2, seed=11)
    metrics = ("accuracy", "f1", "mcc")
    exact, _ = ablation_table(y, pred[0], pred[1:], ABLATIONS, "uniform", 2,
                              AblationStats(metrics=metrics, n_boot=500, boot_max_n=10_000))
    poisson, _ = parts_table(_parts(pred, 32), y, ABLATIONS, "uniform", 2,
                             AblationStats(metrics=metrics, n_boot=500, boot_max_n=1000))
    for metric in metrics:
        for e, p in list(zip(_rows(exact, metric), _rows(poisson, metric)))[1:]:  # ablation 0: CI [0, 0] on both
            width = e["ci_high"] - e["ci_low"]
            assert width > 0
            assert abs(p["ci_low"] - e["ci_low"]) < 0.15 * width and abs(p["ci_high"] - e["ci_high"]) < 0.15 * width
            assert p["ci_low"] <= p["delta"] <= p["ci_high"]
            assert (p["p"] <= 0.01) == (e["p"] <= 0.01)
    acc = _rows(poisson, "accuracy")
    assert acc[1]["ci_low"] < 0.06 < acc[1]["ci_high"] and acc[0]["ci_low"] == acc[0]["ci_high"] == 0.0


def test_bad_parts_are_named(tmp_path):
    y, pred = _sweep(40, 2)
    (tmp_path / "parts").mkdir()
    for b, (ids, part) in enumerate(_parts(pred, 16)):
        write_part(part_path(str(tmp_path), b), ids, part)
    s = AblationStats(boot_max_n=10)
    table, _ = parts_table(iter_parts(str(tmp_path), 3, 4), y, ABLATIONS, "uniform", 2, s)
    assert table.equals(parts_table(_parts(pred, 40), y, ABLATIONS, "uniform", 2, s)[0])
    with pytest.raises(RunStoreError, match="batch-00003.parquet: the prediction part of batch 3 is missing"):
        list(iter_parts(str(tmp_path), 4, 4))
    with pytest.raises(RunStoreError, match="hold 32 of the dev set's 40 examples; continue the sweep with --resume"):
        parts_table(iter_parts(str(tmp_path), 2, 4), y, ABLATIONS, "uniform", 2, s)
    with pytest.raises(RunStoreError, match="an example twice"):
        parts_table(_parts(pred, 16) + _parts(pred, 16)[:1], y, ABLATIONS, "uniform", 2, s)
    with pytest.raises(RunStoreError, match=r"batch-00000.parquet: 80 rows are not 6 blocks"):
        list(iter_parts(str(tmp_path), 3, 5))
    with pytest.raises(RunStoreError, match=r"batch-00000.parquet: the blocks of the prediction part do not list"):
        list(iter_parts(str(tmp_path), 3, 3))  # 80 rows are 4 blocks of 20, but not the right ones
    pq.write_table(pa.table({"example": pa.array([0], pa.int64())}), part_path(str(tmp_path), 1))
    with pytest.raises(RunStoreError, match=r"batch-00001.parquet: the prediction part has columns \['example'\]"):
        list(iter_parts(str(tmp_path), 3, 4))
    (tmp_path / "parts" / "batch-00001.parquet").write_bytes(b"PAR1 not parquet")
    with pytest.raises(RunStoreError, match="batch-00001.parquet: the prediction part cannot be read"):
        list(iter_parts(str(tmp_path), 3, 4))
