"""Head ablation by hooks: exact against hand computations, one head at a time, stacked and replayed
passes equal single passes, the sweep's table, resume, and bad input."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from conftest import write
from test_finetune import ROWS, _tune
from tiny import FAMILIES, make_tiny, make_tiny_bert
from transformers import AttentionInterface

import headlens.analyses.ablation.sweep as sweep_module
from headlens.analyses.ablation.api import (AblationConfig, AblationHooks, AblationStats, ablate, ablation_table, detectable,
                               head_ablation, layer_ablation, load_result, parse_heads, sweep_ablations)
from headlens.analyses.ablation.view import ablation_view
from headlens.cli import main
from headlens.errors import ConfigError, ModelError
from headlens.finetune import load_classifier
from headlens.models import adapter_for
from headlens.stats import bootstrap_tost_p, mcnemar_exact, tost_p

TEXTS = ["the cat sat on the mat", "a man went to the new city with the good dog", "we play"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write(tmp_path_factory.mktemp("abl-data"), "dev.tsv", "\n".join(ROWS) + "\n")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, data):
    """A tiny BERT sequence classifier (2 layers x 4 heads) fine-tuned a few steps on ROWS."""
    root = tmp_path_factory.mktemp("abl")
    out = str(root / "clf")
    _tune(make_tiny_bert(str(root / "tiny"), seed=1), data, out, epochs=3)
    return out


def _hooks(path: str, mode: str = "uniform", dtype=torch.float64):
    model, tokenizer, _ = load_classifier(path)
    model.to(dtype)
    cfg = model.config
    hooks = AblationHooks(model, adapter_for(cfg.model_type), cfg.num_hidden_layers, cfg.num_attention_heads, mode)
    inputs = tokenizer(TEXTS, padding=True, return_tensors="pt")
    takes = inspect.signature(model.forward).parameters
    return hooks, {k: v for k, v in inputs.items() if k in takes}


def _masks(hooks, *ablations) -> torch.Tensor:
    masks = torch.zeros(hooks.num_layers, len(ablations), hooks.num_heads, dtype=torch.bool)
    for copy, a in enumerate(ablations):
        for layer, head in a.heads:
            masks[layer, copy, head] = True
    return masks


def _manual_logits(model, inputs, heads, mode, means=None) -> torch.Tensor:
    """Logits with the attention PROBABILITIES of ``heads`` replaced inside eager attention (no hooks):
    uniform 1/L over the non-padding keys, zero, or (mean) the head output replaced by ``means``."""
    valid = inputs["attention_mask"].bool()

    def attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
        scores = (query @ key.transpose(2, 3) * scaling).masked_fill(~valid[:, None, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # padding masked here: custom kernels may get no mask
        out = weights @ value  # [B, H, T, D]
        for layer, head in heads:
            if module.layer_idx != layer:
                continue
            if mode == "uniform":
                uniform = valid.to(weights.dtype) / valid.sum(-1, keepdim=True)
                out[:, head] = uniform[:, None, :].expand(-1, value.shape[2], -1) @ value[:, head]
            elif mode == "zero":
                out[:, head] = 0.0
            else:
                out[:, head] = means[layer, head]
        return out.transpose(1, 2).contiguous(), weights

    AttentionInterface.register("headlens_test_ablation", attention)
    model.set_attn_implementation("headlens_test_ablation")
    try:
        with torch.inference_mode():
            return model(**inputs).logits
    finally:
        model.set_attn_implementation("eager")


@pytest.mark.parametrize("mode", ["uniform", "zero", "mean"])
@pytest.mark.parametrize("which", ["head", "layer"])
def test_ablation_equals_a_manual_computation(classifier, mode, which):
    hooks, inputs = _hooks(classifier, mode)
    ablation = head_ablation(1, 2) if which == "head" else layer_ablation(0, hooks.num_heads)
    with torch.inference_mode(), hooks.attached():
        if mode == "mean":
            hooks.means = hooks.head_means([inputs])
        base, outputs = hooks.unablated(inputs)
        got = hooks.ablated(inputs, _masks(hooks, ablation), outputs)
    assert base.shape == got.shape and not torch.allclose(base, got)
    want = _manual_logits(hooks.model, inputs, ablation.heads, mode, hooks.means)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-10)
    torch.testing.assert_close(_manual_logits(hooks.model, inputs, (), mode), base, rtol=0, atol=1e-10)  # the manual path


def test_uniform_head_output_is_the_mean_value_over_non_padding_tokens(classifier):
    hooks, inputs = _hooks(classifier)
    seen, values = {}, {}
    hooks.on_context = lambda layer, ctx: seen.__setitem__(layer, ctx.clone())
    value_module = hooks.values[1]
    handle = value_module.register_forward_hook(lambda m, a, out: values.__setitem__("v", out.clone()))
    try:
        with torch.inference_mode(), hooks.attached():
            hooks.ablated(inputs, _masks(hooks, head_ablation(1, 3)), {})
    finally:
        handle.remove()
    d, valid = hooks.head_dim, inputs["attention_mask"].bool()
    v = values["v"][..., 3 * d:4 * d]  # [B, T, D]: head 3's values in layer 1
    for b in range(len(TEXTS)):
        want = v[b, valid[b]].mean(0)
        torch.testing.assert_close(seen[1][b, :, 3 * d:4 * d], want.expand(valid.shape[1], d), rtol=0, atol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_one_head_changes_exactly_that_heads_output(family, tmp_path, data):
    path = _tune(make_tiny(family, str(tmp_path / "enc")), data, str(tmp_path / "clf"), epochs=1).out
    hooks, inputs = _hooks(path)
    d = hooks.head_dim
    for layer, head in ((0, 1), (1, 2)):  # layer 1 also exercises the replay of layer 0
        contexts: dict[str, dict[int, torch.Tensor]] = {"base": {}, "ablated": {}}
        with torch.inference_mode(), hooks.attached():
            hooks.on_context = lambda la, ctx: contexts["base"].__setitem__(la, ctx.clone())
            base, outputs = hooks.unablated(inputs)
            hooks.on_context = lambda la, ctx: contexts["ablated"].__setitem__(la, ctx.clone())
            got = hooks.ablated(inputs, _masks(hooks, head_ablation(layer, head)), outputs)
        hooks.on_context = None
        a, b = contexts["base"][layer], contexts["ablated"][layer]
        for h in range(hooks.num_heads):
            same = torch.equal(a[..., h * d:(h + 1) * d], b[..., h * d:(h + 1) * d])
            assert same == (h != head), (family, layer, head, h)
        for below in range(layer):  # replayed, not recomputed: never run in the ablated pass
            assert below not in contexts["ablated"]
        assert not torch.equal(base, got)


def test_stacked_and_replayed_passes_equal_single_full_passes(classifier):
    hooks, inputs = _hooks(classifier)
    ablations = [head_ablation(1, 0), head_ablation(1, 3), layer_ablation(1, hooks.num_heads)]
    with torch.inference_mode(), hooks.attached():
        _, outputs = hooks.unablated(inputs)
        stacked = hooks.ablated(inputs, _masks(hooks, *ablations), outputs)
        single = [hooks.ablated(inputs, _masks(hooks, a), {}) for a in ablations]  # no replay: every layer runs
    torch.testing.assert_close(stacked, torch.cat(single), rtol=0, atol=1e-12)


def _config(classifier, data, out, **kw) -> AblationConfig:
    options = dict(model=classifier, dev=data, columns="text=0,label=1", out=out, heads="all", batch_size=3,
                   dtype="float64", progress=False)
    return AblationConfig(**{**options, **kw})


def test_sweep_gives_one_row_per_head_with_deltas_cis_and_p_values(classifier, data, tmp_path):
    result = ablate(_config(classifier, data, str(tmp_path / "sweep"), layers="all"))
    rows = result.table.to_pylist()
    heads = [r for r in rows if r["kind"] == "head"]
    assert [(r["layer"], r["head"]) for r in heads] == [(la, h) for la in range(2) for h in range(4)]
    assert [r["label"] for r in rows if r["kind"] == "layer"] == ["L1", "L2"]
    for r in rows:
        assert r["metric"] == "accuracy" and r["test"] == "mcnemar_exact" and r["n"] == len(ROWS)
        assert r["ci_low"] <= r["delta"] <= r["ci_high"] and 0 <= r["p"] <= r["q"] <= 1
        assert r["delta"] == pytest.approx(r["ablated"] - r["base"]) and r["delta"] == (r["better"] - r["worse"]) / r["n"]
        assert r["decision"] == "none" and r["underpowered"]  # 8 examples < min_n: no finding
    params = result.params
    assert params["families"]["accuracy"]["size"] == 10 and params["n"] == len(ROWS)
    assert params["base_scores"]["accuracy"] == rows[0]["base"]
    preds = pq.read_table(os.path.join(result.out, "parts")).to_pandas()
    assert len(preds) == len(ROWS) * (len(rows) + 1)
    # the baseline of the sweep is the classifier's own prediction
    again = load_result(result.out)
    assert again.table.equals(result.table)


def test_the_sweep_encodes_a_batch_at_a_time_and_streams_its_statistics(classifier, data, tmp_path, monkeypatch):
    """The dev set is never held encoded (issue 16): its lengths are taken LENGTH_CHUNK examples at a
    time, each batch is encoded when it runs; above boot_max_n the table is the streamed Poisson one,
    with the exact columns of the exact path."""
    sizes, real = [], sweep_module.encode
    monkeypatch.setattr(sweep_module, "LENGTH_CHUNK", 2)
    monkeypatch.setattr(sweep_module, "encode", lambda tok, ex, length: sizes.append(len(ex)) or real(tok, ex, length))
    stats = dict(metrics=("accuracy", "mcc"), n_boot=50, min_n=2)
    streamed = ablate(_config(classifier, data, str(tmp_path / "poisson"), stats=AblationStats(boot_max_n=2, **stats)))
    assert max(sizes) == 3 and sum(sizes) == 2 * len(ROWS)  # chunks of 2 for the lengths, batches of 3
    exact = ablate(_config(classifier, data, str(tmp_path / "exact"), stats=AblationStats(**stats)))
    assert streamed.params["ci_method"] == "poisson-bootstrap (n > 2)" and exact.params["ci_method"] == "percentile"
    assert streamed.params["base_scores"] == exact.params["base_scores"]
    a, b = streamed.table.to_pylist(), exact.table.to_pylist()
    keep = ("label", "metric", "base", "ablated", "delta", "flipped", "worse", "better")
    assert [{k: r[k] for k in keep} for r in a] == [{k: r[k] for k in keep} for r in b]
    assert [r["p"] for r in a if r["metric"] == "accuracy"] == [r["p"] for r in b if r["metric"] == "accuracy"]
    assert {r["test"] for r in a if r["metric"] == "mcc"} == {"paired_poisson_bootstrap"}


def test_stacking_does_not_change_the_sweep(classifier, data, tmp_path):
    one = ablate(_config(classifier, data, str(tmp_path / "one"), max_tokens=1))  # one copy per pass
    many = ablate(_config(classifier, data, str(tmp_path / "many"), max_tokens=100_000))
    a = pq.read_table(os.path.join(one.out, "parts")).sort_by([("example", "ascending"), ("ablation", "ascending")])
    b = pq.read_table(os.path.join(many.out, "parts")).sort_by([("example", "ascending"), ("ablation", "ascending")])
    assert a.equals(b)


def test_resume_after_a_partial_sweep_gives_identical_rows(classifier, data, tmp_path, monkeypatch):
    whole = ablate(_config(classifier, data, str(tmp_path / "whole"), mode="mean"))
    out = str(tmp_path / "cut")
    real, calls = sweep_module._run_batch, []

    def stop_after_one(*args, **kw):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(sweep_module, "_run_batch", stop_after_one)
    with pytest.raises(KeyboardInterrupt):
        ablate(_config(classifier, data, out, mode="mean"))
    monkeypatch.setattr(sweep_module, "_run_batch", real)
    assert sorted(os.listdir(os.path.join(out, "parts"))) == ["batch-00000.parquet"]
    assert not os.path.exists(os.path.join(out, "params.json"))
    with pytest.raises(ConfigError, match="--resume"):
        ablate(_config(classifier, data, out, mode="mean"))
    with pytest.raises(ConfigError, match="mode differ"):
        ablate(_config(classifier, data, out, mode="zero", resume=True))
    resumed = ablate(_config(classifier, data, out, mode="mean", resume=True, threads=1))
    assert resumed.params["batches_computed_now"] == resumed.params["batches"] - 1
    assert resumed.table.equals(whole.table)
    assert ablate(_config(classifier, data, out, mode="mean", resume=True)).table.equals(whole.table)  # complete
    with pytest.raises(ConfigError, match="batch_size differ"):
        ablate(_config(classifier, data, out, mode="mean", resume=True, batch_size=4))


def test_bad_input_is_refused(classifier, data, tmp_path):
    with pytest.raises(ConfigError, match=r"head L8H1 does not exist \(this model has L1-L2, H1-H4\)"):
        parse_heads("L8H1", 2, 4)
    with pytest.raises(ConfigError, match="old 0-based LAYER:HEAD form, no longer read; write the 1-based label L8H1"):
        parse_heads("7:0", 2, 4)
    with pytest.raises(ConfigError, match="not a head label such as L3H7"):
        parse_heads("3", 2, 4)
    with pytest.raises(ConfigError, match="layer L6 does not exist"):
        sweep_ablations(None, "L1,L6", 2, 4)
    with pytest.raises(ConfigError, match="write L1 for the 0-based layer 0"):
        sweep_ablations(None, "0", 2, 4)
    with pytest.raises(ConfigError, match="name what to remove"):
        sweep_ablations(None, None, 2, 4)
    with pytest.raises(ConfigError, match="L8H1 does not exist"):
        ablate(_config(classifier, data, str(tmp_path / "a"), heads="L8H1"))
    with pytest.raises(ConfigError, match="differ from the classifier's labels"):
        ablate(_config(classifier, data, str(tmp_path / "b"), labels=("1", "0")))
    encoder = make_tiny_bert(str(tmp_path / "encoder"))
    with pytest.raises(ModelError, match="no classification head"):
        ablate(_config(encoder, data, str(tmp_path / "c")))
    assert main(["ablate", "--model", encoder, "--dev", data, "--columns", "text=0,label=1", "--heads", "all",
                 "--out", str(tmp_path / "d")]) == 2
    assert not any(os.path.exists(tmp_path / n) for n in "abcd")
    with pytest.raises(ConfigError):
        AblationStats(metrics=("auc",))


def _dev(n: int, seed: int, fixed: int):
    """(rng, labels, baseline predictions 80% right, predictions with ``fixed`` of its errors fixed, none broken)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    base = np.where(rng.random(n) < 0.8, y, 1 - y)
    better = base.copy()
    better[np.flatnonzero(base != y)[:fixed]] = y[np.flatnonzero(base != y)[:fixed]]
    return rng, y, base, better


