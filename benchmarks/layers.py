"""Cost of the layers analysis (``--analyses surface,layers``) over plain inference.

    .venv/bin/python benchmarks/layers.py [--model DIR] [--device cuda] [--limit 2000] [--repeats 2]

Batches are formed exactly as ``headlens.run`` forms them (its Encoder, plan_batches, Engine.batch) from UD English
EWT dev. Contenders, in interleaved rounds after a warm-up (the best round of each counts):

- ``plain``: the same model loaded with ``attn_implementation="sdpa"``, forward passes only over those batches;
- ``layers_run``: ``headlens.run(analyses=("surface", "layers"))`` on the same sentences as a user calls it (model
  loading, reading, tokenizing, the forward passes with the hidden states, the surface entropy, the layers
  collector's word and sentence vectors for its sample, the run store);
- ``surface_run`` (INFO): the same run with ``analyses=("surface",)``, so that the layers analysis's own share shows
  (``layers_run_vs_surface_run``) apart from the surface metrics' (figure 1).

Figure: ``layers_run_vs_plain`` = plain seconds / layers_run seconds (a throughput ratio), target >= ``TARGET``.
The memory figure ``layers_rss_20k_vs_2k`` is measured by bench.py (fresh processes, ``child.py default``).
"""

from __future__ import annotations

import argparse
import os
import sys
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchutil import (  # noqa: E402
    UD_DEV, corpus_spec, forward_batches, headlens_batches, interleaved, model_bench_arguments, parse_pinned,
    print_result, run_headlens, scratch_dir)

TARGET = 0.8
RSS_TARGET = 1.2
ANALYSES = ("surface", "layers")


def measure(model: str | None, device: str, dtype: str, limit: int | None, repeats: int, threads: int,
            corpus: str = UD_DEV) -> dict:
    import torch
    from transformers import AutoModel

    import headlens
    from headlens.analyses.registry import resolve
    from headlens.runner import Engine

    lm = headlens.load_model(model, device=device, dtype=dtype)
    engine = Engine(lm, resolve(ANALYSES))
    spec = corpus_spec(limit, corpus)
    batches = headlens_batches(lm, engine, spec)
    plain = AutoModel.from_pretrained(lm.path, attn_implementation="sdpa", dtype=lm.dtype).eval().to(lm.device)
    n = sum(len(b) for b in batches)
    run_args = SimpleNamespace(threads=threads, device=device, dtype=dtype)
    with scratch_dir() as tmp:
        def layers_run(subset_spec=spec, analyses=ANALYSES):
            run = run_headlens(subset_spec, os.path.join(tmp, "run"), run_args, analyses, model)
            assert subset_spec is not spec or run.manifest["counts"]["analysed"] == n, "the run analysed other sentences"

        forward_batches(plain, batches[::4] or batches, engine, device)  # warm-up
        layers_run(corpus_spec(max(1, n // 4), corpus))
        times, _ = interleaved({"plain": lambda: forward_batches(plain, batches, engine, device),
                                "layers_run": layers_run, "surface_run": lambda: layers_run(analyses=("surface",))},
                               repeats)
    best = {k: min(v) for k, v in times.items()}
    return {
        "sentences": n, "batches": len(batches), "padded_tokens": sum(b.input_ids.numel() for b in batches),
        "device": str(lm.device), "threads": torch.get_num_threads(), "dtype": dtype, "repeats": repeats,
        "seconds": best, "rounds": times, "layers_run_vs_plain": best["plain"] / best["layers_run"],
        "per_round": [p / r for p, r in zip(times["plain"], times["layers_run"])],
        "layers_run_vs_surface_run": best["surface_run"] / best["layers_run"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model_bench_arguments(p, 2000, 2)
    args = parse_pinned(p, argv)
    result = measure(args.model, args.device, args.dtype, args.limit, args.repeats, args.threads, args.corpus)
    print_result(result, "layers_run_vs_plain", ">=", TARGET)
    print(f"INFO layers_run_vs_surface_run {result['layers_run_vs_surface_run']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
