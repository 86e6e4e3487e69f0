"""How one token is proposed: the AWRS step, greedy decoding and the token-masking baseline."""

from awrs.sampler.base import Estimator, Step
from awrs.sampler.kept import kept_distribution
from awrs.sampler.step import awrs_step, greedy_step, mask_step

__all__ = ["Estimator", "Step", "awrs_step", "greedy_step", "kept_distribution", "mask_step"]
