"""The commands end to end: sweeps and runs through Hydra, bad input, fuzzing, the examples."""
