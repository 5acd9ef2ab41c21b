"""Tests of `experiments.explorer`: its runs and plots, and the page in a browser."""
