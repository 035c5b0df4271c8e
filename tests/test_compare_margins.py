"""compare's minimum effect and TOST equivalence: changed / equivalent / inconclusive per head."""

import numpy as np
import pytest
from conftest import UD_DEV, require_shared
from scipy import stats
from test_compare import _corpus

import headlens
from headlens.analyses.compare.changes import ChangeSettings, paired_changes
from headlens.analyses.compare.margins import margins, scale_of
from headlens.analyses.compare.stats import compare_runs
from headlens.cli import main
from headlens.errors import ConfigError
from headlens.stats import tost_p, tost_p_moments


def _one_head(before, after, **settings):
    """The verdict row of a single head (one layer of one head) of metric 'prev'."""
    changes = paired_changes({"prev": (before[:, None], after[:, None])}, heads=1, settings=ChangeSettings(**settings))
    return changes.heads.to_pylist()[0]


def test_a_planted_change_above_the_margin_is_changed():
    rng = np.random.default_rng(0)
    before = rng.uniform(0.2, 0.4, 200)
    row = _one_head(before, before + 0.03 + rng.normal(0, 0.01, 200))
    assert row["verdict"] == "changed" and row["changed"] and row["direction"] == "up"
    assert row["margin"] == 0.01 and row["delta"] > row["margin"]


def test_a_change_below_the_margin_with_huge_n_is_significant_but_equivalent():
    rng = np.random.default_rng(1)
    n = 20_000
    before = rng.uniform(0.2, 0.4, n)
    row = _one_head(before, before + 0.002 + rng.normal(0, 0.01, n))
    assert row["significant"] and row["q"] < 1e-6  # what compare called "changed" before the margin
    assert not row["changed"] and row["direction"] == ""
    assert row["verdict"] == "equivalent" and row["q_equiv"] < 0.05


def test_a_noisy_small_sample_is_inconclusive():
    rng = np.random.default_rng(2)
    before = rng.uniform(0.2, 0.4, 12)
    row = _one_head(before, before + rng.normal(0, 0.2, 12))
    assert row["verdict"] == "inconclusive" and not row["changed"]
    assert row["p_equiv"] > 0.05


def test_tost_p_is_the_larger_one_sided_t_p():
    rng = np.random.default_rng(3)
    D = rng.normal(0.004, 0.02, (60, 3))
    D[:7, 1] = np.nan
    m = np.array([0.01, 0.02, 0.0])
    got = tost_p(D, m, min_n=10)
    for j in range(2):
        d = D[~np.isnan(D[:, j]), j]
        want = max(stats.ttest_1samp(d, -m[j], alternative="greater").pvalue,
                   stats.ttest_1samp(d, m[j], alternative="less").pvalue)
        assert got[j] == pytest.approx(want, rel=1e-9)
    assert got[2] == 1.0  # a margin of 0 never shows equivalence
    d = D[~np.isnan(D[:, 1]), 1]
    assert tost_p_moments(len(d), d.mean(), d.std(ddof=1), 0.02) == pytest.approx(got[1], rel=1e-12)
    const = tost_p(np.full((20, 2), 0.003), [0.01, 0.002])
    assert list(const) == [0.0, 1.0]  # zero variance: inside the margin or not
    assert np.isnan(tost_p(D[:5], 0.01, min_n=10)).all()  # too few: not tested
    with pytest.raises(ValueError, match="margins must be >= 0"):
        tost_p(D, -0.1)


def test_each_metric_gets_a_margin_on_its_scale():
    s = ChangeSettings(margins=("cls=0.05",))
    assert [scale_of(m) for m in ("prev", "cat_pref", "pattern_entropy", "entropy", "word_cls_entropy",
                                  "role_local_w3", "dec_fnorm_cls", "dep_nsubj_d2h")] == \
        ["mass", "word", "mass", "nats", "nats", "relative", "relative", "relative"]
    assert list(margins("cat_recv_content", np.zeros(2), s)) == [0.001] * 2
    before = np.array([2.0, -4.0, np.nan])
    assert list(margins("prev", before, s)) == [0.01] * 3
    assert list(margins("entropy", before, s)) == [0.02] * 3
    assert list(margins("role_delim", before, s)) == pytest.approx([0.04, 0.08, 0.0])
    assert list(margins("cls", before, s)) == [0.05] * 3
    for bad in ("cls", "cls=-1", "=0.1", "cls=x"):
        with pytest.raises(ConfigError, match="METRIC=X"):
            ChangeSettings(margins=(bad,))
    with pytest.raises(ConfigError, match="margin_nats"):
        ChangeSettings(margin_nats=-0.1)


def test_cli_has_the_margin_flags(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = capsys.readouterr().out
    assert all(flag in out for flag in ("--margin-mass", "--margin-word", "--margin-nats", "--margin-relative", "--margin "))


def _batching_pair(root, **run):
    """Two runs of one corpus that differ only in --max-batch."""
    return [headlens.run(out=str(root / f"mb{b}"), max_batch=b, progress=False, **run) for b in (64, 3)]


def _assert_no_change(before, after):
    changes, params = compare_runs(before, after)
    delta = np.abs(np.asarray([d for d in changes.heads.column("delta").to_pylist() if d is not None]))
    for level in ("heads", "layers"):
        table = changes.heads if level == "heads" else changes.layers
        tested = [r for r in table.to_pylist() if r["status"] != "not enough data"]
        assert not changes.changed(level), f"{level}: {changes.changed(level)[:3]}"
        assert tested and {r["verdict"] for r in tested} == {"equivalent"}
    assert params["changed"] == {} and params["verdicts"]["heads"]["changed"] == 0
    assert params["verdicts"]["heads"]["equivalent"] == len([r for r in changes.heads.to_pylist() if r["status"] != "not enough data"])
    assert delta.max() > 0  # the batching did move some scores (by float rounding): the test is not vacuous


def test_tiny_runs_that_differ_only_in_batching_change_nothing(tmp_path, tiny_bert_dir):
    before, after = _batching_pair(tmp_path, model=tiny_bert_dir, corpus=_corpus(tmp_path / "c.txt", 40, 3),
                                   analyses=("surface",), annotator="regex")
    _assert_no_change(before, after)


@pytest.mark.integration
def test_minilm_runs_on_ud_that_differ_only_in_batching_change_nothing(tmp_path):
    spec = headlens.corpus.CorpusSpec(require_shared(UD_DEV), limit=200)
    before, after = _batching_pair(tmp_path, corpus=spec, analyses=("surface",))
    _assert_no_change(before, after)
