"""Cost of the norm-based decomposition (``--analyses decomposition`` and ``decomposition_ff``) over plain inference.

    .venv/bin/python benchmarks/decomposition.py [--model DIR] [--device cuda] [--limit N] [--repeats 3] [--no-ff]

Batches are formed exactly as ``headlens.run`` forms them (its Encoder, plan_batches, Engine.batch)
from UD English EWT dev. Contenders, in interleaved rounds (the best round of each counts):

- ``plain``: the same model loaded with ``attn_implementation="sdpa"``, forward passes only;
- ``eager``: the eager model's forward passes (what headlens must run to see attention);
- ``decomposition``: ``Engine.score`` with the default decomposition collector (the attention
  block's maps Attn-W, Attn-N, AttnRes-W, AttnRes-N, ATB): the forward pass, the part hooks, the
  terms with completeness checks, the reductions and the per-sentence tables, part arrays
  included, as a run computes them (the run store's writing excluded);
- ``decomposition_ff``: the same with the feed-forward maps (``--analyses decomposition_ff``:
  ATBFF, ATBFFRES, ATBFFRESLN, contextualization change, FF amplification and pairs);
- ``eager_with_stepped_ig20``: the eager forward plus stepped integrated gradients (20 Riemann
  steps, autograd for act') over every layer's pre-activations.

Figures: ``decomposition_vs_plain`` = decomposition seconds / plain seconds (target <= 3);
``decomposition_ff_vs_plain`` the same for the FF option (INFO, no target: the per-pair FF output
is T^2 d d_ff per layer); ``stepped_ig20_extra_vs_plain``: the seconds stepped IG would add over
the eager forward, over plain seconds.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchutil import (  # noqa: E402
    UD_DEV, corpus_spec, forward_batches, headlens_batches, interleaved, model_bench_arguments, parse_pinned, print_result,
    synchronize)

TARGET = 3.0


def measure(model: str | None, device: str, dtype: str, limit: int | None, repeats: int, corpus: str = UD_DEV,
            ff: bool = True, stepped: bool = True) -> dict:
    import torch
    from transformers import AutoModel

    import headlens
    from headlens.decompose.analysis import Decomposer
    from headlens.decompose.ig import stepped_ratio
    from headlens.analyses.registry import resolve
    from headlens.runner import Engine
    from headlens.runner.parts import part_hooks

    lm = headlens.load_model(model, device=device, dtype=dtype)
    collectors = {"decomposition": Decomposer(lm)}
    if ff:
        collectors["decomposition_ff"] = Decomposer(lm, ff=True)
    engines = {name: Engine(lm, resolve(("decomposition",)), collectors=[c]) for name, c in collectors.items()}
    engine = engines["decomposition"]
    batches = headlens_batches(lm, engine, corpus_spec(limit, corpus))
    plain = AutoModel.from_pretrained(lm.path, attn_implementation="sdpa", dtype=lm.dtype).eval().to(lm.device)
    n = sum(len(b) for b in batches)
    act = lm.adapter.part(lm.adapter.layer_modules(lm.model)[0], "ff_activation")

    def forward(m, subset=batches):
        forward_batches(m, subset, engine, device)

    def decomposition(name, subset=batches):
        dec, eng = collectors[name], engines[name]
        for b in subset:
            eng.score(b)
            dec.add(b, range(len(b)))
        dec.take()
        synchronize(device)

    pre_acts = []

    class Grab:
        def begin(self, *a):
            pass

        def on_parts(self, parts):
            pre_acts.append(parts["ff_in.out"].clone())

        def end(self):
            pass

    def stepped_ig(subset=batches):
        for b in subset:
            pre_acts.clear()
            with torch.inference_mode(), part_hooks(lm, [Grab()], b, [], None, {}):
                forward(lm.model, [b])
            for h in pre_acts:
                stepped_ratio(act, h, 20)
        synchronize(device)

    contenders = {"plain": lambda: forward(plain), "eager": lambda: forward(lm.model)}
    contenders.update({name: (lambda name=name: decomposition(name)) for name in collectors})
    if stepped:
        contenders["eager_with_stepped_ig20"] = stepped_ig
    warm = batches[::4] if len(batches) > 1 else batches
    forward(plain, warm), forward(lm.model, warm)  # warm-up
    for name in collectors:
        decomposition(name, warm)
    times, _ = interleaved(contenders, repeats)
    best = {k: min(v) for k, v in times.items()}
    result = {
        "sentences": n, "batches": len(batches), "padded_tokens": sum(b.input_ids.numel() for b in batches),
        "device": str(lm.device), "threads": torch.get_num_threads(), "dtype": dtype, "repeats": repeats,
        "seconds": best, "rounds": times,
        "decomposition_vs_plain": best["decomposition"] / best["plain"],
        "decomposition_vs_eager": best["decomposition"] / best["eager"],
        "max_completeness_error": max(collectors["decomposition"].max_error.values()),
    }
    if ff:
        result["decomposition_ff_vs_plain"] = best["decomposition_ff"] / best["plain"]
        result["max_completeness_error_ff"] = max(collectors["decomposition_ff"].max_error.values())
    if stepped:
        result["stepped_ig20_extra_vs_plain"] = (best["eager_with_stepped_ig20"] - best["eager"]) / best["plain"]
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model_bench_arguments(p, None, 3)
    p.add_argument("--no-ff", action="store_true", help="leave out the FF option (decomposition_ff)")
    p.add_argument("--no-stepped", action="store_true", help="leave out stepped integrated gradients")
    args = parse_pinned(p, argv)
    result = measure(args.model, args.device, args.dtype, args.limit, args.repeats, args.corpus,
                     ff=not args.no_ff, stepped=not args.no_stepped)
    print_result(result, "decomposition_vs_plain", "<=", TARGET, ("decomposition_ff_vs_plain",))
    return 0


if __name__ == "__main__":
    sys.exit(main())
