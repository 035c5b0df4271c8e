"""Lexical categories (Jang et al. 2024): attention between content and function words per layer,
and how fine-tuning moves it. See docs/finetuning.md."""

from ..base import Analysis, part
from ..compare.options import ChangeSettings
from .metrics import METRICS
from .options import CategoriesOptions

ANALYSIS = Analysis(
    name="categories", summary="content- vs function-word attention per layer, and its change across tasks",
    options=CategoriesOptions, metrics=METRICS, finalize=part(__name__, "stats", "save_run_tables"),
    settings=ChangeSettings, analyse=part(__name__, "stats", "run_tables"), view=part(__name__, "view", "categories_view"),
    required=("layers",), figures=part(__name__, "figures", "draw_categories"), command=part(__name__, "cli", "add"),
    reference="Jang et al. 2024; docs/finetuning.md",
)
