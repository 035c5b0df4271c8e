"""The run-time options of the categories analysis (Jang et al. 2024)."""

from __future__ import annotations

from dataclasses import dataclass

from ...options import Options, option
from .metrics import KEY_MODES, load_category_map


@dataclass(frozen=True)
class CategoriesOptions(Options):
    """What ``headlens run --analyses categories`` computes."""

    map: dict | None = option(None, "categories: JSON file UPOS -> content|function|other|drop (default: "
                              "docs/finetuning.md)", flag="--category-map", parse=load_category_map, metavar="FILE")
    keys: str = option("renormalise", "categories: rescale each row over the words kept, or keep the raw weights",
                       flag="--category-keys", choices=KEY_MODES)
