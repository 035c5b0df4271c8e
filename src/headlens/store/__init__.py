"""The run store: a directory per run with its manifest and Parquet tables."""

from .run import Run, open_run
from .tables import head_label
from .layout import MANIFEST
from .writer import RunWriter, prepare_run_dir

__all__ = ["MANIFEST", "Run", "RunWriter", "head_label", "open_run", "prepare_run_dir"]
