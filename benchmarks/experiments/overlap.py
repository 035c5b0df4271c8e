"""Experiment (not a figure): does overlapping the host work with the forward pass help on 2 cores?

Runs ``headlens.run(analyses=("surface", "roles"))`` over all of UD English EWT dev, alternately
as it is and with two helper threads: one runs the corpus stream (reading, encoding, batch
planning) and ``Engine.batch`` for the next batches ahead of the forward pass (a queue of 3),
the other builds and writes the score parts (``RunWriter.add_scores``; a flush waits for it).
Prints each round and the minimum and median of each mode.

    .venv/bin/python benchmarks/experiments/overlap.py [--rounds 7]

2026-11-23, 2-core AMD EPYC: median 11.82 s as it is against 12.89 s with the threads
(slower in 6 of 7 rounds): torch's two intra-op threads already keep both cores busy, so the
helpers only compete with them (and for the GIL).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import queue
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from benchutil import corpus_spec, pin_threads  # noqa: E402

pin_threads(2)

import headlens  # noqa: E402
import headlens.runner.stream as stream  # noqa: E402
from headlens.corpus.types import Skipped  # noqa: E402
from headlens.runner import Engine  # noqa: E402
from headlens.store.writer import RunWriter  # noqa: E402

SERIAL = {"plan": stream.plan_batches, "batch": Engine.batch, "init": Engine.__init__,
          "add": RunWriter.add_scores, "flush": RunWriter.flush}
engines: list[Engine] = []
ready: dict[int, object] = {}  # id(batch items) -> Batch built ahead
writes = cf.ThreadPoolExecutor(1)
pending: list[cf.Future] = []


def init(self, *args, **kwargs):
    SERIAL["init"](self, *args, **kwargs)
    engines.append(self)


def plan_ahead(*args, **kwargs):
    q: queue.Queue = queue.Queue(maxsize=3)

    def work():
        for item in SERIAL["plan"](*args, **kwargs):
            if not isinstance(item, Skipped):
                ready[id(item)] = SERIAL["batch"](engines[-1], item)
            q.put(item)
        q.put(None)

    threading.Thread(target=work, daemon=True).start()
    while (item := q.get()) is not None:
        yield item


def batch(self, items):
    built = ready.pop(id(items), None)
    return built if built is not None else SERIAL["batch"](self, items)


def add_scores(self, ids, values):
    pending.append(writes.submit(SERIAL["add"], self, ids, values))


def flush(self):
    for f in pending:
        f.result()
    pending.clear()
    SERIAL["flush"](self)


def threaded(on: bool) -> None:
    stream.plan_batches = plan_ahead if on else SERIAL["plan"]
    Engine.batch, Engine.__init__ = (batch, init) if on else (SERIAL["batch"], SERIAL["init"])
    RunWriter.add_scores, RunWriter.flush = (add_scores, flush) if on else (SERIAL["add"], SERIAL["flush"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--out", default="/tmp/headlens-overlap")
    args = p.parse_args()
    spec = corpus_spec(None)

    def run() -> float:
        t0 = time.perf_counter()
        headlens.run(corpus=spec, analyses=("surface", "roles"), out=args.out, overwrite=True, progress=False, threads=2)
        return time.perf_counter() - t0

    run()  # warm-up
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.rounds):
        for on in (False, True):
            threaded(on)
            times[on].append(run())
        print(f"serial {times[False][-1]:.2f} s  threads {times[True][-1]:.2f} s", flush=True)
    threaded(False)
    for on, t in times.items():
        print(f"{'threads' if on else 'serial '}: min {min(t):.2f} s, median {sorted(t)[len(t) // 2]:.2f} s")


if __name__ == "__main__":
    main()
