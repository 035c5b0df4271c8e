"""Experiment (not a figure): the run's per-token work outside the forward pass, alone, in process CPU time.

    PYTHONPATH=$PWD/src python benchmarks/experiments/front.py [LENGTH TOKENS ROUNDS]

Writes a figure-8 corpus of about TOKENS tokens at LENGTH (default 32 and 48,000: 1,510 sentences;
lengths.py), runs the default analyses on it once, then times, on one thread, least process CPU
time of ROUNDS (default 5): reading the corpus (``Corpus``: CoNLL-U lines and sentences), encoding
it (``Encoder``: tokenization, alignment, units) and the role tests of the run (``head_roles``: the
bootstrap intervals and t tests of every role metric). Process CPU time moves far less than wall
time on a machine that other processes share. Run it with PYTHONPATH and the working directory
of the tree to measure (docs/performance.md, 2026-12-05).
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchutil import UD_DEV, pin_threads  # noqa: E402

pin_threads(1)
import torch  # noqa: E402

import headlens  # noqa: E402
from headlens.align.encode import Encoder  # noqa: E402
from headlens.analyses.roles.stats import head_roles  # noqa: E402
from headlens.corpus import CorpusSpec  # noqa: E402
from headlens.corpus.reader import Corpus  # noqa: E402
from headlens.store import open_run  # noqa: E402
from lengths import DEFAULT_ANALYSES, preloaded, write_length_corpus  # noqa: E402


def least(fn, rounds: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(rounds):
        start = time.process_time()
        out = fn()
        times.append(time.process_time() - start)
    return min(times), out


def main() -> None:
    torch.set_num_threads(1)
    length, tokens, rounds = (int(a) for a in (sys.argv[1:4] if len(sys.argv) > 3 else (32, 48000, 5)))
    lm = headlens.load_model(None)
    with tempfile.TemporaryDirectory() as tmp:
        spec = CorpusSpec(write_length_corpus(UD_DEV, lm.tokenizer, length, tokens, tmp), format="conllu")
        with preloaded(lm):
            headlens.run(out=os.path.join(tmp, "run"), corpus=spec, analyses=DEFAULT_ANALYSES, overwrite=True,
                         progress=False, threads=1, long="truncate")
        run = open_run(os.path.join(tmp, "run"))
        read, sentences = least(lambda: list(Corpus(spec)), rounds)
        encode, _ = least(lambda: list(Encoder(lm.tokenizer, 512, "truncate").stream(sentences)), rounds)
        roles, _ = least(lambda: head_roles(run), max(1, rounds // 2))
    print(f"{len(sentences)} sentences, {tokens} tokens at T = {length}; least CPU s of {rounds}: read {read:.3f} "
          f"encode {encode:.3f} head_roles {roles:.3f}; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
