"""The ``headlens`` command: a thin layer over the Python API.

Each subcommand lives in its own module with an ``add(subparsers)`` function that adds its
parser and sets ``func``. Errors print ``Type: message`` on stderr and exit with status 2 (1 for
an internal error), never a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..version import __version__
from . import models, roles, run
from . import runs, sql  # the runs catalog
from . import categories, compare, finetune  # fine-tuning and before/after comparison
from . import cluster, probe, syntax  # Clark et al.: syntactic heads, head clustering, the probing classifier
from . import mixing  # Kobayashi et al.: mixing ratios and FF pairs of the norm-based decomposition
from . import ablate, patterns  # Kovaleva et al.: head and layer ablation, attention pattern types
from . import figures, report  # the HTML report and the publication figures

SUBCOMMANDS = (run, roles, models, runs, sql, finetune, compare, categories, syntax, cluster, probe, mixing, ablate, patterns, report, figures)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headlens", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"headlens {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..errors import HeadlensError

    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        return args.func(args)
    except HeadlensError as e:
        if args.debug:
            raise
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted: finished parts are kept in the run directory (status 'interrupted').", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - no input may produce a traceback
        if args.debug:
            raise
        print(f"InternalError: {type(e).__name__}: {e} (please report this; --debug shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
