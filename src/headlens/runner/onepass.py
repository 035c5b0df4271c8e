"""The one-pass CPU attention-statistics kernel (C++ extension, ``csrc/onepass.cpp``).

One call per layer gives, for every (batch item, head) and each block of query rows, the layer
output, each row's log-sum-exp, its entropy, the key-set masses, the attention each key receives
from weighted queries, and the band of pairs near the diagonal, all from one exact softmax of the
block's scores (T <= 512: a block's [rows, T] scores stay in cache). It is built on first use with
``torch.utils.cpp_extension.load`` (ninja and a C++ compiler; ``-O3``, no ``-march``: the matrix
products and the vectorised elementwise work are ATen's own kernels, dispatched for the CPU at run
time) and cached in torch's extensions directory, so a process compiles it at most once and a
machine once per source change. :func:`available` says whether it could be built, and why not.
"""

from __future__ import annotations

import functools
import os
import sys

import torch

SOURCE = os.path.join(os.path.dirname(__file__), "csrc", "onepass.cpp")
NAME = "headlens_onepass"
BLOCK = 1 << 17  # scores per row block of a task (512 KiB of float32: in L2 with its copies)


@functools.cache
def _build():
    """(module, None) or (None, why it is unavailable): built at most once per process."""
    try:
        from torch.utils.cpp_extension import _get_build_directory, load

        if not os.path.exists(os.path.join(_get_build_directory(NAME, False), f"{NAME}.so")):
            print("headlens: building the one-pass attention kernel (once per machine and source; 30 to 80 s)",
                  file=sys.stderr, flush=True)
        return load(NAME, [SOURCE], extra_cflags=["-O3", "-fopenmp"], extra_ldflags=["-fopenmp"], verbose=False), None
    except Exception as error:  # noqa: BLE001 -- any build failure means: not available, with its reason
        lines = str(error).strip().splitlines()
        errors = [line for line in lines if "error" in line.lower()]  # the compiler's first error, else the last line
        return None, f"{type(error).__name__}: {(errors or lines or [''])[0 if errors else -1]}"[:400]


def available() -> tuple[bool, str | None]:
    """(whether the kernel can run here, the reason it cannot)."""
    module, why = _build()
    return module is not None, why


def onepass(q, k, v, bias, scale: float, weights=None, receivers=None, reach: int = 0, block: int = BLOCK):
    """Exact attention statistics in one pass, float32 on CPU.

    ``q``, ``k``, ``v`` [B, H, T, d] (any strides); ``bias`` [B, T] (0 for a real key, -inf for
    padding); ``weights`` [B, T, m] key-set weight columns; ``receivers`` [B, T, n] query weights.
    Returns (out [B, T, H, d] (the model's layout), lse [B, H, T], entropy [B, H, T], masses
    [B, H, T, m], received [B, H, T, n] = sum_i r_i p_ij, band [B, H, T, 2 reach + 1] with
    ``band[..., i, reach + o] = p(i, i + o)``, 0 outside the sequence and at padding)."""
    module, why = _build()
    if module is None:
        raise RuntimeError(f"the one-pass attention kernel is unavailable: {why}")
    b, _, t, _ = q.shape
    empty = q.new_empty((b, t, 0))
    return module.onepass(q, k, v, bias, float(scale), empty if weights is None else weights,
                          empty if receivers is None else receivers, int(reach), int(block),
                          2 * torch.get_num_threads())
