"""Training one GAN: the loop (``train(config, report, resume)``), its checkpoints as plain data,
rebuilding a generator from them to sample, and sample figures. No Ray and no MLflow in here."""

from ganbench.training.loop import metric_keys, resolve_device, train
from ganbench.training.sampling import dataset_of, draw, load_generator

__all__ = ["dataset_of", "draw", "load_generator", "metric_keys", "resolve_device", "train"]
