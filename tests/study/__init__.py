"""Tests of `experiments.study`: levers, their ranges and labels."""
