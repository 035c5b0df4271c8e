"""The run directory's lock: ``RUN/.headlens.lock``, held (``flock``) by the process writing the run,
with that process's pid in it. A killed process releases it; a run whose manifest says 'running'
and whose lock nobody holds was killed (``live``)."""

from __future__ import annotations

import os

from ..errors import RunStoreError
from .layout import LOCK


def acquire(out: str):
    """Hold an exclusive lock on ``out/.headlens.lock`` while this run lives (a killed process releases it)."""
    import fcntl

    fh = open(os.path.join(out, LOCK), "a")  # noqa: SIM115 - kept open with the run's state
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        fh.close()
        pid = holder(out)
        raise RunStoreError(f"another headlens process is writing {out} right now{f' (pid {pid})' if pid else ''}; "
                            "wait for it to end (or stop it) before resuming.") from e
    os.ftruncate(fh.fileno(), 0)
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def holder(out: str) -> int | None:
    """The pid recorded in the run's lock file (the process that last held it), if any."""
    try:
        with open(os.path.join(out, LOCK), encoding="ascii") as fh:
            return int(fh.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def live(out: str) -> bool:
    """True when the process recorded in the run's lock file exists and holds the lock now; a run
    whose status is 'running' but is not live was killed."""
    import fcntl

    pid = holder(out)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)  # signal 0: does the process exist?
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    try:
        fh = open(os.path.join(out, LOCK))  # noqa: SIM115
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False
