"""Tests of `experiments.present`: figures, the report's words and units, --help, the report in a
browser.
"""
