"""How steps combine: sequential Monte Carlo over batched, KV-cached particles."""

from awrs.smc.engine import RunRecord, SMCConfig, Trajectory, run_particles
from awrs.smc.resampling import effective_sample_size, resample

__all__ = ["RunRecord", "SMCConfig", "Trajectory", "effective_sample_size", "resample", "run_particles"]
