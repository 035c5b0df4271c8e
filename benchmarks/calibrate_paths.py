"""Calibration data of runner/cost.py: ``Engine.score`` per batch on the eager and the fused path.

    PYTHONPATH=src python benchmarks/calibrate_paths.py [ANALYSES] [LENGTHS] [SIZES]
    (defaults: the default analyses; 16,32,48,64,128; 8,32,128)

For each padded length T (a figure-8 corpus of UD dev sentences joined to close to T tokens,
lengths.py) and batch size B (the first B sentences; B T <= 8,192, the default token budget), the
same batch is scored by an engine forced to each path, alternately, ``CAL_REPS`` (default 3) times
after one warm-up, and the least process CPU time of each is printed with their ratio. One intra-op
thread (``CAL_THREADS``, default 1): CPU time on one thread measures the work of each path with little
of the noise that other processes on the same cores add to wall time (docs/performance.md). Fit the
printed times with ``cost = L (per_layer + H B T (per_token / 1e3 + per_entry T / 1e6))`` per path.
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import UD_DEV, pin_threads  # noqa: E402

THREADS = int(os.environ.get("CAL_THREADS", "1"))
pin_threads(THREADS)
import torch  # noqa: E402

import headlens  # noqa: E402
from headlens import RunConfig  # noqa: E402
from headlens.corpus import CorpusSpec  # noqa: E402
from headlens.pipeline import _model_side  # noqa: E402
from headlens.runner.stream import FrontHalf  # noqa: E402
from lengths import DEFAULT_ANALYSES, preloaded, write_length_corpus  # noqa: E402


def _engines(lm, analyses: tuple[str, ...]) -> dict:
    engines = {}
    with preloaded(lm):
        for attention in ("eager", "fused"):
            cfg = RunConfig(analyses=analyses, attention=attention, corpus=UD_DEV)
            engines[attention] = _model_side(cfg, FrontHalf.of(cfg), "cpu", THREADS)[-1]
    return engines


def main() -> None:
    torch.set_num_threads(THREADS)
    analyses = tuple(sys.argv[1].split(",")) if len(sys.argv) > 1 else DEFAULT_ANALYSES
    lengths = [int(x) for x in sys.argv[2].split(",")] if len(sys.argv) > 2 else [16, 32, 48, 64, 128]
    sizes = [int(x) for x in sys.argv[3].split(",")] if len(sys.argv) > 3 else [8, 32, 128]
    reps = int(os.environ.get("CAL_REPS", "3"))
    lm = headlens.load_model(None)
    engines = _engines(lm, analyses)
    with tempfile.TemporaryDirectory() as tmp:
        for length in lengths:
            path = write_length_corpus(UD_DEV, lm.tokenizer, length, 160 * length, tmp)
            cfg = RunConfig(corpus=CorpusSpec(path, format="conllu"), long="truncate")
            items = [e for e in FrontHalf.of(cfg).encoded(lm.tokenizer, lm.max_tokens) if hasattr(e, "n_tokens")]
            for size in sizes:
                if size * length > 8192:
                    continue
                group = items[:size]
                times = {a: [] for a in engines}
                for r in range(reps + 1):
                    for attention, engine in engines.items():
                        batch = engine.batch(group)
                        start = time.process_time()
                        engine.score(batch, [])
                        if r:
                            times[attention].append(time.process_time() - start)
                t = max(e.n_tokens for e in group)
                eager, fused = min(times["eager"]), min(times["fused"])
                print(f"T={t} B={len(group)} eager {eager * 1000:.1f} ms fused {fused * 1000:.1f} ms "
                      f"eager/fused {eager / fused:.2f}", flush=True)


if __name__ == "__main__":
    main()
