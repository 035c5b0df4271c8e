"""Peak RSS of a fresh headlens.run with the default analyses at one length, with and without its parts:

    PYTHONPATH=src python benchmarks/peak_rss.py 512 20000

writes the length corpus (lengths.py: UD dev sentences joined to close to T tokens), then runs
``headlens.run`` in a fresh process for each variant (the default; no stored maps,
``store_maps=()``; glibc's freed memory released, ``keep_freed_memory=False``; both) and prints the
process's VmHWM (MiB) for each, one JSON line (docs/performance.md, issue 24's accounting of the
T = 512 peak against plain inference, which ``bench.py --only lengths`` measures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchutil import UD_DEV, pin_threads, scratch_dir, set_torch_threads, vm_hwm_mib  # noqa: E402

VARIANTS = {"default": {}, "no_maps": {"store_maps": ()}, "release_memory": {"keep_freed_memory": False},
            "no_maps_release_memory": {"store_maps": (), "keep_freed_memory": False}}


def child(corpus: str, variant: str) -> None:
    pin_threads(2)
    set_torch_threads(2)
    import headlens
    from headlens.corpus import CorpusSpec
    from lengths import DEFAULT_ANALYSES

    with scratch_dir() as out:
        headlens.run(out=os.path.join(out, "run"), corpus=CorpusSpec(corpus, format="conllu"), analyses=DEFAULT_ANALYSES,
                     progress=False, threads=2, long="truncate", **VARIANTS[variant])
    print(json.dumps({"vm_hwm_mib": vm_hwm_mib()}))


def main() -> None:
    if sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    from transformers import AutoTokenizer

    import headlens
    from lengths import write_length_corpus

    length, tokens = int(sys.argv[1]), int(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        corpus = write_length_corpus(UD_DEV, AutoTokenizer.from_pretrained(headlens.default_model_path()), length, tokens, tmp)
        out = {}
        for variant in VARIANTS:
            done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", corpus, variant],
                                  capture_output=True, text=True, check=True)
            out[variant] = json.loads(done.stdout.strip().splitlines()[-1])["vm_hwm_mib"]
        print(json.dumps({"length": length, "tokens": tokens, "vm_hwm_mib": out}))


if __name__ == "__main__":
    main()
