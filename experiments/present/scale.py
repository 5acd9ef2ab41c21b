"""How much gains shrink below full scale, as measured by `experiments/scale_gains.py`
(packaged in sim/data/scale_gains.csv), in the words a run and its report use.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from sim.errors import ConfigError
from sim.inputs.files import read_csv_records
from sim.organisation import packaged_file

#: The packaged measurement.
PATH = packaged_file("scale_gains.csv")


def said(cohort_size: int, months_between: int) -> str:
    """A measured design as a planner says it: '30 staff every 12 months'."""
    return f"{cohort_size} staff every {months_between} months"


#: Columns of the packaged file, in order.
COLUMNS = (
    "cohort_size",
    "months_between_cohorts",
    "scale",
    "seeds",
    "gain_points",
    "gain_points_sd",
    "ratio",
    "ratio_low",
    "ratio_high",
    "measured",
    "command",
)


def load(path: Path = PATH) -> pd.DataFrame:
    """The packaged measurement, checked; a problem is one ConfigError line naming file and line."""
    path = Path(path)
    rows = []
    for number, row in read_csv_records(path, "scale measurement", COLUMNS):
        try:
            for key in ("cohort_size", "months_between_cohorts", "seeds"):
                row[key] = int(row[key])
            for key in ("scale", "gain_points", "gain_points_sd", "ratio", "ratio_low",
                        "ratio_high"):  # fmt: skip
                row[key] = float(row[key])
        except ValueError as err:
            raise ConfigError(f"{path}:{number}: not a number: {err}") from None
        if not all(math.isfinite(row[k]) for k in COLUMNS[2:9]):
            raise ConfigError(f"{path}:{number}: numbers must be finite")
        if not 0 < row["scale"] <= 1 or row["seeds"] < 2:
            raise ConfigError(f"{path}:{number}: scale must be in (0, 1] and seeds at least 2")
        if not row["ratio_low"] <= row["ratio"] <= row["ratio_high"]:
            raise ConfigError(f"{path}:{number}: ratio must lie within ratio_low..ratio_high")
        rows.append(row)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    if not (table.scale == 1.0).any() or not (table.scale < 1).any():
        raise ConfigError(f"{path}: needs rows at scale 1.0 (the reference) and below it")
    return table


def nearest_scale(scale: float, measured) -> float:
    """The measured scale closest to `scale` on a log scale."""
    below = [s for s in measured if s < 1]
    return min(below, key=lambda s: abs(math.log(s) - math.log(scale)))


def caveat(scale: float, path: Path = PATH) -> str | None:
    """One line saying how much gains at `scale` differed from those at full scale (measured,
    `PATH`), or None at full scale."""
    if scale >= 1:
        return None
    table = load(path)
    near = nearest_scale(scale, set(table.scale))
    at = table[table.scale == near].sort_values(["cohort_size", "months_between_cohorts"])
    parts = [
        f"{r.ratio:.2g}x ({r.ratio_low:.2g}–{r.ratio_high:.2g}) for "
        f"{said(r.cohort_size, r.months_between_cohorts)}"
        for r in at.itertuples()
    ]
    where = (
        f"scale {scale:g}" if near == scale else f"scale {near:g} (nearest measured to {scale:g})"
    )
    return (
        f"Reduced scale: at {where} gains were {', '.join(parts)} those at full scale "
        f"(mean over {at.seeds.min()} seeds, 95% interval; sim/data/scale_gains.csv); "
        "quote only full-scale numbers (scenario=jakarta)."
    )
