"""Published numbers in a study (``reference:``): validated with the sweep file, compared in the report.

Each row names its source, our compared value (or none: a row with no counterpart here is context, shown
without a verdict), the metric, its mean and tolerance, and the protocol it was measured under.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganbench.config import resolve
from ganbench.config.values import number, required
from ganbench.errors import ConfigError, choices_hint
from ganbench.training.loop import metric_keys

if TYPE_CHECKING:
    from ganbench.sweep.study import Study

REFERENCE_KEYS = ("source", "row", "value", "metric", "mean", "err", "tolerance", "protocol", "note")
# What a published number's protocol may state; the report flags each one that differs from ours.
REFERENCE_PROTOCOL_KEYS = ("data", "model", "steps", "n_samples", "batch_size", "configs", "seeds")


def check_references(study: Study, labels: dict[str, Any], where: str) -> None:
    """Published numbers: each names its source, our compared value, the metric, its mean and tolerance."""
    for i, ref in enumerate(study.reference):
        key = f"{where}reference[{i}]"
        if not isinstance(ref, dict):
            raise ConfigError(key, "expected a mapping with source, row, value, metric, mean, tolerance, protocol")
        for name in ref:
            if name not in REFERENCE_KEYS:
                raise ConfigError(f"{key}.{name}", f"unknown reference key; {choices_hint(name, REFERENCE_KEYS)}")
        for name in ("source", "row", "metric", "mean", "tolerance"):
            required(ref, name, f"{key}.")
        # A row with no counterpart here (VEEGAN, Unrolled GAN) is context: shown, never given a verdict.
        if ref.get("value") is not None and str(ref["value"]) not in labels:
            raise ConfigError(f"{key}.value", f"not a compared value; {choices_hint(str(ref['value']), labels)}")
        number(ref["mean"], f"{key}.mean")
        number(ref["tolerance"], f"{key}.tolerance")
        protocol = ref.get("protocol") or {}
        if not isinstance(protocol, dict):
            raise ConfigError(f"{key}.protocol", f"expected a mapping with {', '.join(REFERENCE_PROTOCOL_KEYS)}")
        for name in protocol:
            if name not in REFERENCE_PROTOCOL_KEYS:
                raise ConfigError(f"{key}.protocol.{name}",
                                  f"unknown protocol key; {choices_hint(str(name), REFERENCE_PROTOCOL_KEYS)}")
        if ref.get("value") is not None:  # a verdict needs our number: the metric must be one we report

            value = labels[str(ref["value"])]
            keys = metric_keys(resolve(study.midpoint_config(value)))
            if ref["metric"] not in keys:
                raise ConfigError(f"{key}.metric", f"{ref['metric']!r} is not reported for {ref['value']}; "
                                                   f"{choices_hint(str(ref['metric']), keys)}")
