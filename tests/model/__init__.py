"""Tests of the model library `sim`: mechanisms on hand-checkable cases, classic limits, invariants,
engines, Mesa's API, settings and input files.
"""
