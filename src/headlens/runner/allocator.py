"""Keep freed memory in the process for reuse, so that per-layer temporaries stop faulting pages in.

A forward pass with metrics allocates and frees tensors of several MB per layer: the attention
probabilities, the word aggregation, the entropy and mass temporaries, and the model's own
activations. glibc serves such blocks either from fresh ``mmap`` pages (above its mmap
threshold) or from the heap, whose top it trims back to the kernel when a free leaves more than
the trim threshold. Either way the next layer gets zero-filled pages again, and each 4 KiB page
is a minor fault: a roles run over UD EWT dev took 840k-900k faults without this setting and
350k-370k with it on this project's 2-core CPU (README, Performance, gives the command).
``keep_freed_memory`` sets the mmap threshold to glibc's 64-bit ceiling (32 MiB) and stops
trimming, so that freed blocks are reused.

The cost: the process keeps its peak heap until it exits instead of handing freed pages back.
The peak itself hardly moves (peak RSS 1.04-1.13 GB with the setting and 1.05-1.07 GB without,
two runs each of the command above). This is a process-wide glibc setting: it applies from the
call until the process ends, to every allocation of the process. Elsewhere (musl, macOS,
Windows) nothing happens. ``RunConfig(keep_freed_memory=False)`` (CLI ``--release-memory``)
leaves the allocator as it is.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # DEFAULT_MMAP_THRESHOLD_MAX of 64-bit glibc: larger values are refused
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int: trim only when 2 GiB are free at the heap's top

_applied: bool | None = None


def _mallopt():
    """glibc's ``mallopt``, or None where the C library is not glibc."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if not hasattr(libc, "gnu_get_libc_version"):  # musl has a mallopt that does nothing
            return None
        fn = libc.mallopt
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return fn


def keep_freed_memory() -> bool:
    """Raise glibc's mmap threshold to its maximum and stop heap trimming (once per process).

    Returns True when glibc accepted both settings, False where they cannot be applied.
    """
    global _applied
    if _applied is None:
        mallopt = _mallopt()
        _applied = bool(mallopt and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX) == 1
                        and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    return _applied
