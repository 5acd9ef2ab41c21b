"""Write the golden tables of a fixed small sweep (tests/analysis/test_regression.py compares
with them).

    .venv/bin/python tests/golden/make_golden.py

Run it only when a change is *meant* to change results, and say so in the commit message: the
regression test exists to show that refactoring changes no number, bit for bit.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

import pandas as pd

import sim
from experiments.jobs.job import run_job
from experiments.study.levers import design_label

HERE = Path(__file__).resolve().parent
#: Designs (program settings) x mechanisms, 2 seeds, 1% scale, 24 months.
DESIGNS = (
    {"cohort_size": 400, "months_between_cohorts": 6},
    {"cohort_size": 1200, "months_between_cohorts": 12},
    {"cohort_size": 800, "months_between_cohorts": 6, "selection": "managers"},
    {"cohort_size": 300, "selection": "spread", "experts_per_visit": 2},
)
MECHANISMS = ("gap", "contagion")
TABLES = ("timeseries", "baseline", "summary", "effects", "departments")


def sweep_tables() -> dict[str, pd.DataFrame]:
    """The tables of the fixed sweep, every job concatenated."""
    out: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    with tempfile.TemporaryDirectory() as cache:
        for mechanism in MECHANISMS:
            for design in DESIGNS:
                cfg = sim.ModelConfig(
                    scenario=sim.ScenarioConfig(scale=0.01),
                    program=sim.ProgramConfig(min_tenure=0, **design),
                    behavior=sim.BehaviorConfig(mechanism=mechanism),
                    horizon=24,
                )
                label = design_label({f"program.{k}": str(v) for k, v in design.items()})
                tables = run_job(
                    dataclasses.replace(cfg),
                    replicates=2,
                    seed=3,
                    target_gain=0.001,
                    label=f"{label}, mechanism={mechanism}",
                    progress=False,
                    cache_dir=Path(cache),
                )
                for name in TABLES:
                    out[name].append(tables[name])
    return {name: pd.concat(frames, ignore_index=True) for name, frames in out.items()}


def main() -> int:
    for name, df in sweep_tables().items():
        df.to_parquet(HERE / f"{name}.parquet", index=False)
    print(f"golden tables written to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