def test_statistics_of_a_sweep():
    n = 400
    rng, y, base, better = _dev(n, 0, 40)
    same = base.copy()
    noisy = base.copy()
    flip = rng.choice(n, 6, replace=False)
    noisy[flip] = 1 - noisy[flip]
    ablations = [head_ablation(0, 0), head_ablation(0, 1), head_ablation(0, 2)]
    table, families = ablation_table(y, base, np.stack([better, same, noisy]), ablations, "uniform", 2,
                                     AblationStats(metrics=("accuracy", "mcc"), min_effect=0.05))
    acc = [r for r in table.to_pylist() if r["metric"] == "accuracy"]
    assert acc[0]["p"] == mcnemar_exact(base == y, better == y).p and acc[0]["delta"] == 0.1
    assert acc[0]["decision"] == "helps" and not acc[0]["underpowered"]
    assert acc[1]["decision"] == "none" and acc[1]["p"] == 1.0 and acc[1]["delta"] == 0.0
    assert not acc[1]["underpowered"]  # a CI of [0, 0] rules out a 5-point change
    mcc = [r for r in table.to_pylist() if r["metric"] == "mcc"]
    assert mcc[0]["decision"] == "helps" and mcc[0]["test"] == "paired_bootstrap"
    assert families["accuracy"]["size"] == 3 and families["accuracy"]["members"] == ["L1H1", "L1H2", "L1H3"]
    small, _ = ablation_table(y[:50], base[:50], np.stack([better[:50]]), ablations[:1], "zero", 2, AblationStats())
    assert small.to_pylist()[0]["underpowered"] and small.to_pylist()[0]["decision"] == "none"
    assert detectable(139, 78, 0.05) == (12, 12 / 139) and detectable(139, 78, 0.05, "none")[0] == 6
    # RTE-sized: 139 examples, 72 tests: nothing under 8.6 points can be found, so "no change" is no finding
    blind, _ = ablation_table(y[:139], base[:139], np.stack([same[:139]] * 72), [head_ablation(k // 12, k % 12)
                              for k in range(72)], "uniform", 2, AblationStats())
    assert all(r["underpowered"] and r["decision"] == "none" for r in blind.to_pylist())


def test_cli_ablate(classifier, data, tmp_path, capsys):
    out = str(tmp_path / "cli")
    args = ["ablate", "--model", classifier, "--dev", data, "--columns", "text=0,label=1", "--layers", "all",
            "--heads", "L2H1", "--metrics", "accuracy,f1", "--n-boot", "200", "--out", out, "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "L1" in printed and "L2" in printed and "smallest detectable" in printed and "f1:" in printed
    assert main(args) == 2  # never overwritten
    assert main(args + ["--resume"]) == 0


def test_a_significant_change_below_min_effect_is_no_decision():
    _, y, base, slightly = _dev(4000, 1, 30)  # 30 of 4000 fixed: 0.75 points
    table, _ = ablation_table(y, base, slightly[None, :], [head_ablation(0, 0)], "zero", 2, AblationStats())
    row = table.to_pylist()[0]
    assert row["significant"] and row["q"] < 1e-6 and row["delta"] == 0.0075
    assert row["decision"] == "none"  # below --min-effect 0.01
    lower, _ = ablation_table(y, base, slightly[None, :], [head_ablation(0, 0)], "zero", 2, AblationStats(min_effect=0.005))
    assert lower.to_pylist()[0]["decision"] == "helps"


def test_tost_verdicts_on_planted_ablations():
    """Planted: an ablation that changes nothing (equivalent), one that fixes 5 points (changed) and one
    of 0.75 points, significant but within the 1-point margin and not shown inside it (inconclusive)."""
    n = 2000
    rng, y, base, big = _dev(n, 2, 100)
    small = base.copy()
    wrong = np.flatnonzero(base != y)
    small[wrong[:15]] = y[wrong[:15]]
    ablations = [head_ablation(0, 0), head_ablation(0, 1), head_ablation(0, 2)]
    table, families = ablation_table(y, base, np.stack([base, big, small]), ablations, "uniform", 2,
                                     AblationStats(metrics=("accuracy", "mcc"), n_boot=400))
    rows = {(r["metric"], r["head"]): r for r in table.to_pylist()}
    for metric in ("accuracy", "mcc"):
        assert rows[(metric, 0)]["verdict"] == "equivalent" and rows[(metric, 0)]["q_equiv"] <= 0.05
        assert rows[(metric, 1)]["verdict"] == "changed" and rows[(metric, 1)]["decision"] == "helps"
        assert families[f"{metric} equivalence"]["size"] == 3
    acc = rows[("accuracy", 2)]
    assert acc["significant"] and acc["delta"] == 0.0075 and acc["margin"] == 0.01
    assert acc["verdict"] == "inconclusive" and acc["q_equiv"] > 0.05
    # the accuracy TOST is the paired t TOST of the per-example correctness differences
    diff = (small == y).astype(float) - (base == y)
    assert acc["p_equiv"] == pytest.approx(float(tost_p(diff, 0.01, min_n=1)[0]), rel=1e-12)
    wider, _ = ablation_table(y, base, small[None, :], ablations[:1], "uniform", 2, AblationStats(min_effect=0.02))
    assert wider.to_pylist()[0]["verdict"] == "equivalent"  # 0.75 points is shown to be within 2
    few, _ = ablation_table(y[:50], base[:50], base[None, :50], ablations[:1], "uniform", 2, AblationStats())
    assert few.to_pylist()[0]["verdict"] == "inconclusive"  # below min_n: no verdict but inconclusive
    view, _ = ablation_view({"ablations": table}, {"alpha": 0.05}, 1, 3)
    panel = next(p for p in view["panels"] if p["key"]["metric"] == "accuracy")
    assert panel["verdict"] == ["equivalent", "changed", "inconclusive"]
    assert panel["verdicts"] == {"changed": 1, "equivalent": 1, "inconclusive": 1}


def test_bootstrap_tost_p():
    deltas = np.linspace(-0.02, 0.02, 399)
    assert bootstrap_tost_p(deltas, 0.05) == 1 / 400
    assert bootstrap_tost_p(deltas, 0.01) == pytest.approx((np.sum(deltas >= 0.01) + 1) / 400)
    assert bootstrap_tost_p(deltas, 0.0) == 1.0
    shifted = deltas + 0.035  # the whole interval beyond the margin: never equivalent
    assert bootstrap_tost_p(shifted, 0.01) == 1.0
