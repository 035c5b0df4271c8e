"""Experiment (not a figure): the one-pass CPU attention-statistics kernel against today's calls.

One MiniLM-shaped layer (H = 12 heads of d = 32, 14 key-set weight columns, one query-weight
column for the received attention, a band of reach 16), about 6,000 tokens a length (B = 6000 / T
sentences, each with a random number of padding keys), q, k and v in the model's [B, T, H, d]
layout seen as [B, H, T, d]. Contenders, interleaved in one process, median of ``--rounds``:

- ``today``: what ``runner/fused.py`` does per layer on CPU in float32: the widened flash call
  (q, k zero-padded to the width of [V | K | weights]) and the entropy's dot product; the
  received-attention flash call (``FusedLayer.received``, once per stack today: counted per layer
  here); the band of pairs (``FusedLayer.band``, on one thread inside ``reducing`` as in a run);
- ``onepass``: ``runner.onepass.onepass`` (the C++ extension), every output in one call;
- ``sdpa``: plain ``F.scaled_dot_product_attention`` at d = 32, the model's own attention (reference).

Before timing, every output of both paths, and of the explicit float32 map, is compared with an
explicit float64 softmax of the same inputs (``max |x - x64|`` over the real query rows). Prints one line per length and contender.

    PYTHONPATH=$PWD/src python benchmarks/experiments/onepass.py [--rounds 7] [--lengths 32,128,256,512]

With ``--runs TOKENS``: whole ``headlens.run`` rounds instead (the default analyses on figure 8's
gold corpus of T-token sentences, ``TOKENS`` tokens a length, MiniLM loaded once), with the kernel
(``runner.fused.ONEPASS`` on) and without (the flash calls), interleaved, median of ``--rounds``.
With ``--profile`` as well: one cProfile of each instead, printing the cumulative time of the
attention's parts. ``--parts``: today's three calls timed apart (widened call, received, band).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from benchutil import UD_DEV, interleaved, pin_threads  # noqa: E402

pin_threads(2)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from headlens.metrics.fused import FusedLayer  # noqa: E402
from headlens.runner import fused, onepass  # noqa: E402

H, D, M, REACH, TOKENS = 12, 32, 14, 16, 6000


def inputs(t: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    b = max(1, TOKENS // t)
    q, k, v = (torch.randn((b, t, H, D), generator=g) * s for s in (2.0, 1.0, 1.0))
    lengths = torch.randint(max(1, t // 2), t + 1, (b,), generator=g)
    valid = torch.arange(t)[None, :] < lengths[:, None]
    bias = torch.zeros((b, t)).masked_fill(~valid, float("-inf"))
    weights = (torch.rand((b, t, M), generator=g) < 0.3).float() * valid[..., None]
    receivers = torch.rand((b, t, 1), generator=g) * valid[..., None]
    return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), bias, weights, receivers


def today(q, k, v, bias, weights, receivers, scale, buffers):
    b, h, t, d = q.shape
    cols = weights[:, None].expand(b, h, t, -1)
    out, lse = fused.kernel(*fused._widened(q, k, [v, k, cols], buffers=buffers), bias[:, None, None, :], scale)
    stats, out = out[..., d:d + d + M], out[..., :d]
    entropy = lse - scale * torch.einsum("bhtd,bhtd->bht", q, stats[..., :d])
    layer = FusedLayer(q, k, lse, bias, scale, torch.float32, masses=stats[..., d:], entropy=entropy,
                       kernel=fused.kernel, reach=REACH)
    with fused.reducing(q.device):
        received = layer.received(receivers[..., 0])
        band = layer.band
    return out.transpose(1, 2).contiguous(), lse, entropy, stats[..., d:], received[..., None], band


def explicit(q, k, v, bias, weights, receivers, scale, dtype=torch.float64):
    """Every output from the explicit map in ``dtype``."""
    q, k, v, bias, weights, receivers = (x.to(dtype) for x in (q, k, v, bias, weights, receivers))
    s = torch.matmul(q, k.transpose(-1, -2)) * scale + bias[:, None, None, :]
    lse = torch.logsumexp(s, -1)
    p = torch.exp(s - lse[..., None])
    entropy = -torch.special.xlogy(p, p).sum(-1)
    b, h, t, _ = q.shape
    rows = torch.arange(t)
    band = torch.zeros((b, h, t, 2 * REACH + 1), dtype=dtype)
    for o in range(-REACH, REACH + 1):
        ok = (rows + o >= 0) & (rows + o < t)
        band[:, :, rows[ok], REACH + o] = p[:, :, rows[ok], rows[ok] + o]
    return (torch.matmul(p, v).transpose(1, 2), lse, entropy, torch.matmul(p, weights[:, None]),
            torch.matmul(p.transpose(-1, -2), receivers[:, None]), band)


NAMES = ("out", "lse", "entropy", "masses", "received", "band")


def errors(got, want, valid) -> dict:
    """max |got - want| per output over the real queries (padded query rows are ignored by the metrics)."""
    out = {}
    for name, g, w in zip(NAMES, got, want):
        rows = valid[:, :, None] if name == "out" else valid[:, None, :]
        while rows.dim() < g.dim():
            rows = rows[..., None]
        out[name] = float(((g.double() - w) * rows).abs().max())
    return out


def parts(t: int, rounds: int) -> None:
    """Today's per-layer calls timed apart, interleaved."""
    q, k, v, bias, weights, receivers = inputs(t)
    b, h, _, d = q.shape
    scale, buffers, cols = d ** -0.5, {}, weights[:, None].expand(b, h, t, -1)
    out, lse = fused.kernel(*fused._widened(q, k, [v, k, cols], buffers=buffers), bias[:, None, None, :], scale)
    layer = FusedLayer(q, k, lse, bias, scale, torch.float32, kernel=fused.kernel, reach=REACH)

    def reduced(fn):
        def go():
            layer.__dict__.pop("band", None)  # a cached property
            with fused.reducing(q.device):
                return fn()
        return go

    contenders = {
        "widened call": lambda: fused.kernel(*fused._widened(q, k, [v, k, cols], buffers=buffers),
                                             bias[:, None, None, :], scale),
        "received call": reduced(lambda: layer.received(receivers[..., 0])),
        "band": reduced(lambda: layer.band),
    }
    interleaved(contenders, 1)
    times, _ = interleaved(contenders, rounds)
    print(f"T={t} today's parts: " + ", ".join(f"{n} {1e3 * statistics.median(x):.1f} ms" for n, x in times.items()))


