"""Sample-quality metrics (docs/design.md §11): frechet (Fréchet distance, KID), classifier (jaxgen's own CNN
and its image metrics), inception (the FID Inception-v3), toy2d (mode and two-sample metrics), likelihood (IWAE
bound, ELBO), density (normalised densities of 2-D energy models).
"""
from jaxgen.metrics.frechet import (RunningStatistics, feature_statistics, frechet_distance,
                                    frechet_distance_from_features, trace_sqrt_product)
from jaxgen.metrics.likelihood import (bernoulli_log_likelihood, elbo, gaussian_kl, gaussian_log_likelihood,
                                       iwae_bound)
from jaxgen.metrics.toy2d import energy_distance, mmd_rbf, mode_metrics, toy_metrics

__all__ = [
    "RunningStatistics", "feature_statistics", "frechet_distance", "frechet_distance_from_features",
    "trace_sqrt_product", "bernoulli_log_likelihood", "elbo", "gaussian_kl", "gaussian_log_likelihood",
    "iwae_bound", "energy_distance", "mmd_rbf", "mode_metrics", "toy_metrics",
]
