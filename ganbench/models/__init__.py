"""Model families. Importing this package registers every family in ``MODELS``."""

from ganbench.models import dcgan, infogan, mlp  # noqa: F401  (registration)
from ganbench.models.base import MODELS, DiscriminatorOutput, GANModel

__all__ = ["MODELS", "DiscriminatorOutput", "GANModel"]
