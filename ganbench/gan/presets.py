"""Named loss recipes from the papers: settings, not model families.

``loss.name: wgan_gp`` expands to these dotted keys unless the user sets them explicitly.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ganbench.registry import Registry


class Preset:
    name: str = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}


PRESETS: Registry[type[Preset]] = Registry("preset", Preset, key="loss.preset")


@PRESETS.register("wgan")
class WGAN(Preset):
    description = "Arjovsky et al. 2017: wasserstein + weight_clip 0.01, RMSprop 5e-5, 5 D steps"
    defaults = {"loss.name": "wasserstein", "loss.penalty": "none", "loss.constraint": "weight_clip",
                "loss.clip_value": 0.01, "optim.name": "rmsprop", "optim.lr_g": 5e-5, "optim.lr_d": 5e-5,
                "train.disc_steps": 5}


@PRESETS.register("wgan_gp")
class WGANGP(Preset):
    description = "Gulrajani et al. 2017: wasserstein + gradient_penalty 10, Adam(0, 0.9), 5 D steps, D without batch norm"
    defaults = {"loss.name": "wasserstein", "loss.penalty": "gradient_penalty", "loss.penalty_weight": 10.0,
                "loss.constraint": "none", "optim.beta1": 0.0, "optim.beta2": 0.9, "train.disc_steps": 5,
                "model.d_norm": "none"}


@PRESETS.register("dragan")
class DRAGAN(Preset):
    description = "Kodali et al. 2017: non_saturating + dragan penalty 10, D without batch norm"
    defaults = {"loss.name": "non_saturating", "loss.penalty": "dragan", "loss.penalty_weight": 10.0,
                "loss.constraint": "none", "model.d_norm": "none"}


@PRESETS.register("acgan")
class ACGAN(Preset):
    description = "Odena et al. 2017: auxiliary_classifier loss, class-conditional G, D with a class head"
    defaults = {"loss.name": "auxiliary_classifier", "data.conditional": True, "model.d_conditioning": "classifier"}


@PRESETS.register("began")
class BEGAN(Preset):
    description = ("Berthelot et al. 2017: boundary_equilibrium loss (gamma 0.7, lambda_k 0.01) on the autoencoding "
                   "began model, D without batch norm, Adam 1e-4 (0.5, 0.999)")
    # Batch norm in an autoencoding D lets a collapsed fake batch normalise to a constant it reconstructs
    # perfectly: on digits with d_norm=batch, k never left 0 and G collapsed to one digit.
    # The paper's Adam 1e-4 (5e-5 was worse on digits); gamma at the diverse end of its 0.3-0.7: on digits (seed 0),
    # 0.5 drew almost only 1s, 0.85 drew all classes but less recognisably (SVC max-probability 0.64 against 0.74).
    # lambda_k is the paper's 0.001 x 10: the paper trains for 10^5+ steps, and on digits gamma L(x) and L(G(z))
    # (mean L1 per pixel) differ by ~0.01, so with 0.001 k could gain only ~0.03 in a 3,000-step run.
    defaults = {"loss.name": "boundary_equilibrium", "model.name": "began", "model.d_norm": "none",
                "loss.began_gamma": 0.7, "loss.began_lambda": 0.01, "optim.lr_g": 1e-4, "optim.lr_d": 1e-4,
                "optim.beta1": 0.5, "optim.beta2": 0.999}
