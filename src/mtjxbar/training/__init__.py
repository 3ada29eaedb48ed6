"""Training: the in-situ rule and loop, the shared architecture, and the software baselines."""

from .architecture import Architecture, build_architecture, class_scores, margin_met, output_error
from .baselines import SoftwareMLP, train_software_epoch
from .config import BaselineConfig, TrainingConfig
from .insitu import EpochStats, InSituNetwork, evaluate, train_insitu, train_step
from .rules import sgd_request

__all__ = ["Architecture", "build_architecture", "class_scores", "margin_met", "output_error", "SoftwareMLP",
           "train_software_epoch", "BaselineConfig", "TrainingConfig", "EpochStats", "InSituNetwork",
           "evaluate", "train_insitu", "train_step", "sgd_request"]
