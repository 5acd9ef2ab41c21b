"""One job: the replicates of a design, each beside the no-exchange run with the same seed,
and the tables they make (timeseries, baseline, summary, effects, departments).

Replicate r uses seed `seed + r` in every job, so differences between designs are paired
(common random numbers). People are real Jakarta staff and money is IDR million at every
scale.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numba
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from experiments.jobs import identity
from experiments.jobs.cache import baseline_run, city_for
from experiments.study.levers import lever_values
from experiments.study.outcomes import OUTCOMES, POINTS, effects, replicate_summary
from experiments.study.posterior import Posterior, with_behaviour
from sim import (
    ModelConfig,
    RunResult,
)
from sim.inputs.loading import check
from sim.pairing import no_exchange, paired_run


@contextlib.contextmanager
def one_thread():
    """Run a job on one thread (BLAS and numba's parallel kernels): the worker processes of a
    sweep fill the cores, and more threads than cores would only make them wait for each other."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        numba.set_num_threads(threads)


@dataclass(frozen=True)
class Replicate:
    """One seed of a design beside the no-exchange run with the same seed."""

    months: pd.DataFrame  # the design's city table with baseline_index and gain
    baseline: pd.DataFrame  # the no-exchange city table
    departments: pd.DataFrame  # the design's department table with baseline_quality
    department_ties: pd.DataFrame  # department, other_department, ties


def replicate(
    config: ModelConfig,
    seed: int,
    cache_dir: Path | None = None,
    baseline: RunResult | None = None,
    keep: int = 1,
    channels: bool = True,
) -> Replicate:
    """One replicate of a job: `sim.pairing.paired_run` with the no-exchange run cached in
    `cache_dir` when given (or given as `baseline`) and the seed's city reused (`city_for`,
    keeping `keep` cities)."""
    base = baseline if baseline is not None else baseline_run(config, seed, cache_dir, keep)
    city = city_for(config, seed, keep)
    result = paired_run(config, seed, city, channels, baseline=base)
    return Replicate(result.months, base.months, result.departments, result.department_ties)


def paired_gains(configs: list[ModelConfig], seed: int) -> list[float]:
    """Each design's gain over no exchange with this seed (mean of the final year, index units),
    all paired with one no-exchange run: the designs must differ only in their program."""
    base_config = no_exchange(configs[0])
    if any(no_exchange(c) != base_config for c in configs[1:]):
        raise ValueError("paired_gains: the designs differ in more than their program")
    base = baseline_run(configs[0], seed, None)
    return [float(OUTCOMES["gain"].of(replicate(c, seed, baseline=base, channels=False).months,
                                      0.0)) for c in configs]  # fmt: skip


def run_job(
    config: ModelConfig,
    replicates: int,
    seed: int,
    target_gain: float,
    label: str,
    extra_columns: dict | None = None,
    progress: bool = True,
    cache_dir: Path | None = None,
    posterior: Posterior | None = None,
    channels: bool = True,
) -> dict[str, pd.DataFrame]:
    """Run the replicates; returns the tables timeseries, baseline, summary, effects,
    departments and department_ties (see the README's output files). With `channels`, each
    replicate's gain is decomposed by channel (`sim.pairing`). With `posterior`,
    replicate r and its no-exchange run take their behaviour from draw r (every design of a
    sweep the same draw: common random numbers extended to parameters), and the summary records
    the draw and its parameters."""
    tagged_by = None if posterior is None else posterior.digest
    did = identity.design_id(config, tagged_by)
    base_id = identity.design_id(no_exchange(config), tagged_by)
    tag = {"design": label, "design_id": did, **lever_values(config), **(extra_columns or {})}
    series, baselines, summaries, effect_rows, departments = [], [], [], [], []
    ties = None
    keep = check(config).cities_kept(replicates)  # cities reused across designs, bounded
    for r in tqdm(range(replicates), desc=label, disable=not progress, leave=False):
        s = seed + r
        drawn, rep_config = {}, config
        if posterior is not None:
            behaviour = posterior.behaviour(r)
            rep_config = with_behaviour(config, behaviour)
            drawn = {"draw": r, **{f"behavior.{k}": v for k, v in behaviour.items()}}
        pair = replicate(rep_config, s, cache_dir, keep=keep, channels=channels)
        rep = {"replicate": r, "seed": s}
        series.append(pair.months.assign(**rep))
        baselines.append(pair.baseline.assign(baseline_id=base_id, **rep))
        departments.append(pair.departments.assign(**rep))
        effect_rows.append(effects(pair.months, pair.baseline).assign(**rep))
        summaries.append({**rep, **drawn, **replicate_summary(pair.months, target_gain)})
        logging.getLogger("exchange").info(
            "%s: replicate %d of %d (seed %d%s): gain %+.3f index points",
            label, r + 1, replicates, s, f", posterior draw {r}" if drawn else "",
            POINTS * summaries[-1]["gain"],
        )  # fmt: skip
        if ties is None:
            ties = pair.department_ties

    def tagged(frames: list[pd.DataFrame] | pd.DataFrame) -> pd.DataFrame:
        df = pd.concat(frames, ignore_index=True) if isinstance(frames, list) else frames
        first = ["replicate", "seed"]
        df = df[[*first, *(c for c in df.columns if c not in first)]]
        return pd.concat([pd.DataFrame(tag, index=df.index), df], axis=1)

    return {
        "timeseries": tagged(series),
        "baseline": tagged(baselines),
        "summary": tagged(pd.DataFrame(summaries)),
        "effects": tagged(effect_rows),
        "departments": tagged(departments),
        "department_ties": ties,
    }
