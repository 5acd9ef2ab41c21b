"""Calibration: behavioural parameters tied to observed patterns by ABC-SMC (pyabc).

- `targets`: the observed patterns, their sources and error model, and the priors.
- `sampling`: the calibration scenario simulated and sampled, reproducibly on any number of
  workers, on this machine or a SLURM cluster.
- `results`: the posterior summarised, drawn, checked against the targets and reported.
"""
