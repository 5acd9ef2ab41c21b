"""How much a reduced scale distorts gains, measured and packaged (`present.scale` reads it).

    .venv/bin/python experiments/scale_gains.py            # regenerates sim/data/scale_gains.csv
    .venv/bin/python experiments/scale_gains.py --seeds 10 --out /tmp/scale_gains.csv

For each design of `DESIGNS` and each scale of `SCALES` (1.0 = the full-scale reference), the
paired gain over no exchange (mean of the final year, default behaviour, 120 months, seeds
0..seeds-1, channels not split) is measured, and its ratio to the same design's full-scale gain
with a 95% percentile bootstrap interval (seeds resampled at each scale independently: cities of
different scales share no structure, so they are not paired). The file records the command that
made it. Runs and sweeps below full scale read it (`present.scale.caveat`) and say, in the
terminal and the report, how much gains differed there from those at full scale. About 10 minutes
on 2 cores with 30 seeds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from experiments.jobs.outputs import atomic_write_text
from experiments.present.scale import COLUMNS, PATH
from experiments.present.usage import CommandParser
from sim.config import ModelConfig, with_settings
from sim.model import build_city
from sim.pairing import final_year, no_exchange
from sim.runner import run_detailed

#: Designs measured: (cohort size in real staff, months between cohorts).
DESIGNS = ((30, 12), (100, 12), (300, 6))


#: Scales measured; the last is the full-scale reference.
SCALES = (0.05, 0.2, 0.5, 1.0)


def _seed_gains(scale: float, seed: int, designs, horizon: int) -> list[dict]:
    """The final-year gain (index points) of each design at `scale` with `seed` (one city)."""
    base = with_settings(ModelConfig(), {"scale": scale, "horizon": horizon})
    city = build_city(base, seed)
    reference = run_detailed(no_exchange(base), seed, city).months.service_index
    rows = []
    for size, between in designs:
        config = with_settings(base, {"cohort_size": size, "months_between_cohorts": between})
        index = run_detailed(config, seed, city).months.service_index
        gain = 100 * final_year(index - reference)
        rows.append({"cohort_size": size, "months_between_cohorts": between, "scale": scale,
                     "seed": seed, "gain_points": gain})  # fmt: skip
    return rows


def ratios(gains: pd.DataFrame, command: str, draws: int = 4000, rng_seed: int = 0) -> pd.DataFrame:
    """One row per design and scale: mean gain, its sd over seeds, and the ratio to the
    full-scale mean gain with a 95% bootstrap interval (`COLUMNS`)."""
    rng = np.random.default_rng(rng_seed)
    out = []
    for (size, between), by_design in gains.groupby(["cohort_size", "months_between_cohorts"]):
        full = by_design[by_design.scale == 1.0].gain_points.to_numpy()
        full_boot = rng.choice(full, (draws, full.size)).mean(axis=1)
        for scale, rows in by_design.groupby("scale"):
            g = rows.gain_points.to_numpy()
            boot = rng.choice(g, (draws, g.size)).mean(axis=1) / full_boot
            out.append(
                {
                    "cohort_size": int(size),
                    "months_between_cohorts": int(between),
                    "scale": float(scale),
                    "seeds": int(g.size),
                    "gain_points": round(float(g.mean()), 4),
                    "gain_points_sd": round(float(g.std(ddof=1)), 4),
                    "ratio": round(float(g.mean() / full.mean()), 3),
                    "ratio_low": round(float(np.quantile(boot, 0.025)), 3),
                    "ratio_high": round(float(np.quantile(boot, 0.975)), 3),
                    "measured": dt.date.today().isoformat(),
                    "command": command,
                }
            )
    return pd.DataFrame(out, columns=list(COLUMNS))


def measure(seeds: int, horizon: int, workers: int) -> pd.DataFrame:
    """Every (scale, seed) city, in parallel: one row per design, scale and seed."""
    jobs = [(s, seed) for s in sorted(SCALES, reverse=True) for seed in range(seeds)]
    done = Parallel(n_jobs=workers)(
        delayed(_seed_gains)(s, seed, DESIGNS, horizon) for s, seed in jobs
    )
    return pd.DataFrame([row for rows in done for row in rows])


def main(argv: list[str] | None = None) -> None:
    p = CommandParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=30, help="seeds per design and scale")
    p.add_argument("--horizon", type=int, default=120)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=PATH)
    args = p.parse_args(argv)
    command = "experiments/scale_gains.py" + "".join(
        f" --{k} {v}" for k, v in (("seeds", args.seeds), ("horizon", args.horizon))
    )
    gains = measure(args.seeds, args.horizon, args.workers)
    table = ratios(gains, command)
    atomic_write_text(args.out, table.to_csv(index=False))
    print(table.drop(columns=["command"]).to_string(index=False))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
