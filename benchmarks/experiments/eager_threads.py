"""Experiment (not a figure): the eager path's metric reductions on one intra-op thread or on all.

    PYTHONPATH=$PWD/src python benchmarks/experiments/eager_threads.py LENGTH BATCH [ROUNDS]

Scores one batch of BATCH sentences of a figure-8 corpus at LENGTH tokens (lengths.py) with an
eager engine of the default analyses on 2 threads, alternately with ``runner.fused.reducing`` as it
is (the reductions on :data:`~headlens.runner.fused.REDUCTION_THREADS`) and replaced by a no-op (on
both threads), and prints the least and the median wall time of each (ROUNDS, default 5, after a
warm-up) with the load.
"""

import contextlib
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchutil import UD_DEV, pin_threads  # noqa: E402

pin_threads(2)
import torch  # noqa: E402

import headlens  # noqa: E402
import headlens.runner.fused as fused  # noqa: E402
from headlens import RunConfig  # noqa: E402
from headlens.corpus import CorpusSpec  # noqa: E402
from headlens.pipeline import _model_side  # noqa: E402
from headlens.runner.stream import FrontHalf  # noqa: E402
from lengths import DEFAULT_ANALYSES, preloaded, write_length_corpus  # noqa: E402


def main() -> None:
    torch.set_num_threads(2)
    length, size = int(sys.argv[1]), int(sys.argv[2])
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    lm = headlens.load_model(None)
    with preloaded(lm):
        cfg = RunConfig(analyses=DEFAULT_ANALYSES, attention="eager", corpus=UD_DEV)
        engine = _model_side(cfg, FrontHalf.of(cfg), "cpu", 2)[-1]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_length_corpus(UD_DEV, lm.tokenizer, length, 160 * length, tmp)
        front = FrontHalf.of(RunConfig(corpus=CorpusSpec(path, format="conllu"), long="truncate"))
        items = [e for e in front.encoded(lm.tokenizer, lm.max_tokens) if hasattr(e, "n_tokens")][:size]
    one_thread = fused.reducing
    modes = {"reductions on 1 thread": one_thread, "reductions on 2 threads": lambda device: contextlib.nullcontext()}
    times = {name: [] for name in modes}
    for r in range(rounds + 1):
        for name, reducing in modes.items():
            fused.reducing = reducing
            batch = engine.batch(items)
            start = time.perf_counter()
            engine.score(batch, [])
            if r:
                times[name].append(time.perf_counter() - start)
    fused.reducing = one_thread
    for name, t in times.items():
        print(f"T={length} B={len(items)} {name}: least {min(t):.3f} s, median {statistics.median(t):.3f} s")
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
