"""Tests of `experiments.calibration`: targets, priors, the reproducible sampler, the results."""
