"""Write a whole output directory under a temporary name and rename it into place when complete.

A reader never sees a half-written directory, and an existing non-empty one is never replaced.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

from ..errors import ConfigError
from .atomic import temporary_dir


def check_new_dir(out: str, what: str = "output") -> None:
    """ConfigError when ``out`` exists and is a file or a non-empty directory."""
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        raise ConfigError(f"{out} already exists; the {what} is never overwritten. Choose another --out or delete it first.")


def publish_dir(out: str, write: Callable[[str], None], what: str = "output") -> str:
    """Call ``write(tmp_dir)`` then rename ``tmp_dir`` to ``out`` (absolute path returned)."""
    out = os.path.abspath(out)
    check_new_dir(out, what)
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = temporary_dir(out)
    try:
        write(tmp)
        check_new_dir(out, what)
        if os.path.isdir(out):
            os.rmdir(out)  # empty: checked above
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
