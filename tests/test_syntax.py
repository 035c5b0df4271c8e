"""Dependency-head accuracy against offset baselines, and head clustering by JS distance."""

import glob
import os
import random

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from test_roles_metrics import CONLLU
from tiny import WORDS
from wired import make_previous_token_bert

import headlens
from headlens.analyses.cluster.stats import cluster_heads
from headlens.analyses.syntax.stats import SyntaxSettings, dependency_accuracy
from headlens.analyses.cluster.stats import smacof
from headlens.cli import main
from headlens.analyses.cluster.collect import SMOOTHING
from headlens.errors import ConfigError, RunStoreError
from headlens.stats import paired_bootstrap, paired_ratio_bootstrap

FIRST = CONLLU.split("\n\n")[0] + "\n\n"  # the cat sat on the mat .


def _chain_conllu(n: int, seed: int = 0) -> str:
    """Sentences whose every word (but the first, the root) has the previous word as its head."""
    rng = random.Random(seed)
    plain = [w for w in WORDS if not w.startswith("##")]
    blocks = []
    for _ in range(n):
        words = [rng.choice(plain) for _ in range(rng.randint(8, 20))]
        rows = [f"{i + 1}\t{w}\t{w}\tX\t_\t_\t{i}\t{'root' if i == 0 else 'dep'}\t_\t_" for i, w in enumerate(words)]
        blocks.append(f"# text = {' '.join(words)}\n" + "\n".join(rows) + "\n")
    return "\n".join(blocks) + "\n"


@pytest.fixture(scope="module")
def wired_syntax(tmp_path_factory):
    root = tmp_path_factory.mktemp("wired-syntax")
    model = make_previous_token_bert(str(root / "model"))
    (root / "chain.conllu").write_text(_chain_conllu(40), encoding="utf-8")
    return headlens.run(out=str(root / "run"), model=model, corpus=str(root / "chain.conllu"), analyses=("syntax",),
                        options={"syntax": {"relations": ("dep", "all")}}, progress=False)


def test_previous_token_head_is_exact_and_picked_as_best(wired_syntax):
    result = dependency_accuracy(wired_syntax, SyntaxSettings(n_boot=200))
    best = {r["relation"]: r for r in result.best.to_pylist()}
    for rel in ("dep", "all"):
        b = best[rel]
        assert (b["layer"], b["head"], b["direction"]) == (0, 0, "d2h")
        assert b["accuracy"] == 1.0 and b["hits"] == b["arcs"] > 300
        assert b["baseline_offset"] == -1 and b["baseline_accuracy"] == 1.0  # the baseline is exact here too
        assert b["delta"] == 0.0 and not b["beats_baseline"]
    others = [r for r in result.heads.to_pylist() if (r["layer"], r["head"], r["direction"]) != (0, 0, "d2h")]
    assert max(r["accuracy"] for r in others) < 0.2  # uniform heads: ties go to the first word
    assert all(r["q"] is not None and r["q"] < 0.05 and not r["beats_baseline"] for r in others)  # worse than the baseline


def test_offset_baseline_equals_a_hand_count(tmp_path, tiny_bert_dir):
    (tmp_path / "one.conllu").write_text(FIRST, encoding="utf-8")
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=str(tmp_path / "one.conllu"),
                       analyses=("syntax",), options={"syntax": {"relations": ("det", "obl", "punct", "all")}}, progress=False)
    base = {(r["relation"], r["offset"]): (r["hits"], r["arcs"]) for r in dependency_accuracy(run).baselines.to_pylist()}
    # the->cat +1, cat->sat +1, on->mat +2, the->mat +1, mat->sat -3, .->sat -4 (punct: not in "all")
    hand = {"det": {1: 2}, "obl": {-3: 1}, "punct": {}, "all": {1: 3, 2: 1, -3: 1}}
    arcs = {"det": 2, "obl": 1, "punct": 1, "all": 5}
    for rel, hits in hand.items():
        for off in range(-3, 3):
            assert base[(rel, off)] == (hits.get(off, 0), arcs[rel]), (rel, off)


def _word_attention(maps: dict) -> tuple[np.ndarray, np.ndarray]:
    """Clark word attention [L, H, U, U] from a stored token map, and the unit kinds (word or not)."""
    a, unit = maps["attention"].astype(np.float64), maps["token_unit"]
    u = unit.max() + 1
    member = np.zeros((len(unit), u))
    member[np.arange(len(unit)), unit] = 1.0
    rows = (member / member.sum(0)).T
    return rows @ a @ member, maps["unit_word"] >= 0


def test_head_counts_match_an_argmax_on_stored_maps(tmp_path, tiny_bert_dir):
    (tmp_path / "c.conllu").write_text(CONLLU, encoding="utf-8")
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=str(tmp_path / "c.conllu"),
                       analyses=("syntax",), options={"syntax": {"relations": ("all",)}}, store_maps=("0", "1", "2", "3"), progress=False)
    scores = run.scores().to_pandas()
    for sid in range(4):
        z = np.load(os.path.join(run.path, "maps", f"sentence-{sid}.npz"))
        w, is_word = _word_attention(z)
        unit_of = {int(wd): k for k, wd in enumerate(z["unit_word"]) if wd >= 0}
        arcs = [(unit_of[d], unit_of[h]) for d, (h, rel) in enumerate(zip(z["word_head"], z["word_deprel"]))
                if h >= 0 and rel != "punct"]
        for direction, mat in (("d2h", w), ("h2d", np.swapaxes(w, -1, -2))):
            expect = np.zeros(w.shape[:2])
            for d, h in arcs:
                row = np.where(is_word & (np.arange(len(is_word)) != d), mat[:, :, d, :], -np.inf)
                expect += row.argmax(-1) == h
            got = scores[(scores.sentence_id == sid) & (scores.metric == f"dep_all_{direction}")]
            assert np.array_equal(got.sort_values(["layer", "head"]).value.to_numpy(), expect.ravel())


