"""Drive the model from EMA Workbench: behavioural parameters as uncertainties (over the plausible
ranges their settings declare), program designs as levers, the paired gain as the outcome.

    .venv/bin/python examples/ema_workbench_example.py                 # 4 scenarios x 2 policies
    .venv/bin/python examples/ema_workbench_example.py --scenarios 32 --policies 8 --seeds 5

Full scale (all 60,000 staff, 120 months) by default, as planners should quote it: the default
8 experiments x 2 seeds (four runs each: the design, its no-exchange run and the two runs that
split the gain by channel) take about 4 minutes on one core (3 min 38 s measured on
2026-12-06 on a busy 2-core machine). `--scale 0.05` is much faster for trying the workflow,
but gains at reduced scales are distorted (the program prints the measured ratio;
sim/data/scale_gains.csv).

Each experiment is `sim.gain`: the design beside the same city without the exchange, on the same
seeds, the computation a sweep's summary table uses; every experiment uses the same seeds, so
differences between experiments are not blurred by chance (common random numbers). Needs the
`analysis` extra (ema-workbench), which `make install` installs.
"""

from __future__ import annotations

import argparse
import warnings

import pandas as pd

import sim
from experiments.scale_gains import caveat
from sim.config import BehaviorConfig
from sim.settings import plausible_ranges

with warnings.catch_warnings():  # "ipyparallel not installed": not needed here
    warnings.simplefilter("ignore", UserWarning)
    import ema_workbench as ew

#: Behavioural parameters treated as deep uncertainties (the four the gain is most sensitive to).
UNCERTAIN = ("transfer_rate", "forgetting_rate", "abroad_learning_rate", "tacitness_scale")


def exchange(seeds=(0, 1, 2), **settings) -> dict[str, float]:
    """One experiment: the design's mean paired gain (index points), real staff sent and cost
    (IDR billion) over `seeds`; `settings` by name (levers, uncertainties, scale, horizon)."""
    table = sim.gain(seeds=seeds, **settings)
    return {
        "gain_points": 100 * float(table.gain.mean()),
        "staff_sent": float(table.staff_sent.mean()),
        "cost_billion": float(table.cost.mean()) / 1000,
    }


def build_model(scale: float, horizon: int, seeds: tuple[int, ...]) -> ew.Model:
    """An EMA Workbench model of the exchange: uncertainties, levers, constants, outcomes."""
    ranges = plausible_ranges(BehaviorConfig)
    model = ew.Model("exchange", function=exchange)
    model.uncertainties = [ew.RealParameter(name, *ranges[name]) for name in UNCERTAIN]
    model.levers = [
        ew.IntegerParameter("cohort_size", 10, 300),
        ew.CategoricalParameter("months_between_cohorts", [6, 12, 24]),
    ]
    model.constants = [
        ew.Constant("scale", scale),
        ew.Constant("horizon", horizon),
        ew.Constant("seeds", seeds),
    ]
    model.outcomes = [
        ew.ScalarOutcome("gain_points", kind=ew.ScalarOutcome.MAXIMIZE),
        ew.ScalarOutcome("staff_sent"),
        ew.ScalarOutcome("cost_billion", kind=ew.ScalarOutcome.MINIMIZE),
    ]
    return model


def explore(
    scenarios: int, policies: int, scale: float, horizon: int, seeds: tuple[int, ...]
) -> pd.DataFrame:
    """Every policy under every scenario (Latin hypercube samples): one row per experiment."""
    model = build_model(scale, horizon, seeds)
    experiments, outcomes = ew.perform_experiments(model, scenarios=scenarios, policies=policies)
    return pd.concat([experiments.reset_index(drop=True), pd.DataFrame(outcomes)], axis=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", type=int, default=4)
    p.add_argument("--policies", type=int, default=2)
    p.add_argument("--scale", type=float, default=1.0, help="1 = full scale; 0.05 = laptop")
    p.add_argument("--horizon", type=int, default=120)
    p.add_argument("--seeds", type=int, default=2, help="paired seeds per experiment")
    args = p.parse_args()
    note = caveat(args.scale)
    if note:
        print(note)
    table = explore(args.scenarios, args.policies, args.scale, args.horizon,
                    tuple(range(args.seeds)))  # fmt: skip
    by_policy = table.groupby(["cohort_size", "months_between_cohorts"]).gain_points
    print("gain in index points across scenarios (mean, min, max), by policy:")
    print(by_policy.agg(["mean", "min", "max"]).round(3).to_string())


if __name__ == "__main__":
    main()
