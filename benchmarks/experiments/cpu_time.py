"""Experiment (not a figure): process CPU time of a warm ``headlens.run`` against plain inference, on one thread.

    PYTHONPATH=$PWD/src python benchmarks/experiments/cpu_time.py LENGTH TOKENS ROUNDS [ANALYSES]

LENGTH > 0: a figure-8 corpus of about TOKENS tokens at that length (lengths.py); LENGTH 0: the
first TOKENS sentences of UD English EWT dev. Runs the headlens side (the API, the model loaded
before, the default analyses unless told) and the plain side (tokenization plus SDPA forward of the
same batches) alternately, ROUNDS times after a warm-up, and prints the least CPU time of each,
their ratio, the batches of each attention path and the load. On a machine that other processes
share, one thread's CPU time moves far less than wall time (docs/performance.md, 2026-12-04
21:10-22:15 UTC). Run it with PYTHONPATH and the working directory of the tree to measure.
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchutil import UD_DEV, headlens_batches, pin_threads  # noqa: E402

pin_threads(1)
import torch  # noqa: E402
from transformers import AutoModel  # noqa: E402

import headlens  # noqa: E402
from headlens.corpus import CorpusSpec  # noqa: E402
from headlens.runner import Engine  # noqa: E402
from lengths import DEFAULT_ANALYSES, preloaded, write_length_corpus  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    length, tokens, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    analyses = tuple(sys.argv[4].split(",")) if len(sys.argv) > 4 else DEFAULT_ANALYSES
    lm = headlens.load_model(None)
    plain = AutoModel.from_pretrained(lm.path, attn_implementation="sdpa").eval()
    with tempfile.TemporaryDirectory() as tmp:
        path = write_length_corpus(UD_DEV, lm.tokenizer, length, tokens, tmp) if length else UD_DEV
        spec = CorpusSpec(path, format="conllu", limit=None if length else tokens)
        texts = [[e.sentence.text for e in b.items] for b in headlens_batches(lm, Engine(lm, []), spec)]

        def run():
            return headlens.run(out=os.path.join(tmp, "run"), corpus=spec, analyses=analyses, overwrite=True,
                                progress=False, threads=1, long="truncate")

        def plain_side():
            with torch.inference_mode():
                for group in texts:
                    plain(**lm.tokenizer(group, padding=True, truncation=True, max_length=512, return_tensors="pt"))

        with preloaded(lm):
            result = run()
            plain_side()
            times = {"run": [], "plain": []}
            for _ in range(rounds):
                for name, side in (("run", run), ("plain", plain_side)):
                    start = time.process_time()
                    side()
                    times[name].append(time.process_time() - start)
    best = {name: min(t) for name, t in times.items()}
    print(f"length={length} tokens={tokens} run {best['run']:.2f} s plain {best['plain']:.2f} s "
          f"ratio {best['plain'] / best['run']:.2f} batches {result.manifest['attention'].get('batches')} "
          f"rounds {[round(x, 2) for x in times['run']]} load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
