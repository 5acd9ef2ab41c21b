"""Tests of `experiments.jobs`: planning, resuming, the results store, storage faults, stops and the
cluster.
"""
