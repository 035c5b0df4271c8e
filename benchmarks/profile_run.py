"""cProfile of one warm ``headlens.run`` on a figure-8 length corpus (docs/performance.md):

    PYTHONPATH=src python benchmarks/profile_run.py 256 8000 [surface,roles,...]

writes the corpus (UD dev sentences joined to close to T tokens, ``tokens`` in all, lengths.py),
runs once to warm up, once timed, once under cProfile, and prints the top functions by own and by
cumulative time. The model is loaded before (no load in the profile).
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import UD_DEV, pin_threads, profiled  # noqa: E402

pin_threads(2)
import torch  # noqa: E402

import headlens  # noqa: E402
from headlens.corpus import CorpusSpec  # noqa: E402
from lengths import DEFAULT_ANALYSES, preloaded, write_length_corpus  # noqa: E402


def main() -> None:
    torch.set_num_threads(2)
    length, tokens = int(sys.argv[1]), int(sys.argv[2])
    analyses = tuple(sys.argv[3].split(",")) if len(sys.argv) > 3 else DEFAULT_ANALYSES
    lm = headlens.load_model(None)
    with tempfile.TemporaryDirectory() as tmp:
        spec = CorpusSpec(write_length_corpus(UD_DEV, lm.tokenizer, length, tokens, tmp), format="conllu")

        def go():
            return headlens.run(out=os.path.join(tmp, "run"), corpus=spec, analyses=analyses, overwrite=True,
                                progress=False, threads=2, long="truncate")

        with preloaded(lm):
            go()
            start = time.perf_counter()
            go()
            print("warm run", round(time.perf_counter() - start, 2), "s")
            profiled(go)


if __name__ == "__main__":
    main()
