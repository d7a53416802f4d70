"""The run config: the schema (frozen dataclasses addressed by dotted keys), value checks, and the loader
that fills in dataset and preset defaults and validates against the component registries.

``schema`` is a leaf. Component modules (data, models, gan, metrics) import config types only under
``TYPE_CHECKING``, because the loader imports their registries.
"""

from ganbench.config.loading import (
    flatten,
    from_dict,
    load_config,
    parse_override,
    read_yaml,
    resolve,
    to_dict,
    to_flat,
)
from ganbench.config.schema import (
    FIELDS,
    SECTIONS,
    Config,
    DataConfig,
    EvalConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    describe_keys,
    field_default,
)
from ganbench.config.validation import REGISTRIES, validate

__all__ = ["FIELDS", "REGISTRIES", "SECTIONS", "Config", "DataConfig", "EvalConfig", "LossConfig", "ModelConfig",
           "OptimConfig", "TrainConfig", "describe_keys", "field_default", "flatten", "from_dict", "load_config",
           "parse_override", "read_yaml", "resolve", "to_dict", "to_flat", "validate"]
