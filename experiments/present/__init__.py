"""Presentation: words, figures with their captions, the HTML report, the terminal's
lines and `--help`, and the aggregate folder they are written to.
"""
