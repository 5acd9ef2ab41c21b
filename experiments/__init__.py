"""Experiment scripts: Hydra runs, aggregation, figures and reports (outside the model)."""
