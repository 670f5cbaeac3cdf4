"""Sample-quality metrics that work offline.

  frechet     frechet_distance(mu1, cov1, mu2, cov2), feature_statistics, RunningStatistics
  classifier  FeatureExtractor protocol; get_classifier(dataset, image_size, channels, seed) -> a CNN trained on
              the data set's training split (cached); image_metrics (classifier Fréchet distance, confidence,
              label entropy, label accuracy)
  toy2d       mode_metrics (modes covered, high-quality fraction, reverse KL), energy_distance, mmd_rbf
  likelihood  iwae_bound (K=1: the ELBO), elbo, Gaussian/Bernoulli log-likelihoods
  density     (EBM engineer) density metrics for energy models

Inception FID is not available offline (no pretrained weights); an Inception network wrapped as a
`classifier.FeatureExtractor` plugs into `classifier.image_metrics` unchanged.
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
