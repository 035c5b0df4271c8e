"""Head ablation on fine-tuned classifiers (Kovaleva et al. 2019): uniform, zero and mean ablation of
single heads and whole layers by hooks, swept over a dev set with paired tests (see docs/ablation.md)."""

from .hooks import AblationHooks
from .options import METRICS, AblationStats
from .results import ablation_table, detectable
from .spec import MODES, Ablation, head_ablation, layer_ablation, parse_heads, parse_layers, sweep_ablations
from .sweep import AblationConfig, AblationResult, ablate, load_result

__all__ = ["METRICS", "MODES", "Ablation", "AblationConfig", "AblationHooks", "AblationResult", "AblationStats", "ablate",
           "ablation_table", "detectable", "head_ablation", "layer_ablation", "load_result", "parse_heads", "parse_layers",
           "sweep_ablations"]
