"""Cost of token attribution (``--analyses attribution``) over plain inference.

    .venv/bin/python benchmarks/attribution.py [--model DIR] [--device cuda] [--limit N] [--repeats 2] [--no-vz]

Batches are formed exactly as ``headlens.run`` forms them (its Encoder, plan_batches, Engine.batch) from UD English
EWT dev. Contenders, in interleaved rounds (the best round of each counts):

- ``plain``: the same model loaded with ``attn_implementation="sdpa"``, forward passes only;
- ``attribution``: ``Engine.score`` with the attribution collector computing rollout and ALTI
  (``--attribution-methods rollout,alti``; norm-based rollout comes with rollout, from the same decomposition):
  the forward pass, the part hooks, the decomposition with its completeness checks, ALTI's pair terms, the
  rollouts, the per-sentence statistics and agreements, as a run computes them (the store's writing excluded);
- ``value_zeroing``: the same with value zeroing added (INFO, priced separately: T times a layer's feed-forward
  per sentence of T tokens).

Figure: ``attribution_run_vs_plain`` = attribution seconds / plain seconds, target <= ``TARGET``. Where the target
comes from (MiniLM: d = 384, H = 12, d_ff = 1536, T ~ 20 tokens on UD EWT dev), in multiply-adds per token and
layer: the forward pass 4 d^2 + 2 d d_ff + 2 T d ~ 1.8M; ALTI and the norm-based rollout, the value maps d^2 ~ 0.15M
and the pair terms T H d + 2 T d ~ 0.1M; the rollouts, statistics and agreements O(T^2 log T) ~ 0.01M. About 1.15
times the forward's arithmetic, on top of the eager attention instead of SDPA (1.0 to 1.14 times plain in
docs/decomposition.md); but the pair terms are [T, T, d] tensors made from matrix products with an inner dimension of
H = 12, memory-bound where the forward's are compute-bound (written once and read once per layer: only ALTI's L1
distance needs them as vectors; the norms and their sum come from Gram forms and one product), about as many bytes
as the forward moves, and a few tensor ops per group of sentences and per statistic, whose fixed cost grows with the
machine's load. Hence 4, not 1.5.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchutil import (  # noqa: E402
    UD_DEV, corpus_spec, forward_batches, headlens_batches, interleaved, model_bench_arguments, parse_pinned, print_result,
    synchronize)

TARGET = 4.0
FAST = ("rollout", "alti")


def measure(model: str | None, device: str, dtype: str, limit: int | None, repeats: int, corpus: str = UD_DEV,
            vz: bool = True) -> dict:
    import torch
    from transformers import AutoModel

    import headlens
    from headlens.analyses.attribution.collect import Attributor
    from headlens.analyses.registry import resolve
    from headlens.runner import Engine

    lm = headlens.load_model(model, device=device, dtype=dtype)
    methods = {"attribution": FAST, **({"value_zeroing": (*FAST, "vz")} if vz else {})}
    collectors = {name: Attributor(lm, m, maps_dir=None) for name, m in methods.items()}
    engines = {name: Engine(lm, resolve(("attribution",), options={"attribution": {"methods": methods[name]}}),
                            collectors=[c]) for name, c in collectors.items()}
    engine = engines["attribution"]
    batches = headlens_batches(lm, engine, corpus_spec(limit, corpus))
    plain = AutoModel.from_pretrained(lm.path, attn_implementation="sdpa", dtype=lm.dtype).eval().to(lm.device)
    n = sum(len(b) for b in batches)

    def attribution(name, subset=batches):
        att, eng = collectors[name], engines[name]
        for b in subset:
            eng.score(b)
            att.add(b, range(len(b)))
        att.take()
        synchronize(device)

    contenders = {"plain": lambda: forward_batches(plain, batches, engine, device)}
    contenders.update({name: (lambda name=name: attribution(name)) for name in collectors})
    warm = batches[::4] if len(batches) > 1 else batches
    forward_batches(plain, warm, engine, device)
    for name in collectors:
        attribution(name, warm)
    times, _ = interleaved(contenders, repeats)
    best = {k: min(v) for k, v in times.items()}
    result = {
        "sentences": n, "batches": len(batches), "padded_tokens": sum(b.input_ids.numel() for b in batches),
        "device": str(lm.device), "threads": torch.get_num_threads(), "dtype": dtype, "repeats": repeats,
        "seconds": best, "rounds": times, "attribution_run_vs_plain": best["attribution"] / best["plain"],
    }
    if vz:
        result["value_zeroing_vs_plain"] = best["value_zeroing"] / best["plain"]
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model_bench_arguments(p, 2000, 2)
    p.add_argument("--no-vz", action="store_true", help="leave out value zeroing")
    args = parse_pinned(p, argv)
    result = measure(args.model, args.device, args.dtype, args.limit, args.repeats, args.corpus, vz=not args.no_vz)
    print_result(result, "attribution_run_vs_plain", "<=", TARGET, ("value_zeroing_vs_plain",))
    return 0


if __name__ == "__main__":
    sys.exit(main())
