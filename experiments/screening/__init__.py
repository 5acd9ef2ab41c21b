"""Screening: which behavioural parameters move a design's gain (Morris elementary
effects, then Sobol indices of the top ones, SALib), for `experiments/sensitivity.py`.
"""
