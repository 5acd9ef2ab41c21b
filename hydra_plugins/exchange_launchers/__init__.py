"""Hydra launchers of this project (Hydra finds launchers only in the hydra_plugins package)."""
