"""What users run, over the model library `sim`: the commands are the modules of this folder
(run.py, aggregate.py, rerun.py, calibrate.py, calibration_coverage.py, sensitivity.py,
scale_gains.py, explore.py, fetch_assets.py); the packages below are the pipeline's stages, each
importing only those before it:

study (settings, levers, outcomes, posterior) -> jobs (plan, job, cache, identity, store) ->
analysis (tables, statistics) -> present (labels, figures, report, terminal, publish), and
beside them screening, calibration and explorer.
"""

from pathlib import Path

#: The project folder: Hydra's configs, the default location of relative data paths, the source.
PROJECT = Path(__file__).resolve().parents[1]
#: Hydra's config folder (configs/config.yaml and its groups).
CONFIGS = PROJECT / "configs"
