"""The one-pass CPU attention-statistics kernel (runner/onepass.py, runner/csrc/onepass.cpp).

Each output is compared with an explicit float64 softmax of the same inputs, over row blocks and
task splits that do and do not divide the sequence; a run through it equals the flash path's run
and the eager maps; where it cannot be built the run takes the flash calls and its manifest says
why. The kernel is built once per machine (torch's extensions cache) and loaded once per session.
"""

import json

import pytest
import torch
from test_fused import DEFAULT, TOL, _both, _gold_corpus, _max_diff, _values

import headlens
from headlens.runner import fused, onepass


@pytest.fixture(scope="session")
def kernel():
    ok, why = onepass.available()
    if not ok:
        pytest.skip(f"the one-pass kernel cannot be built here: {why}")
    return onepass.onepass


def _inputs(b: int, t: int, h: int = 3, d: int = 8, m: int = 3, n: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn((b, t, h, d), generator=g) * s for s in (2.0, 1.0, 1.0))  # the model's layout
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    lengths[0] = t
    valid = torch.arange(t)[None, :] < lengths[:, None]
    bias = torch.zeros((b, t)).masked_fill(~valid, float("-inf"))
    weights = torch.rand((b, t, m), generator=g) * valid[..., None]
    receivers = torch.rand((b, t, n), generator=g) * valid[..., None]
    return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), bias, weights, receivers, valid


def _explicit(q, k, v, bias, weights, receivers, scale, reach):
    q, k, v, bias, weights, receivers = (x.double() for x in (q, k, v, bias, weights, receivers))
    p = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * scale + bias[:, None, None, :], -1)
    lse = torch.logsumexp(torch.matmul(q, k.transpose(-1, -2)) * scale + bias[:, None, None, :], -1)
    t = q.shape[2]
    band = torch.stack([torch.diagonal(torch.nn.functional.pad(p, (reach, reach)), offset=o + reach, dim1=-2, dim2=-1)
                        for o in range(-reach, reach + 1)], -1)  # p(i, i + o), 0 outside
    return (torch.matmul(p, v).transpose(1, 2), lse, -torch.special.xlogy(p, p).sum(-1),
            torch.matmul(p, weights[:, None]), torch.matmul(p.transpose(-1, -2), receivers[:, None]), band[..., :t, :])


@pytest.mark.parametrize("b,t,reach,block", [(1, 1, 0, 1 << 17), (3, 7, 2, 1 << 17), (4, 33, 3, 50), (2, 130, 5, 1000)])
def test_every_output_equals_the_float64_map(kernel, b, t, reach, block):
    q, k, v, bias, weights, receivers, valid = _inputs(b, t)
    scale = 8 ** -0.5
    got = kernel(q, k, v, bias, scale, weights, receivers, reach, block=block)
    want = _explicit(q, k, v, bias, weights, receivers, scale, reach)
    names = ("out", "lse", "entropy", "masses", "received", "band")
    assert got[5].shape[-1] == (2 * reach + 1 if reach else 0)  # reach 0: no band
    for name, x, y in zip(names[:5] + names[5:] * bool(reach), got, want):
        assert x.shape == y.shape, name
        rows = (valid[:, :, None, None] if name == "out" else valid[:, None, :]).double()
        while rows.dim() < x.dim():
            rows = rows[..., None]
        assert float(((x.double() - y) * rows).abs().max()) < TOL, name  # padded query rows are ignored
    received, band = got[4], got[5]
    assert torch.all(received.masked_select(~valid[:, None, :, None].expand_as(received)) == 0)  # padding keys
    if reach:
        assert band[..., 0, :reach].abs().max() == 0  # before the first token


def test_row_blocks_and_task_splits_do_not_change_the_results(kernel):
    q, k, v, bias, weights, receivers, _ = _inputs(5, 40)
    whole = kernel(q, k, v, bias, 0.3, weights, receivers, 4, block=1 << 20)
    for block in (1, 39, 41, 500):
        for x, y in zip(whole, kernel(q, k, v, bias, 0.3, weights, receivers, 4, block=block)):
            assert torch.allclose(x, y, rtol=0, atol=1e-6)


def test_bad_input_names_the_argument(kernel):
    q, k, v, bias, weights, receivers, _ = _inputs(2, 5)
    with pytest.raises(RuntimeError, match="q must be float32"):
        kernel(q.double(), k, v, bias, 0.3, weights, receivers, 1)
    with pytest.raises(RuntimeError, match="weights must be"):
        kernel(q, k, v, bias, 0.3, weights[:, :3], receivers, 1)


def _manifest(run) -> dict:
    with open(run.path + "/manifest.json") as fh:
        return json.load(fh)


def test_a_run_on_the_kernel_equals_the_flash_path_and_eager(kernel, tiny_bert_dir, tmp_path, monkeypatch):
    """Default analyses on gold UD (masses, entropy, the band, arcs, the received attention of
    features): the one-pass run against the eager maps, and against the same run on the flash calls."""
    calls = []
    real = onepass.onepass
    monkeypatch.setattr(onepass, "onepass", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    eager, one, manifest = _both(tmp_path, model=tiny_bert_dir, corpus=_gold_corpus(tmp_path), analyses=DEFAULT)
    assert calls and manifest["attention"]["kernel"] == "onepass"
    assert max(_max_diff(eager, one).values()) < TOL
    monkeypatch.setattr(fused, "ONEPASS", False)
    flash = headlens.run(out=str(tmp_path / "flash"), model=tiny_bert_dir, corpus=_gold_corpus(tmp_path),
                         analyses=DEFAULT, progress=False)
    assert _manifest(flash)["attention"]["kernel"] == "flash"
    assert max(_max_diff(_values(flash), one).values()) < TOL


def test_without_the_kernel_the_run_takes_the_flash_calls_and_says_why(tiny_bert_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(onepass, "_build", lambda: (None, "RuntimeError: Ninja is required to load C++ extensions"))
    run = headlens.run(out=str(tmp_path / "run"), model=tiny_bert_dir, corpus=_gold_corpus(tmp_path),
                       analyses=("surface", "features"), progress=False)
    attention = _manifest(run)["attention"]
    assert attention["kernel"] == "flash" and "Ninja is required" in attention["why"]
    assert run.scores().num_rows > 0
