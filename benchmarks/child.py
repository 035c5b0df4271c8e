"""One measured pipeline in a fresh process, for peak memory: prints one JSON line and exits.

    python benchmarks/child.py headlens --corpus FILE --limit N --threads 2 --device cpu --dtype float32
    python benchmarks/child.py baseline ...
    python benchmarks/child.py default --corpus FILE.conllu --limit 0 [--model DIR] [--analyses syntax]   (lengths.py)
    python benchmarks/child.py plain --corpus BATCHES.json --limit 0 [--model DIR]

The child reports its own peak resident set size (``getrusage(RUSAGE_SELF).ru_maxrss``), so
the figure covers everything the pipeline held at its worst moment, and nothing of the parent.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from benchutil import corpus_spec, max_rss_mib, pin_threads, scratch_dir, set_torch_threads, timed, vm_hwm_mib


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("pipeline", choices=("headlens", "baseline", "default", "plain"))
    p.add_argument("--corpus", required=True)
    p.add_argument("--limit", type=int, required=True, help="sentences (0: all)")
    p.add_argument("--model", default=None, help="default / plain: the model (default: the embedded one)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--analyses", default=None, help="default: the analyses (default: lengths.DEFAULT_ANALYSES)")
    return p.parse_args(argv)


def measure_headlens(args) -> int:
    from benchutil import run_headlens

    with scratch_dir() as out:
        run = run_headlens(corpus_spec(args.limit, args.corpus), os.path.join(out, "run"), args)
        return run.manifest["counts"]["analysed"]


def measure_baseline(args) -> int:
    import headlens
    from baseline import run_baseline

    return run_baseline(headlens.default_model_path(), corpus_spec(args.limit, args.corpus), args.device, args.dtype).sentences


def measure_default(args) -> int:
    """headlens.run with the default analyses (lengths.py) on a CoNLL-U corpus."""
    import headlens
    from lengths import DEFAULT_ANALYSES

    with scratch_dir() as out:
        run = headlens.run(out=os.path.join(out, "run"), model=args.model, corpus=corpus_spec(args.limit or None, args.corpus),
                           analyses=tuple(args.analyses.split(",")) if args.analyses else DEFAULT_ANALYSES, progress=False, threads=args.threads, device=args.device,
                           dtype=args.dtype, long="truncate")
        return run.manifest["counts"]["analysed"]


def measure_plain(args) -> int:
    """Tokenizer + SDPA forward of batches of texts (lengths.py's plain side; --corpus: a JSON list of
    batches, each a list of sentence texts, as headlens batched them)."""
    import headlens
    import torch
    from transformers import AutoModel, AutoTokenizer

    with open(args.corpus, encoding="utf-8") as fh:
        texts = json.load(fh)
    path = args.model or headlens.default_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    plain = AutoModel.from_pretrained(path, attn_implementation="sdpa").eval().to(args.device)
    with torch.inference_mode():
        for group in texts:
            enc = tokenizer(group, padding=True, truncation=True, max_length=512, return_tensors="pt")
            plain(**{k: v.to(args.device) for k, v in enc.items()})
    return sum(len(t) for t in texts)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    start_rss = max_rss_mib()  # what this process inherited from its parent: should be small
    pin_threads(args.threads)
    set_torch_threads(args.threads)
    measure = {"headlens": measure_headlens, "baseline": measure_baseline, "default": measure_default,
               "plain": measure_plain}[args.pipeline]
    seconds, sentences = timed(lambda: measure(args))
    report = {
        "pipeline": args.pipeline, "sentences": sentences, "seconds": seconds,
        "max_rss_mib": max_rss_mib(), "start_max_rss_mib": start_rss, "vm_hwm_mib": vm_hwm_mib(),
    }
    if args.device.startswith("cuda"):
        import torch

        report["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(report))


if __name__ == "__main__":
    sys.exit(main())
