"""Drive the model from EMA Workbench: behavioural parameters as uncertainties (over the plausible
ranges their settings declare), program designs as levers (their types and ranges as LEVERS in
experiments/study/levers.py declares them), paired seeds as replications, the paired gain and
the city service index month by month as outcomes, then feature scoring.

    .venv/bin/python examples/ema_workbench_example.py                  # 4 scenarios x 2 policies
    .venv/bin/python examples/ema_workbench_example.py --scenarios 32 --policies 8 --seeds 5 \\
        --workers 2
    .venv/bin/python examples/ema_workbench_example.py --quick          # 1% scale, 2 years

Full scale (all 60,000 staff, 120 months) by default, as planners should quote it. Each
replication runs a design and the same city without the exchange on one seed (two runs); the
default 8 experiments x 2 replications are 32 full-scale runs, 2 min 10 s of computing (5 min 35 s
on a busy 2-core machine on 2026-12-06). `--quick` (1% of the staff, 24
months) tries the workflow in seconds, but gains at reduced scales are distorted (the program
prints the measured ratio; sim/data/scale_gains.csv): do not quote its numbers.

EMA Workbench's idioms throughout: a `ReplicatorModel` whose replications are the paired seeds
(every experiment uses the same seeds, so differences between experiments are not blurred by
chance: common random numbers), scalar outcomes that average the replications and
`TimeSeriesOutcome`s of the monthly service index and gain, an evaluator
(`SequentialEvaluator`, or `MultiprocessingEvaluator` with `--workers`), `save_results` (a
.tar.gz that `ema_workbench.load_results` reads back) and extra-trees feature scoring of what
drives each outcome. The sampled points are Latin hypercubes drawn from numpy's global generator,
seeded by `--sample-seed`. Needs the `analysis` extra (ema-workbench), which `make install`
installs.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.present.scale import caveat
from experiments.study.levers import LEVERS, Lever
from sim import ModelConfig, UserError, validate_config
from sim.config import BehaviorConfig, with_settings
from sim.pairing import final_year, paired_run
from sim.settings import plausible_ranges

with warnings.catch_warnings():  # "ipyparallel not installed": not needed here
    warnings.simplefilter("ignore", UserWarning)
    import ema_workbench as ew
    from ema_workbench.analysis import feature_scoring

#: Behavioural parameters treated as deep uncertainties (the four the gain is most sensitive to).
UNCERTAIN = ("transfer_rate", "forgetting_rate", "abroad_learning_rate", "tacitness_scale")
#: The levers a policy sets; their kinds and ranges are the levers' own
#: (experiments/study/levers.py).
POLICY_LEVERS = ("cohort_size", "months_between_cohorts", "duration")
#: Scalar outcomes (mean over the replications) and what they are.
SCALARS = {
    "gain_points": "final-year paired gain (index points)",
    "staff_sent": "Jakarta staff sent (real people)",
    "cost_billion": "cost (IDR billion)",
}
#: Time-series outcomes (mean over the replications, one value a month).
SERIES = {
    "service_index": "city service index (0-1)",
    "gain_by_month": "paired gain (index points)",
}
#: The scale and horizon planners quote (all 60,000 staff, the model's default horizon), and
#: `--quick`'s: the workflow in seconds (1% of the staff, two years).
FULL = {"scale": 1.0, "horizon": ModelConfig().horizon}
QUICK = {"scale": 0.01, "horizon": 24}


def exchange(seed: int, scale: float, horizon: int, **settings) -> dict:
    """One replication: the design (`settings` by name: levers and uncertainties) beside the
    same city without the exchange on `seed`; the final-year gain in index points, real staff
    sent, cost in IDR billion, and per month the service index (0-1) and the gain (points)."""
    config = with_settings(ModelConfig(), {"scale": scale, "horizon": horizon, **settings})
    months = paired_run(config, seed, channels=False).months
    return {
        "TIME": months.month.to_numpy(),
        "gain_points": 100 * final_year(months.gain),
        "staff_sent": float(months.departures.iloc[-1]),
        "cost_billion": float(months.cost.iloc[-1]) / 1000,
        "service_index": months.service_index.to_numpy(),
        "gain_by_month": 100 * months.gain.to_numpy(),
    }


def mean_over_replications(values: list) -> float | np.ndarray:
    """The mean of an outcome over the replications (a number or one value a month)."""
    return np.mean(np.asarray(values, dtype=float), axis=0)


def lever_parameter(name: str, lever: Lever) -> ew.Parameter:
    """EMA Workbench's parameter for a lever: its declared kind and range (an integer lever's
    step is the explorer's and Optuna's grid; EMA samples every whole number in the range)."""
    if lever.kind == "categorical":
        return ew.CategoricalParameter(name, list(lever.choices))
    if lever.kind == "integer":
        return ew.IntegerParameter(name, int(lever.low), int(lever.high))
    return ew.RealParameter(name, lever.low, lever.high)


def build_model(scale: float, horizon: int, seeds: tuple[int, ...]) -> ew.ReplicatorModel:
    """An EMA Workbench model of the exchange: uncertainties, levers, constants, replications
    (one per paired seed) and outcomes."""
    ranges = plausible_ranges(BehaviorConfig)
    model = ew.ReplicatorModel("exchange", function=exchange)
    model.uncertainties = [ew.RealParameter(name, *ranges[name]) for name in UNCERTAIN]
    model.levers = [lever_parameter(name, LEVERS[name]) for name in POLICY_LEVERS]
    model.constants = [ew.Constant("scale", scale), ew.Constant("horizon", horizon)]
    model.replications = [{"seed": seed} for seed in seeds]
    direction = {"gain_points": ew.ScalarOutcome.MAXIMIZE,
                 "cost_billion": ew.ScalarOutcome.MINIMIZE}  # fmt: skip
    scalars = [ew.ScalarOutcome(name, kind=direction.get(name, ew.ScalarOutcome.INFO),
                                function=mean_over_replications) for name in SCALARS]  # fmt: skip
    series = [ew.TimeSeriesOutcome(name, function=mean_over_replications)
              for name in ("TIME", *SERIES)]  # fmt: skip
    model.outcomes = [*scalars, *series]
    return model


def explore(
    scenarios: int,
    policies: int,
    scale: float,
    horizon: int,
    seeds: tuple[int, ...],
    workers: int = 1,
    sample_seed: int = 0,
) -> tuple[pd.DataFrame, dict]:
    """Every policy under every scenario (Latin hypercube samples): EMA Workbench's results,
    (experiments, outcomes), one row per experiment."""
    model = build_model(scale, horizon, seeds)
    # EMA's Latin hypercube sampler draws from numpy's global generator, so seed that one
    np.random.seed(sample_seed)  # noqa: NPY002
    with warnings.catch_warnings():  # numba's threading layer is fine under multiprocessing
        warnings.simplefilter("ignore", UserWarning)
        evaluator = (
            ew.MultiprocessingEvaluator(model, n_processes=workers)
            if workers > 1
            else ew.SequentialEvaluator(model)
        )
        with evaluator:
            return evaluator.perform_experiments(scenarios=scenarios, policies=policies)


def feature_scores(results: tuple[pd.DataFrame, dict], random_state: int = 0) -> pd.DataFrame:
    """Extra-trees feature scores: one row per uncertainty and lever, one column per scalar
    outcome; each column sums to 1 (the share of the outcome's explained variation)."""
    experiments, outcomes = results
    x = experiments.drop(columns=["scenario", "policy", "model"])
    y = {name: outcomes[name] for name in SCALARS}
    scores = feature_scoring.get_feature_scores_all(x, y, random_state=random_state)
    return scores.rename_axis("input")


def check_corners(scale: float, horizon: int) -> None:
    """Raise UserError (one line naming the setting) unless the designs at the levers' lows and
    at their highs are valid at this scale and horizon: EMA Workbench would otherwise report a
    bad setting as a traceback in the middle of the experiments."""
    for end in ("low", "high"):
        levers = {
            k: getattr(LEVERS[k], end) for k in POLICY_LEVERS if LEVERS[k].kind != "categorical"
        }
        run = {"scale": scale, "horizon": horizon, **levers}
        validate_config(with_settings(ModelConfig(), run))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", type=int, default=4, help="behaviour samples (uncertainties)")
    p.add_argument("--policies", type=int, default=2, help="design samples (levers)")
    p.add_argument("--seeds", type=int, default=2, help="replications: paired seeds 0, 1, ...")
    p.add_argument("--scale", type=float, help="1 = full scale (default); 0.05 = laptop")
    p.add_argument("--horizon", type=int, help=f"months simulated (default {FULL['horizon']})")
    p.add_argument("--quick", action="store_true",
                   help="1%% scale, 24 months (unless --scale, --horizon)")  # fmt: skip
    p.add_argument("--workers", type=int, default=1, help="processes (MultiprocessingEvaluator)")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the Latin hypercubes")
    p.add_argument("--out", type=Path, default=Path("results/ema/exchange.tar.gz"),
                   help="EMA Workbench's save_results archive")  # fmt: skip
    args = p.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("scenarios", "policies", "seeds", "workers"):
        if getattr(args, name) < 1:
            p.error(f"--{name} = {getattr(args, name)}: must be at least 1")
    try:
        check_corners(args.scale, args.horizon)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    note = caveat(args.scale)
    if note:
        print(note)
    results = explore(args.scenarios, args.policies, args.scale, args.horizon,
                      tuple(range(args.seeds)), args.workers, args.sample_seed)  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # EMA's note on its CSV writer of time series
        warnings.filterwarnings("ignore", "still to be tested", UserWarning)
        ew.save_results(results, str(args.out))
    experiments, outcomes = results
    print(f"{len(experiments)} experiments x {args.seeds} paired seeds; results: {args.out}")
    print("gain in index points (mean over seeds) by experiment:")
    shown = experiments[[*UNCERTAIN, *POLICY_LEVERS]].assign(gain_points=outcomes["gain_points"])
    print(shown.round(4).to_string(index=False))
    print("feature scores (extra trees; share of each outcome's variation, columns sum to 1):")
    print(feature_scores(results).round(3).to_string())
    print(f"(from {len(experiments)} experiments: the levers took {args.policies} designs and "
          f"the uncertainties {args.scenarios} values, so scores of inputs varied together "
          "cannot be told apart; hundreds of experiments give stable ones)")  # fmt: skip


if __name__ == "__main__":
    main()
