"""Tests of `experiments.screening` and `experiments/sensitivity.py`."""
