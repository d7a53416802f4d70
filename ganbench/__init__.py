"""ganbench: GAN hyperparameter search and benchmarking on Ray Tune, Optuna, MLflow and torch-fidelity."""

__version__ = "0.1.0"
