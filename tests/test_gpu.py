"""The GPU path: ``--device cuda``, its fused kernel, and bfloat16 / float16 against float32.

Every test here is marked ``gpu`` and skips with the reason where torch sees no CUDA device (CI has
none). On a GPU machine: ``pytest -m gpu tests/test_gpu.py``. ``HEADLENS_GPU_MODEL`` names a model
directory for the real-model tests (default: the packaged all-MiniLM-L6-v2), and
``HEADLENS_SHARED_DATA`` a copy of ../shared/data where it is not beside the checkout.

On CUDA the fused path calls ``aten._scaled_dot_product_efficient_attention`` with its
log-sum-exp (runner/fused.py). The tolerances of half precision are documented in
docs/performance.md ("The GPU path") with the figures measured on an H200.
"""

import os

import numpy as np
import pytest
import torch
from conftest import UD_DEV, require_shared, write
from test_fused import DEFAULT, FAMILIES, ROW_ANALYSES, TOL, TSV, _max_diff, _values
from tiny import make_tiny

import headlens
from headlens.corpus import CorpusSpec

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="needs a CUDA device, and torch sees none: run `pytest -m gpu` on a GPU machine"),
]

CROSS_DEVICE_TOL = 1e-5  # float32 on CUDA against float32 on CPU: other kernels, other summation orders
# float32, the real MiniLM on CUDA, fused against eager: the efficient kernel sums in another order
# than cuBLAS + softmax; measured worst 1.34e-5 on an H200 (docs/performance.md), against 1e-5 on CPU
CUDA_REAL_TOL = 2e-5
# half precision against float32 on the same GPU, real MiniLM, gold UD: |a - b| / max(1, |a|)
HALF_TOL = {"bfloat16": {"sentence": 0.1, "head_mean": 0.03, "decisions": 0.05},
            "float16": {"sentence": 0.02, "head_mean": 0.005, "decisions": 0.01}}
DECISIONS = ("pattern_is_",)  # one-hot classes: a share of changed decisions, not a difference
GPU_MODEL = os.environ.get("HEADLENS_GPU_MODEL")  # None: the packaged default


def _run(tmp_path, name: str, **kw):
    return headlens.run(out=str(tmp_path / name), progress=False, **kw)


@pytest.fixture(scope="module", params=FAMILIES)
def family_dir(request, tmp_path_factory):
    return make_tiny(request.param, str(tmp_path_factory.mktemp(request.param)), max_positions=128)


def test_fused_cuda_kernel_equals_eager_on_every_family(family_dir, tmp_path):
    """The CUDA kernel with its log-sum-exp, widened values and key bias, in padded batches whose
    lengths are not multiples of 8 (the kernel's alignment), against the eager maps on the GPU."""
    corpus = CorpusSpec(write(tmp_path, "pairs.tsv", TSV), format="tsv", text_column=0, text_b_column=1)
    runs = {a: _run(tmp_path, a, model=family_dir, corpus=corpus, annotator="regex", device="cuda", max_tokens=64,
                    attention=a, analyses=("surface", "surface_rows", "roles", "features", "patterns"))
            for a in ("eager", "auto")}
    assert runs["auto"].manifest["attention"]["path"] == "fused"
    worst = _max_diff(_values(runs["eager"]), _values(runs["auto"]))
    assert max(worst.values()) < TOL, worst


def test_cuda_run_equals_cpu_run(tiny_bert_dir, tmp_path):
    corpus = write(tmp_path, "c.txt", "\n".join(["the cat sat on the mat and the dog ran to the house , he said !",
                                                  "hello", "new york is a city .", "a b c d e f g h i j k"]) + "\n")
    runs = {d: _run(tmp_path, d, model=tiny_bert_dir, corpus=corpus, annotator="regex", device=d, max_batch=2,
                    analyses=("surface", "surface_rows", "roles", "features", "patterns")) for d in ("cpu", "cuda")}
    assert runs["cuda"].manifest["attention"]["path"] == "fused"
    worst = _max_diff(_values(runs["cpu"]), _values(runs["cuda"]))
    assert max(worst.values()) < CROSS_DEVICE_TOL, worst


@pytest.mark.integration  # gold UD sentences
def test_full_rows_on_cuda_equal_eager(tiny_bert_dir, tmp_path):
    """syntax (dependency argmax over word rows), cluster and the full-row surface metrics, a block
    of query rows at a time on the GPU, against the eager maps on the GPU."""
    corpus = CorpusSpec(require_shared(UD_DEV), limit=14)
    runs = {a: _run(tmp_path, a, model=tiny_bert_dir, corpus=corpus, device="cuda", max_tokens=96, long="truncate",
                    attention=a, analyses=ROW_ANALYSES) for a in ("eager", "auto")}
    worst = _max_diff(_values(runs["eager"]), _values(runs["auto"]))
    assert {"word_entropy", "dep_nsubj_d2h"} <= set(worst)
    assert max(worst.values()) < TOL, worst


@pytest.mark.integration  # the real model and gold UD
def test_real_model_fused_on_cuda_equals_eager(tmp_path):
    corpus = CorpusSpec(require_shared(UD_DEV), limit=60)
    runs = {a: _run(tmp_path, a, model=GPU_MODEL, corpus=corpus, device="cuda", attention=a, analyses=DEFAULT)
            for a in ("eager", "auto")}
    worst = _max_diff(_values(runs["eager"]), _values(runs["auto"]))
    print(f"MiniLM on CUDA, fused against eager: worst {max(worst.values()):.3g} ({max(worst, key=worst.get)})")
    assert max(worst.values()) < CUDA_REAL_TOL, worst


def _head_means(values: dict) -> dict:
    sums: dict = {}
    for (_, layer, head, metric), v in values.items():
        if not np.isnan(v) and not metric.startswith(DECISIONS):
            s = sums.setdefault((layer, head, metric), [0.0, 0])
            s[0] += v
            s[1] += 1
    return {k: s / n for k, (s, n) in sums.items()}


@pytest.mark.integration  # the real model and gold UD
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_statistics_agree_with_float32(tmp_path, dtype):
    """Per-sentence scores and per-head means of the default analyses in half precision, against
    float32 on the same GPU, within the tolerances of docs/performance.md. The one-hot pattern
    classes (``pattern_is_*``) are decisions, not measurements: a map near a class boundary can
    change class, so for them the share of changed decisions is bounded instead."""
    corpus = CorpusSpec(require_shared(UD_DEV), limit=200)
    runs = {d: _run(tmp_path, d, model=GPU_MODEL, corpus=corpus, device="cuda", dtype=d, analyses=DEFAULT)
            for d in ("float32", dtype)}
    a, b = _values(runs["float32"]), _values(runs[dtype])
    decision = {k for k in a if k[3].startswith(DECISIONS)}
    flips = sum(a[k] != b[k] for k in decision) / len(decision)
    a = {k: v for k, v in a.items() if k not in decision}
    sentence = _max_diff(a, {k: b[k] for k in a})
    ma, mb = _head_means(a), _head_means(b)
    head_mean = max(abs(ma[k] - mb[k]) / max(1.0, abs(ma[k])) for k in ma)
    print(f"{dtype}: worst per-sentence {max(sentence.values()):.3g} ({max(sentence, key=sentence.get)}), "
          f"worst head mean {head_mean:.3g}, pattern classes changed {flips:.3%}")
    assert max(sentence.values()) < HALF_TOL[dtype]["sentence"], sentence
    assert head_mean < HALF_TOL[dtype]["head_mean"]
    assert flips < HALF_TOL[dtype]["decisions"]
