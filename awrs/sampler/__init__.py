"""How one token is proposed: the AWRS step, greedy decoding and the token-masking baseline."""

from awrs.sampler.step import Estimator, Step, awrs_step, greedy_step, kept_distribution, mask_step

__all__ = ["Estimator", "Step", "awrs_step", "greedy_step", "kept_distribution", "mask_step"]
