"""Experiment (not a figure): a surface-only run on UD sentences in any tree of headlens, then and now.

    git archive b165793 | tar -x -C /tmp/old     # 2026-11-23: the eager engine with hooks
    PYTHONPATH=/tmp/old/src HIST_THREADS=1 HIST_CPU=1 python benchmarks/experiments/history.py 1000 surface 2 [profile]
    PYTHONPATH=$PWD/src     HIST_THREADS=1 HIST_CPU=1 python benchmarks/experiments/history.py 1000 surface 2 [profile]

Runs ``headlens.run`` (the API of both trees) on the first N sentences of UD English EWT dev with
the model loaded before, alternately with a plain SDPA forward of the same texts (sorted by length,
128 a batch), and prints each round and the ratio of the least times; with a fourth argument, a
cProfile of one more run (cumulative and own time). ``HIST_THREADS`` (default 2) intra-op threads;
``HIST_CPU``: process CPU time instead of wall time (steadier on a shared machine).
docs/performance.md (2026-12-04, 21:10-22:15 UTC) has what it found.
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchutil import UD_DEV, profiled  # noqa: E402

THREADS = int(os.environ.get("HIST_THREADS", "2"))
os.environ["OMP_NUM_THREADS"] = str(THREADS)
CLOCK = time.process_time if os.environ.get("HIST_CPU") else time.perf_counter
import torch  # noqa: E402
from transformers import AutoModel  # noqa: E402

import headlens  # noqa: E402
import headlens.pipeline as pipeline  # noqa: E402
from headlens.corpus import CorpusSpec  # noqa: E402
from headlens.corpus.reader import Corpus  # noqa: E402


def main() -> None:
    torch.set_num_threads(THREADS)
    n, analyses, rounds = int(sys.argv[1]), tuple(sys.argv[2].split(",")), int(sys.argv[3])
    lm = pipeline.load_model(None)
    pipeline.load_model = lambda *a, **k: lm  # both trees' run() load the model through the pipeline module
    plain = AutoModel.from_pretrained(lm.path, attn_implementation="sdpa").eval()
    tmp = tempfile.mkdtemp()
    spec = CorpusSpec(UD_DEV, limit=n)

    def run():
        return headlens.run(out=os.path.join(tmp, "r"), corpus=spec, analyses=analyses, overwrite=True, progress=False,
                            threads=THREADS)

    texts = sorted((s.text for s in Corpus(spec) if hasattr(s, "text")), key=len)

    def plain_side():
        with torch.inference_mode():
            for i in range(0, len(texts), 128):
                plain(**lm.tokenizer(texts[i:i + 128], padding=True, truncation=True, max_length=512, return_tensors="pt"))

    run()
    times = {"run": [], "plain": []}
    for _ in range(rounds):
        for name, side in (("run", run), ("plain", plain_side)):
            start = CLOCK()
            side()
            times[name].append(CLOCK() - start)
    print({k: [round(x, 2) for x in v] for k, v in times.items()}, "ratio", round(min(times["plain"]) / min(times["run"]), 2))
    if len(sys.argv) > 4:
        profiled(run, (("cumulative", 45), ("tottime", 25)))


if __name__ == "__main__":
    main()
