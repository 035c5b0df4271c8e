"""Shared pieces of the benchmark: thread pinning, corpora, headlens's own batching, timing, environment.

``pin_threads`` must run before numpy or torch is imported (BLAS and OpenMP read their thread
counts at import), so this module imports neither at top level.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timezone

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
UD_DEV = os.path.abspath(os.path.join(REPO, "..", "shared", "data", "ud-english-ewt", "en_ewt-ud-dev.conllu"))
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def pin_threads(threads: int) -> None:
    """Fix the intra-op threads of OpenMP, the BLAS numpy uses and torch (call before importing numpy or torch).

    Only environment variables are set here, so that a parent can pin threads and still stay
    lean (see ``max_rss_mib``); ``set_torch_threads`` repeats the setting once torch is imported.
    """
    for var in THREAD_VARS:
        os.environ[var] = str(threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def set_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def max_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB).

    On Linux a process starts with the peak of the process it was forked from (the high-water
    mark survives fork + exec), so a parent must spawn measured children while it is small.
    """
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mib() -> float | None:
    """This process's own peak RSS since exec (``VmHWM`` of /proc/self/status), a cross-check of ``max_rss_mib``."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def corpus_spec(n: int | None, path: str = UD_DEV):
    """The first ``n`` sentences of ``path`` (all of them when ``n`` is None)."""
    from headlens import CorpusSpec

    return CorpusSpec(path, format="conllu", limit=n)


def count_sentences(path: str = UD_DEV) -> int:
    with open(path, encoding="utf-8") as fh:
        return sum(1 for line in fh if line.startswith("# sent_id"))


def write_repeated_corpus(n: int, directory: str, path: str = UD_DEV) -> str:
    """A CoNLL-U file holding ``path`` repeated until it has at least ``n`` sentences."""
    copies = -(-n // count_sentences(path))
    with open(path, encoding="utf-8") as fh:
        text = fh.read().rstrip("\n") + "\n\n"
    out = os.path.join(directory, f"repeated-{copies}x.conllu")
    with open(out, "w", encoding="utf-8") as fh:
        for _ in range(copies):
            fh.write(text)
    return out


@contextmanager
def scratch_dir(prefix: str = "headlens-bench-"):
    path = tempfile.mkdtemp(prefix=prefix)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run_headlens(spec, out: str, args, analyses: tuple[str, ...] = ("surface",), model: str | None = None):
    """``headlens.run`` as a user calls it (default batching, no progress bar; surface metrics and the
    embedded model unless told)."""
    import headlens

    return headlens.run(
        out=out, model=model, corpus=spec, overwrite=True, progress=False, analyses=analyses,
        threads=args.threads, device=args.device, dtype=args.dtype,
    )


def encoded_stream(tokenizer, max_tokens: int, spec):
    """Sentences of ``spec`` tokenized and aligned exactly as ``headlens.run`` does (its front half)."""
    from headlens import RunConfig
    from headlens.runner.stream import FrontHalf

    return FrontHalf.of(RunConfig(corpus=spec)).encoded(tokenizer, max_tokens)


def headlens_batches(lm, engine, spec) -> list:
    """The padded device batches ``headlens.run`` forms for ``spec`` (its front half and Engine.batch)."""
    from headlens import RunConfig
    from headlens.corpus.types import Skipped
    from headlens.runner.stream import FrontHalf

    planned = FrontHalf.of(RunConfig(corpus=spec)).batches(lm.tokenizer, lm.max_tokens)
    return [engine.batch(items) for items in planned if not isinstance(items, Skipped)]


def forward_batches(model, batches, engine, device: str) -> None:
    """Forward passes of ``model`` over headlens's ``batches`` (token types as ``engine`` passes them), nothing kept."""
    import torch

    with torch.inference_mode():
        for b in batches:
            inputs = b.model_inputs()
            if not engine.takes_token_types:
                inputs.pop("token_type_ids")
            model(**inputs)
    synchronize(device)


def model_bench_arguments(parser, limit: int | None, repeats: int) -> None:
    """The flags of every model benchmark script: --model, --device, --dtype, --corpus, --limit, --repeats, --threads."""
    parser.add_argument("--model", help="model directory (default: the embedded all-MiniLM-L6-v2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--corpus", default=UD_DEV, help="CoNLL-U file (default: UD English EWT dev beside the repo)")
    parser.add_argument("--limit", type=int, default=limit,
                        help=f"first N sentences of UD EWT dev (default: {limit if limit is not None else 'all'})")
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--threads", type=int, default=2)


def parse_pinned(parser, argv):
    """Parse a model benchmark's flags and pin its threads (before torch is first used)."""
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    set_torch_threads(args.threads)
    return args


def print_result(result: dict, name: str, op: str, target: float, info: tuple[str, ...] = ()) -> None:
    """A model benchmark script's output: ``result`` as JSON, its ``BENCH name value target op target``
    line, and a ``BENCH ... (INFO)`` line for each key of ``info`` the result holds."""
    print(json.dumps(result, indent=1))
    print(f"BENCH {name} {result[name]:.2f} target {op} {target:g}")
    for key in info:
        if key in result:
            print(f"BENCH {key} {result[key]:.2f} (INFO)")


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def interleaved(contenders: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, list[float]], dict]:
    """Run each contender ``repeats`` times, interleaved (A B A B ...): every time, and each one's last result.

    Interleaving spreads any outside load over all contenders alike; the caller takes the
    minimum, the time least disturbed by other processes.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in contenders.items():
            seconds, results[name] = timed(fn)
            times[name].append(seconds)
    return times, results


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(args) -> dict:
    import numpy
    import torch
    import transformers

    import headlens

    env = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "headlens": headlens.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": numpy.__version__,
        "threads": args.threads,
        "torch_threads": torch.get_num_threads(),
        "device": args.device,
        "dtype": args.dtype,
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    if args.device.startswith("cuda"):
        env["gpu"] = torch.cuda.get_device_name(torch.device(args.device))
    return env


def profiled(fn: Callable[[], object], orders=(("tottime", 35), ("cumulative", 60))) -> None:
    """Run ``fn`` once under cProfile and print its top functions in each of ``orders`` ((sort key, count), ...)."""
    import cProfile
    import io
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    fn()
    profile.disable()
    for order, count in orders:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(count)
        print(out.getvalue())
