"""Cost of the norm-based decomposition (``--analyses decomposition``) over plain inference, on the same batches.

    .venv/bin/python benchmarks/decomposition.py [--model DIR] [--device cuda] [--limit N] [--repeats 3]

Batches are formed exactly as ``headlens.run`` forms them (its Encoder, plan_batches, Engine.batch)
from UD English EWT dev. Contenders, in interleaved rounds (the best round of each counts):

- ``plain``: the same model loaded with ``attn_implementation="sdpa"``, forward passes only;
- ``eager``: the eager model's forward passes (what headlens must run to see attention);
- ``decomposition``: ``Engine.score`` with the decomposition collector: the forward pass, the part
  hooks, every stage's terms with completeness checks, the maps' reductions and the per-sentence
  tables, as a run computes them (the run store's writing excluded).

Figure: ``decomposition_vs_plain`` = decomposition seconds / plain seconds (target <= 3). INFO:
the same over eager, and ``stepped_ig20_extra``: the seconds that stepped integrated gradients (20
Riemann steps, autograd for act') would add over the same pre-activations, over plain seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchutil import UD_DEV, corpus_spec, headlens_batches, interleaved, pin_threads, synchronize  # noqa: E402

TARGET = 3.0


def measure(model: str | None, device: str, dtype: str, limit: int | None, repeats: int, corpus: str = UD_DEV) -> dict:
    import torch
    from transformers import AutoModel

    import headlens
    from headlens.decompose.analysis import Decomposer
    from headlens.decompose.ig import stepped_ratio
    from headlens.metrics import resolve
    from headlens.runner import Engine
    from headlens.runner.parts import part_hooks

    lm = headlens.load_model(model, device=device, dtype=dtype)
    dec = Decomposer(lm)
    engine = Engine(lm, resolve(("decomposition",)), collectors=[dec])
    batches = headlens_batches(lm, engine, corpus_spec(limit, corpus))
    plain = AutoModel.from_pretrained(lm.path, attn_implementation="sdpa", dtype=lm.dtype).eval().to(lm.device)
    n = sum(len(b) for b in batches)
    act = lm.adapter.part(lm.adapter.layer_modules(lm.model)[0], "ff_activation")

    def forward(m, subset=batches):
        with torch.inference_mode():
            for b in subset:
                inputs = b.model_inputs()
                if not engine.takes_token_types:
                    inputs.pop("token_type_ids")
                m(**inputs)
        synchronize(device)

    def decomposition(subset=batches):
        for b in subset:
            engine.score(b)
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

    def stepped(subset=batches):
        for b in subset:
            pre_acts.clear()
            with torch.inference_mode(), part_hooks(lm, [Grab()], b, [], None, {}):
                forward(lm.model, [b])
            for h in pre_acts:
                stepped_ratio(act, h, 20)
        synchronize(device)

    forward(plain, batches[::4]), forward(lm.model, batches[::4]), decomposition(batches[::4])  # warm-up
    times, _ = interleaved({"plain": lambda: forward(plain), "eager": lambda: forward(lm.model),
                            "decomposition": decomposition, "eager_with_stepped_ig20": stepped}, repeats)
    best = {k: min(v) for k, v in times.items()}
    return {
        "sentences": n, "batches": len(batches), "device": str(lm.device), "dtype": dtype, "seconds": best,
        "decomposition_vs_plain": best["decomposition"] / best["plain"],
        "decomposition_vs_eager": best["decomposition"] / best["eager"],
        "stepped_ig20_extra_vs_plain": (best["eager_with_stepped_ig20"] - best["eager"]) / best["plain"],
        "max_completeness_error": max(dec.max_error.values()),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model directory (default: the embedded all-MiniLM-L6-v2)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--corpus", default=UD_DEV, help="CoNLL-U file (default: UD English EWT dev beside the repo)")
    p.add_argument("--limit", type=int, help="first N sentences of UD EWT dev (default: all)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    pin_threads(args.threads)
    result = measure(args.model, args.device, args.dtype, args.limit, args.repeats, args.corpus)
    print(json.dumps(result, indent=1))
    print(f"BENCH decomposition_vs_plain {result['decomposition_vs_plain']:.2f} target <= {TARGET:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
