"""Sensitivity analysis of a design's gain to the uncertain behavioural parameters (SALib):
Morris screening, then Sobol indices on the most influential, for one design's gain or for the
difference between two designs. `experiments/sensitivity.py` is its command line; the method,
outputs and how to read them are in docs/sensitivity.md.

The outcome of one parameter set is the paired gain (`jobs.job.paired_gains`: the
final-year gain of a design over the no-exchange run with the same seed and behaviour),
averaged over seeds 0..R-1, the same seeds for every parameter set (common random numbers).
Parameter sets are independent and seeded only by their replicate index, so they are evaluated
in parallel (joblib, loky processes, one BLAS thread each) and the results do not depend on the
number of workers.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample
from tqdm import tqdm

from experiments.jobs.job import one_thread, paired_gains
from experiments.study.posterior import with_behaviour
from sim import ModelConfig
from sim.config import BehaviorConfig
from sim.settings import plausible_ranges

#: Uncertain behavioural parameters (behavior.<name>) and their plausible ranges (low, high), as
#: their settings declare them (sim/config.py): ASSUMPTIONS around the defaults, not estimates.
PARAMETERS: dict[str, tuple[float, float]] = plausible_ranges(BehaviorConfig)


#: Grid levels of the Morris design.
MORRIS_LEVELS = 4


#: Confidence level of the bootstrap intervals of the indices.
CONFIDENCE = 0.95


#: Bootstrap resamples of the indices' confidence intervals.
RESAMPLES = 200


#: Outcome columns and their labels (figure titles, terminal).
OUTCOME_LABELS = {
    "gain_a": "gain of design A",
    "gain_b": "gain of design B",
    "difference": "difference A \u2212 B",
}


def evaluate_point(
    design_a: ModelConfig,
    design_b: ModelConfig | None,
    values: dict[str, float],
    replicates: int,
) -> dict[str, float]:
    """Outcomes of one parameter set, averaged over seeds 0..replicates-1 (index units).

    gain_a (and gain_b): the study's paired gain (`jobs.job.paired_gains`: final-year gain over the
    no-exchange run with the same seed and behaviour); difference = gain_a - gain_b. The
    no-exchange run does not depend on program settings, so both designs share it.
    """
    designs = [with_behaviour(d, values) for d in (design_a, design_b) if d is not None]
    with one_thread():  # the workers fill the cores
        gains = np.array([paired_gains(designs, seed) for seed in range(replicates)])
    out = {"gain_a": float(np.mean(gains[:, 0]))}
    if design_b is not None:
        out["gain_b"] = float(np.mean(gains[:, 1]))
        out["difference"] = float(np.mean(gains[:, 0] - gains[:, 1]))
    return out


def evaluate(
    samples: pd.DataFrame,
    design_a: ModelConfig,
    design_b: ModelConfig | None,
    replicates: int,
    workers: int,
    desc: str,
) -> pd.DataFrame:
    """Outcome columns for every row (parameter set) of `samples`, in row order."""
    task = delayed(evaluate_point)
    points = samples.to_dict("records")
    tasks = (task(design_a, design_b, values, replicates) for values in points)
    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator")
    rows = list(tqdm(parallel(tasks), total=len(points), desc=desc, disable=None, leave=False))
    return pd.DataFrame(rows, index=samples.index)


def salib_problem(names: list[str]) -> dict:
    """SALib problem over these parameters with their PARAMETERS ranges."""
    return {
        "num_vars": len(names),
        "names": list(names),
        "bounds": [list(PARAMETERS[n]) for n in names],
    }


def morris_samples(names: list[str], trajectories: int, seed: int) -> pd.DataFrame:
    """Morris design: trajectories x (k + 1) parameter sets (columns = parameter names)."""
    x = morris_sample.sample(
        salib_problem(names), trajectories, num_levels=MORRIS_LEVELS, seed=seed
    )
    return pd.DataFrame(x, columns=names)


def sobol_samples(names: list[str], n: int, seed: int) -> pd.DataFrame:
    """Saltelli design without second order: n x (k + 2) parameter sets."""
    x = sobol_sample.sample(salib_problem(names), n, calc_second_order=False, seed=seed)
    return pd.DataFrame(x, columns=names)


def morris_table(names: list[str], x: pd.DataFrame, y: pd.DataFrame, seed: int) -> pd.DataFrame:
    """mu, mu_star, sigma, mu_star_conf (index units per whole range) and rank, per outcome."""
    frames = []
    for outcome in y.columns:
        si = morris_analyze.analyze(
            salib_problem(names),
            x[names].to_numpy(dtype=float),
            y[outcome].to_numpy(dtype=float),
            num_resamples=RESAMPLES,
            conf_level=CONFIDENCE,
            num_levels=MORRIS_LEVELS,
            seed=np.random.default_rng(seed),
        )
        df = pd.DataFrame(
            {
                "parameter": names,
                **{k: np.asarray(si[k], dtype=float) for k in ("mu", "mu_star", "sigma")},
                "mu_star_conf": np.asarray(si["mu_star_conf"], dtype=float),
            }
        )
        df["rank"] = df.mu_star.rank(ascending=False, method="min").astype(int)
        df["outcome"] = outcome
        frames.append(df.sort_values(["rank", "parameter"]))
    return pd.concat(frames, ignore_index=True)


def sobol_table(names: list[str], y: pd.DataFrame, seed: int) -> pd.DataFrame:
    """First-order S1 and total ST indices (shares of variance) with conf, per outcome."""
    frames = []
    for outcome in y.columns:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # constant outcome: NaN indices
            si = sobol_analyze.analyze(
                salib_problem(names),
                y[outcome].to_numpy(dtype=float),
                calc_second_order=False,
                num_resamples=RESAMPLES,
                conf_level=CONFIDENCE,
                seed=np.random.default_rng(seed),  # SALib ignores seed=0
            )
        df = pd.DataFrame(
            {"parameter": names, **{k: np.asarray(si[k], dtype=float) for k in _SOBOL_KEYS}}
        )
        df["outcome"] = outcome
        frames.append(df.sort_values("ST", ascending=False, kind="stable"))
    return pd.concat(frames, ignore_index=True)


_SOBOL_KEYS = ("S1", "S1_conf", "ST", "ST_conf")


def top_parameters(morris: pd.DataFrame, k: int) -> list[str]:
    """The k parameters with the largest mu_star relative to each outcome's largest (any
    outcome counts); ties keep the order of PARAMETERS."""
    rel = morris.copy()
    top = rel.groupby("outcome").mu_star.transform("max")
    rel["score"] = np.where(top > 0, rel.mu_star / top.where(top > 0, 1.0), 0.0)
    score = rel.groupby("parameter").score.max()
    order = sorted(score.index, key=lambda n: (-score[n], list(PARAMETERS).index(n)))
    return order[:k]


def ranking_table(samples: pd.DataFrame) -> pd.DataFrame:
    """Per stage: share of parameter sets where A beats B, mean and 95% range of A - B."""
    rows = []
    for stage, df in samples.groupby("stage", sort=False):
        d = df.difference.to_numpy()
        rows.append(
            {
                "stage": stage,
                "parameter_sets": len(d),
                "share_a_beats_b": float(np.mean(d > 0)),
                "share_equal": float(np.mean(d == 0)),
                "difference_mean": float(np.mean(d)),
                "difference_p2_5": float(np.percentile(d, 2.5)),
                "difference_p97_5": float(np.percentile(d, 97.5)),
                "gain_a_mean": float(df.gain_a.mean()),
                "gain_b_mean": float(df.gain_b.mean()),
            }
        )
    return pd.DataFrame(rows)


def run_stage(
    stage: str,
    x: pd.DataFrame,
    base: ModelConfig,
    designs: tuple[ModelConfig, ModelConfig | None],
    replicates: int,
    workers: int,
) -> pd.DataFrame:
    """Evaluate one stage's parameter sets; rows: stage, point, every parameter, outcomes."""
    full = pd.DataFrame({n: float(getattr(base.behavior, n)) for n in PARAMETERS}, index=x.index)
    full[list(x.columns)] = x
    started = time.perf_counter()
    y = evaluate(full, designs[0], designs[1], replicates, workers, stage)
    minutes = (time.perf_counter() - started) / 60
    print(f"{stage}: {len(x)} parameter sets x {replicates} replicates, {minutes:.1f} min")
    full.insert(0, "point", np.arange(len(full)))
    full.insert(0, "stage", stage)
    return pd.concat([full, y], axis=1)