PROFILED = re.compile(r"\((_forward_fused|fused_attention|_onepass_layer|_kernel|received|band|on_layer|on_stack|add|finalize)\)"
                      r"|headlens_onepass\.onepass|torch\._C\._nn\.linear")  # the lines of a profile printed


def profiled(go) -> str:
    import cProfile
    import io
    import pstats

    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    go()
    profile.disable()
    wall = time.perf_counter() - start
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("cumulative").print_stats()
    keep = [line for line in text.getvalue().splitlines() if PROFILED.search(line) and "headlens" in line]
    return f"wall {wall:.2f} s\n" + "\n".join(keep)


def runs(lengths, tokens: int, rounds: int, profile: bool = False) -> None:
    """Whole runs with and without the kernel (see the module doc)."""
    import tempfile

    import headlens
    from headlens.corpus import CorpusSpec
    from lengths import DEFAULT_ANALYSES, preloaded, write_length_corpus

    lm = headlens.load_model(None)
    with tempfile.TemporaryDirectory() as tmp, preloaded(lm):
        for t in lengths:
            spec = CorpusSpec(write_length_corpus(UD_DEV, lm.tokenizer, t, tokens, tmp), format="conllu")

            def side(on: bool):
                def go():
                    fused.ONEPASS = on
                    return headlens.run(out=os.path.join(tmp, "run"), corpus=spec, analyses=DEFAULT_ANALYSES,
                                        overwrite=True, progress=False, threads=2, long="truncate")
                return go

            contenders = {"onepass": side(True), "flash": side(False)}
            interleaved(contenders, 1)  # warm-up
            if profile:
                for name, go in contenders.items():
                    print(f"run T={t} {tokens} tokens, {name}, cProfile: {profiled(go)}")
                continue
            times, results = interleaved(contenders, rounds)
            assert results["onepass"].manifest["attention"]["kernel"] == "onepass"
            med = {name: statistics.median(ts) for name, ts in times.items()}
            print(f"run T={t} {tokens} tokens: " + ", ".join(
                f"{n} {s:.2f} s ({', '.join(f'{x:.2f}' for x in times[n])})" for n, s in med.items())
                + f"; onepass/flash {med['onepass'] / med['flash']:.2f}, median of the rounds' ratios "
                f"{statistics.median(a / b for a, b in zip(times['onepass'], times['flash'])):.2f}")
    fused.ONEPASS = True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--lengths", default="32,128,256,512")
    parser.add_argument("--runs", type=int, default=0, help="whole runs of this many tokens a length instead")
    parser.add_argument("--profile", action="store_true", help="with --runs: one cProfile of each side")
    parser.add_argument("--parts", action="store_true", help="today's calls timed apart")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    ok, why = onepass.available()
    print(f"onepass available: {ok} ({why or 'built or loaded from the cache'}) in {time.perf_counter() - t0:.1f} s")
    if not ok:
        return
    lengths = [int(x) for x in args.lengths.split(",")]
    if args.runs:
        runs(lengths, args.runs, args.rounds, args.profile)
        return
    if args.parts:
        for t in lengths:
            parts(t, args.rounds)
        return
    for t in lengths:
        q, k, v, bias, weights, receivers = inputs(t)
        scale = D ** -0.5
        valid = bias == 0
        buffers: dict = {}
        want = explicit(q, k, v, bias, weights, receivers, scale)
        for name, got in (("float32 map", explicit(q, k, v, bias, weights, receivers, scale, torch.float32)),
                          ("today", today(q, k, v, bias, weights, receivers, scale, buffers)),
                          ("onepass", onepass.onepass(q, k, v, bias, scale, weights, receivers, REACH))):
            err = errors(got, want, valid)
            print(f"T={t} {name} max error against float64: " + ", ".join(f"{n} {e:.1e}" for n, e in err.items()))
        contenders = {
            "today": lambda: today(q, k, v, bias, weights, receivers, scale, buffers),
            "onepass": lambda: onepass.onepass(q, k, v, bias, scale, weights, receivers, REACH),
            "sdpa": lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=bias[:, None, None, :]),
        }
        interleaved(contenders, 1)  # warm-up
        times, _ = interleaved(contenders, args.rounds)
        med = {name: statistics.median(ts) for name, ts in times.items()}
        print(f"T={t} B={q.shape[0]}: " + ", ".join(f"{n} {1e3 * s:.1f} ms" for n, s in med.items())
              + f"; onepass/today {med['onepass'] / med['today']:.2f}, onepass/sdpa {med['onepass'] / med['sdpa']:.2f}")


if __name__ == "__main__":
    main()