def test_ratio_bootstrap_equals_the_paired_bootstrap_per_column():
    rng = np.random.default_rng(1)
    arcs = rng.integers(1, 9, 60)
    base, heads = rng.binomial(arcs, 0.4), rng.binomial(arcs[:, None], [0.3, 0.5, 0.7], (60, 3))
    res = paired_ratio_bootstrap(arcs, base, heads, n_boot=300, seed=4)
    for j in range(3):
        ref = paired_bootstrap(arcs, base, heads[:, j], lambda y, p: p.sum() / y.sum(), n_boot=300, seed=4)
        assert res.delta[j] == pytest.approx(ref.estimate)
        assert (res.delta_low[j], res.delta_high[j]) == pytest.approx((ref.ci_low, ref.ci_high))
        assert res.p[j] == ref.p


@pytest.fixture(scope="module")
def cluster_runs(tmp_path_factory, tiny_bert_dir):
    root = tmp_path_factory.mktemp("cluster")
    (root / "c.conllu").write_text(CONLLU * 2, encoding="utf-8")
    runs = [headlens.run(out=str(root / f"run{p}"), model=tiny_bert_dir, corpus=str(root / "c.conllu"), part_size=p,
                         max_batch=p, analyses=("cluster",), store_maps=tuple(str(i) for i in range(8)), progress=False)
            for p in (2, 128)]
    return runs


def test_js_distances_are_symmetric_and_match_the_stored_maps(cluster_runs):
    run = cluster_runs[1]
    result = cluster_heads(run)
    d = result.distances
    assert np.allclose(d, d.T) and np.all(np.diag(d) == 0) and np.all(d[~np.eye(len(d), dtype=bool)] > 0)
    direct, tokens = np.zeros_like(d), 0
    for path in sorted(glob.glob(os.path.join(run.path, "maps", "*.npz"))):
        a = np.load(path)["attention"].astype(np.float64)  # [L, H, T, T]
        rows = a.reshape(-1, *a.shape[2:]).transpose(1, 0, 2)  # [T, K, T]
        rows = (1 - SMOOTHING) * rows + SMOOTHING / rows.shape[-1]
        tokens += rows.shape[0]
        for x in rows:
            direct += np.asarray([[jensenshannon(p, q) ** 2 for q in x] for p in x])
    assert tokens == result.tokens == sum(run.sentences()["n_tokens"].to_pylist())  # [CLS] and [SEP] rows count
    assert np.allclose(d, direct, rtol=1e-4, atol=1e-7)


def test_js_parts_merge_to_one_pass_and_a_missing_part_is_refused(cluster_runs):
    split, whole = cluster_runs
    assert len(glob.glob(os.path.join(split.path, "collect", "cluster", "part-*.npz"))) == 4
    assert np.allclose(cluster_heads(split).distances, cluster_heads(whole).distances, rtol=1e-6)
    assert os.path.exists(os.path.join(split.path, "cluster", "default", "params.json"))  # the finalizer ran
    os.rename(os.path.join(split.path, "collect", "cluster", "part-00001.npz"), os.path.join(split.path, "moved.npz"))
    with pytest.raises(RunStoreError, match="part-00001.npz is missing"):
        cluster_heads(split)


def test_mds_recovers_a_planar_configuration():
    pts = np.random.default_rng(0).normal(size=(12, 2))
    d = np.sqrt(((pts[:, None] - pts[None]) ** 2).sum(-1))
    x, stress = smacof(d)
    assert stress < 1e-4
    assert np.allclose(np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1)), d, atol=1e-3)


def test_cli_prints_best_heads_and_the_map(cluster_runs, wired_syntax, capsys):
    assert main(["syntax", wired_syntax.path, "--n-boot", "100", "--name", "cli"]) == 0
    out = capsys.readouterr().out
    assert "L1H1 d2h" in out and " 1.000 " in out and "baseline" in out
    assert main(["cluster", cluster_runs[1].path, "--n-perm", "50"]) == 0
    assert "within/between-layer" in capsys.readouterr().out
    assert main(["syntax", cluster_runs[1].path]) == 2  # a run without the syntax analysis: a clear error
    assert "--analyses syntax" in capsys.readouterr().err


def test_collectors_refuse_windows(tmp_path, tiny_bert_dir):
    (tmp_path / "c.conllu").write_text(FIRST, encoding="utf-8")
    with pytest.raises(ConfigError, match="--long window"):
        headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=str(tmp_path / "c.conllu"),
                     analyses=("syntax",), long="window", progress=False)


def test_interrupted_cluster_run_resumes_to_the_same_distances(cluster_runs, tiny_bert_dir, tmp_path, monkeypatch):
    from headlens.runner.engine import Engine

    score, calls = Engine.score, {"n": 0}

    def interrupt(self, batch, keep=()):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return score(self, batch, keep)

    opts = dict(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=cluster_runs[0].manifest["corpus"]["path"],
                part_size=2, max_batch=2, analyses=("cluster",), progress=False)
    monkeypatch.setattr(Engine, "score", interrupt)
    with pytest.raises(KeyboardInterrupt):
        headlens.run(**opts)
    monkeypatch.setattr(Engine, "score", score)
    assert len(glob.glob(os.path.join(opts["out"], "collect", "cluster", "part-*.npz"))) == 2  # the finished batches
    run = headlens.run(**opts, resume=True)
    assert run.manifest["resumed"][0]["parts_kept"] == 2
    assert np.allclose(cluster_heads(run).distances, cluster_heads(cluster_runs[1]).distances, rtol=1e-6)
