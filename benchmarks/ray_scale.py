"""Figure 9 of bench.py: ``--engine ray`` on this machine (docs/scale.md).

- ``ray_2workers_vs_local``: throughput of ``headlens.run(engine="ray", workers=2, threads=1)`` over
  that of the local run with 2 threads, on the first sentences of UD English EWT dev (surface
  analysis, the embedded MiniLM), both timed as a user runs them (model loading included: once in
  the local run, once per worker and once on the driver in the Ray run), after one warm-up of
  each, best of interleaved rounds. A local Ray instance with 2 CPUs is started once, before (its
  start, about 10 s, is a cluster's, not a run's). On a 2-core machine two 1-thread workers can at
  best equal one 2-thread process: the figure is what Ray costs here, not a speed-up.
- ``ray_overhead_per_block_ms``: what a block costs beyond its scoring, at the driver's pace with 2
  workers: blocks of real corpus items go through ``headlens.scale.actors.score_blocks`` to workers
  that score nothing but return a block's worth of rows (16 metrics x 6 layers x 12 heads per
  sentence, float64) and records: the time between the first block's result and the last one's
  over the blocks after the first, which leaves out the pool's start.
- INFO ``ray_driver_store_ms_per_sentence``: the driver's own cost per sentence (``_Store.add_block``:
  moments, Parquet parts, records, commits), timed inside the Ray runs.
"""

from __future__ import annotations

import itertools
import os
import sys
import time

import numpy as np

from benchutil import corpus_spec, interleaved

SURFACE_CELLS = (16, 6, 12)  # the surface analysis' metrics x MiniLM's layers x heads
RECORD = {"sentence_id": 0, "source": "x", "sent_id": None, "text": "x" * 80, "text_b": None, "label": None,
          "status": "analysed", "reason": None, "n_tokens": 20, "n_words": 16, "words_without_tokens": 0,
          "truncated": False, "windows": 1}


class Echo:
    """A worker that scores nothing: a block's worth of rows and records, for the per-block overhead."""

    def __call__(self, block):
        from headlens.runner.blocks import Scored

        n = len(block.items)
        return Scored(block.index, ids=[s.index for s in block.items], rows=[np.zeros(SURFACE_CELLS)] * n,
                      records=[dict(RECORD, sentence_id=s.index) for s in block.items])


def _echo_block_seconds(items: list, blocks: int, size: int) -> float:
    """Seconds per block between the first block's result and the last one's (the pool's start left out)."""
    from headlens.runner.blocks import Block
    from headlens.scale.actors import score_blocks

    cycle = itertools.cycle(items)
    todo = [Block(k, tuple(itertools.islice(cycle, size))) for k in range(blocks)]
    arrived = [time.perf_counter() for _ in score_blocks(todo, Echo, workers=2)]
    return (arrived[-1] - arrived[0]) / (blocks - 1)


def bench_ray(n: int, rounds: int, block_size: int, echo_blocks: int, tmp: str, log) -> dict:
    """The figures' values and INFO, measured on the first ``n`` sentences."""
    import ray

    import headlens
    from headlens import pipeline
    from headlens.runner.stream import FrontHalf

    spec = corpus_spec(n)
    store_seconds = [0.0]
    add_block = pipeline._Store.add_block

    def timed_add_block(self, block, scored):
        t0 = time.perf_counter()
        add_block(self, block, scored)
        store_seconds[0] += time.perf_counter() - t0

    pipeline._Store.add_block = timed_add_block
    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Echo travels to the workers by value
    info = {"ray_init_seconds": time.perf_counter() - started, "ray_sentences": n, "ray_block_size": block_size}
    try:
        def run(engine: str, **kw):
            return lambda: headlens.run(out=os.path.join(tmp, f"ray-bench-{engine}"), corpus=spec, overwrite=True,
                                        progress=False, analyses=("surface",), engine=engine, **kw)

        contenders = {"local_2_threads": run("local", threads=2),
                      "ray_2_workers_1_thread": run("ray", threads=1, workers=2, block_size=block_size)}
        log(f"figure 11: {n} sentences, local (2 threads) vs Ray (2 workers x 1 thread, blocks of {block_size}), "
            f"warm-up then {rounds} interleaved rounds")
        interleaved(contenders, 1)
        store_seconds[0] = 0.0
        times, results = interleaved(contenders, rounds)
        analysed = results["local_2_threads"].manifest["counts"]["analysed"]
        local_s, ray_s = min(times["local_2_threads"]), min(times["ray_2_workers_1_thread"])
        info.update({"ray_local_seconds": local_s, "ray_ray_seconds": ray_s,
                     "ray_local_sentences_per_s": analysed / local_s, "ray_ray_sentences_per_s": analysed / ray_s,
                     "ray_vs_local_per_round": [a / b for a, b in zip(times["local_2_threads"], times["ray_2_workers_1_thread"])],
                     "ray_driver_store_ms_per_sentence": 1000 * store_seconds[0] / (rounds * analysed)})
        items = list(FrontHalf.of(headlens.RunConfig(corpus=spec)).items())
        overhead_ms = 1000 * _echo_block_seconds(items, echo_blocks, block_size)
        info["ray_echo_blocks"] = echo_blocks
    finally:
        ray.shutdown()
        pipeline._Store.add_block = add_block
    return {"ratio": local_s / ray_s, "overhead_ms": overhead_ms, "info": info}
