"""The ``headlens`` command: a thin layer over the Python API.

The commands that belong to no analysis (run, models, runs, sql, finetune, compare-models,
report, figures, demo) live here, one module each with an ``add(subparsers)`` function that adds its
parser and sets ``func``; each analysis adds its own (``Analysis.command``, from
``headlens/analyses/<name>/cli.py``). Errors print ``Type: message`` on stderr and exit with status 2 (1 for
an internal error), never a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..version import __version__
from ..analyses.registry import ANALYSES
from . import compare_models, demo, figures, finetune, models, report, run, runs, sql

FIRST = (run, models, runs, sql)  # then every analysis' subcommands, in the registry's order
LAST = (compare_models, finetune, report, figures, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headlens", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"headlens {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in FIRST:
        module.add(sub)
    for analysis in ANALYSES.values():
        if analysis.command is not None:
            analysis.command(sub)
    for module in LAST:
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
