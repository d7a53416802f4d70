"""Every registry in one place, and the checks that span several of them (invalid combinations).

Each registry lives beside its family; this module only imports the families so that they register.
"""

from __future__ import annotations

from ganbench.config.schema import FIELDS, Config
from ganbench.data import DATASETS, DataSpec
from ganbench.errors import ConfigError
from ganbench.gan.constraints import CONSTRAINTS
from ganbench.gan.losses import LOSSES
from ganbench.gan.penalties import PENALTIES
from ganbench.gan.presets import PRESETS
from ganbench.metrics import METRICS, direction_of
from ganbench.metrics.image import FIDELITY
from ganbench.models import MODELS
from ganbench.models.conditioning import conditioning_classes
from ganbench.registry import Registry

REGISTRIES: dict[str, Registry] = {
    "datasets": DATASETS, "models": MODELS, "losses": LOSSES, "penalties": PENALTIES,
    "constraints": CONSTRAINTS, "presets": PRESETS, "metrics": METRICS,
}


def _get(config: Config, key: str) -> object:
    section, _, name = key.partition(".")
    return getattr(getattr(config, section), name) if name else getattr(config, section)


def validate(config: Config) -> None:
    """Registry names, then combinations; raises ``ConfigError`` naming the key at fault."""
    for key, (f, _) in FIELDS.items():
        registry = f.metadata.get("registry")
        if registry is None:
            continue
        value = _get(config, key)
        for name in value if isinstance(value, tuple) else (value,):
            if not (name == "" and f.metadata.get("allow_empty")):
                REGISTRIES[registry].get(name)

    dataset = DATASETS.get(config.data.name)
    spec = dataset.spec(config)
    reason = MODELS.get(config.model.name).unsupported_reason(spec)
    if reason:
        fitting = [name for name, model in MODELS.items() if model.unsupported_reason(spec) is None]
        raise ConfigError("model.name", f"{config.model.name} {reason} (data.name={config.data.name}); "
                                        f"models for this data: {', '.join(fitting)}")
    _validate_conditioning(config, spec)
    if PENALTIES.get(config.loss.penalty).per_sample_gradient and config.model.d_norm == "batch":
        raise ConfigError("loss.penalty", f"{config.loss.penalty} is a per-sample penalty and batch norm in D "
                                          "mixes samples; set model.d_norm to none or layer")
    if config.train.update == "simultaneous" and config.train.disc_steps != 1:
        raise ConfigError("train.update", f"simultaneous takes D's and G's gradients from one pass, one D step per G "
                                          f"step; set train.disc_steps=1 (got {config.train.disc_steps}) or "
                                          "train.update=alternating")
    if config.model.pack_mode == "within_batch" and config.train.batch_size % config.model.pack:
        raise ConfigError("train.batch_size", f"{config.train.batch_size} is not divisible by model.pack="
                                              f"{config.model.pack}; use a multiple of {config.model.pack} or "
                                              "model.pack_mode=pacgan")
    for name in config.eval.metrics:
        reason = METRICS.get(name).unsupported_reason(dataset, config)
        if reason:
            fitting = [m for m, cls in METRICS.items() if cls.unsupported_reason(dataset, config) is None]
            raise ConfigError("eval.metrics", f"{name} {reason}; metrics for data.name={config.data.name}: "
                                              f"{', '.join(fitting) or 'none yet'}")
    if config.eval.select:
        try:
            direction_of(config.eval.select, config.eval.metrics)
        except KeyError:
            keys = sorted(k for name in config.eval.metrics for k in METRICS.get(name).directions)
            raise ConfigError("eval.select", f"{config.eval.select!r} is not a key of eval.metrics; "
                                             f"available: {', '.join(keys) or 'none (no metrics configured)'}") from None
    unknown = sorted(set(config.eval.fidelity) - set(FIDELITY))
    if unknown:
        raise ConfigError("eval.fidelity", f"unknown image metric {unknown[0]!r}; available: {', '.join(FIDELITY)}")
    for key, split in (("eval.split", config.eval.split), ("eval.final_split", config.eval.final_split)):
        if split not in dataset.splits:
            raise ConfigError(key, f"invalid split {split!r} for data.name={config.data.name}; "
                                   f"available: {', '.join(dataset.splits)}")
    if config.device not in ("auto", "cpu", "mps") and not config.device.startswith("cuda"):
        raise ConfigError("device", f"invalid value {config.device!r}; available: auto, cpu, cuda, cuda:N, mps")


# What to change when a loss reads a D output the configured model does not give.
OUTPUT_HINTS = {
    "class_logits": "set data.conditional=true and model.d_conditioning=classifier",
    "labels": "set data.conditional=true",
}


def _validate_conditioning(config: Config, spec: DataSpec) -> None:
    model = MODELS.get(config.model.name)
    if config.data.conditional and not spec.num_classes:
        labelled = [name for name, dataset in DATASETS.items() if dataset.spec(config).num_classes]
        raise ConfigError("data.conditional", f"data.name={config.data.name} has no class labels; labelled "
                                              f"datasets: {', '.join(labelled)}")
    if config.data.conditional and not model.conditional_discriminator:
        fitting = [name for name, m in MODELS.items() if m.conditional_discriminator]
        raise ConfigError("data.conditional", f"model.name={config.model.name}'s discriminator cannot use labels; "
                                              f"conditional models: {', '.join(fitting)}")
    given = model.discriminator_outputs(config.model, conditioning_classes(config, spec))
    missing = sorted(LOSSES.get(config.loss.name).requires - given)
    if missing:
        providers = [name for name, m in MODELS.items()
                     if not m.unsupported_reason(spec) and set(missing) <= m.discriminator_outputs(config.model, 1)]
        hint = OUTPUT_HINTS.get(missing[0], f"use a model whose D gives it: {', '.join(providers) or 'none'}")
        raise ConfigError("loss.name", f"{config.loss.name} needs {' and '.join(missing)} from D, which "
                                       f"model.name={config.model.name} does not give here; {hint}")