@dataclass(frozen=True)
class Analysis:
    """What to compute: the parameters, the method(s) and the sample sizes."""

    parameters: list[str]
    method: str  # "morris", "sobol" or "both"
    trajectories: int
    sobol_n: int
    top: int
    replicates: int
    workers: int
    seed: int


def analyse(plan: Analysis, designs, base: ModelConfig) -> dict:
    """Run the requested stages; return samples, morris, sobol, and the Sobol parameters."""
    names = list(plan.parameters)
    outcomes = ["gain_a"] + (["gain_b", "difference"] if designs[1] is not None else [])
    samples, morris, sobol, sobol_names = [], None, None, []
    if plan.method in ("morris", "both"):
        x = morris_samples(names, plan.trajectories, plan.seed)
        samples.append(run_stage("morris", x, base, designs, plan.replicates, plan.workers))
        morris = morris_table(names, samples[-1], samples[-1][outcomes], plan.seed)
    if plan.method in ("sobol", "both"):
        sobol_names = top_parameters(morris, plan.top) if morris is not None else names
        x = sobol_samples(sobol_names, plan.sobol_n, plan.seed)
        samples.append(run_stage("sobol", x, base, designs, plan.replicates, plan.workers))
        sobol = sobol_table(sobol_names, samples[-1][outcomes], plan.seed)
    return {
        "samples": pd.concat(samples, ignore_index=True),
        "morris": morris,
        "sobol": sobol,
        "sobol_parameters": sobol_names,
        "outcomes": outcomes,
    }
