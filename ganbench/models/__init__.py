"""Model families. Importing this package registers every family in ``MODELS``."""

from ganbench.models import began, dcgan, infogan, mlp  # noqa: F401  (registration)
from ganbench.models.base import MODELS, DiscriminatorOutput, GANModel
from ganbench.models.conditioning import Conditioning, build_models

__all__ = ["MODELS", "Conditioning", "DiscriminatorOutput", "GANModel", "build_models"]
