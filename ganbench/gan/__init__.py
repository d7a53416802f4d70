"""The GAN objective, orthogonal families (compare_gan's loss_lib / penalty_lib): losses, penalties,
constraints on D after its step, the named presets that combine them, and the optimizers.

Importing this package registers every loss, penalty, constraint and preset.
"""

from ganbench.gan.constraints import CONSTRAINTS, Constraint
from ganbench.gan.losses import LOSSES, Loss, build_loss
from ganbench.gan.optim import GeneratorEMA, build_optimizers
from ganbench.gan.penalties import PENALTIES, Penalty
from ganbench.gan.presets import PRESETS, Preset

__all__ = ["CONSTRAINTS", "LOSSES", "PENALTIES", "PRESETS", "Constraint", "GeneratorEMA", "Loss", "Penalty", "Preset",
           "build_loss", "build_optimizers"]
