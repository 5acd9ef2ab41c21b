"""Tests of `experiments.analysis`: the golden tables (regression, bit for bit)."""
