from gath.models.au_estimator import AUEstimator
from gath.models.discriminator import DiscriminatorClassifier
from gath.models.generator import Generator, WarpRefiner

__all__ = ["AUEstimator", "DiscriminatorClassifier", "Generator", "WarpRefiner"]
