"""One sweep job: a program design run for R replicates, each paired with a no-exchange run.

Replicate r uses seed `seed + r` in every job, so differences between designs are paired
(common random numbers); `gain` is the service index minus that of the no-exchange run with the
same seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim import ModelConfig, run, run_detailed

#: Months averaged for a job's headline gain (the final year; the whole run if shorter).
FINAL_YEAR = 12

#: Program settings always written as columns, so any sweep over them can be tabulated.
LEVER_COLUMNS = (
    "cohort_size",
    "frequency",
    "duration",
    "selection",
    "start",
    "experts_per_visit",
    "months_between_expert_visits",
    "target_departments",
)


def no_exchange(config: ModelConfig) -> ModelConfig:
    """The same configuration without cohorts or expert visits."""
    program = dataclasses.replace(config.program, cohort_size=0, experts_per_visit=0)
    return dataclasses.replace(config, program=program)


def baseline_index(
    config: ModelConfig, seed: int, cache_dir: Path | None, code_version: str
) -> np.ndarray:
    """Monthly service index of the no-exchange run with this seed.

    Every job of a sweep needs the same baselines, so they are cached in the sweep folder under
    a key made of the full no-exchange configuration, the seed and the code version.
    """
    base = no_exchange(config)
    if cache_dir is None:
        return run(base, seed).service_index.to_numpy()
    blob = json.dumps(
        {"config": dataclasses.asdict(base), "seed": seed, "code": code_version}, sort_keys=True
    )
    path = Path(cache_dir) / f"{hashlib.sha256(blob.encode()).hexdigest()[:24]}.npy"
    if path.exists():
        return np.load(path)
    index = run(base, seed).service_index.to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, index)
    os.replace(tmp, path)
    return index


def lever_values(config: ModelConfig) -> dict:
    p = config.program
    out = {}
    for key in LEVER_COLUMNS:
        v = getattr(p, key)
        out[key] = ";".join(v) if isinstance(v, list) else v
    return out


def months_to_target(gain: np.ndarray, target: float) -> float:
    """First month with gain >= target (NaN if never)."""
    hit = np.flatnonzero(gain >= target)
    return float(hit[0]) if hit.size else float("nan")


def run_job(
    config: ModelConfig,
    replicates: int,
    seed: int,
    target_gain: float,
    label: str,
    extra_columns: dict | None = None,
    progress: bool = True,
    cache_dir: Path | None = None,
    code_version: str = "",
) -> dict[str, pd.DataFrame]:
    """Run the replicates; returns tables timeseries, summary, departments, department_ties."""
    tag = {"scenario": label, **lever_values(config), **(extra_columns or {})}
    series, summaries, departments = [], [], []
    ties = None
    for r in tqdm(range(replicates), desc=label, disable=not progress, leave=False):
        s = seed + r
        result = run_detailed(config, s)
        df = result.months
        df.insert(0, "seed", s)
        df.insert(0, "replicate", r)
        df["baseline_index"] = baseline_index(config, s, cache_dir, code_version)
        df["gain"] = df.service_index - df.baseline_index
        series.append(df)
        dep = result.departments
        dep.insert(0, "replicate", r)
        departments.append(dep)
        if ties is None:
            ids = list(dep.department.unique())
            ties = pd.DataFrame(result.department_ties, index=ids, columns=ids)
        last = df.iloc[-1]
        gain = float(df.gain.iloc[-FINAL_YEAR:].mean())
        summaries.append(
            {
                "replicate": r,
                "seed": s,
                "final_index": float(last.service_index),
                "baseline_final_index": float(last.baseline_index),
                "gain": gain,
                "final_month_gain": float(last.gain),
                "mean_gain": float(df.gain.mean()),
                "months_to_target": months_to_target(df.gain.to_numpy(), target_gain),
                "staff_months_abroad": int(last.staff_months_abroad),
                "expert_visits": int(last.expert_visits),
                "cost": float(last.cost),
                "cost_per_point": float(last.cost) / (100 * gain) if gain > 0 else float("nan"),
            }
        )

    def tagged(df: pd.DataFrame) -> pd.DataFrame:
        for i, (k, v) in enumerate(tag.items()):
            df.insert(i, k, v)
        return df

    return {
        "timeseries": tagged(pd.concat(series, ignore_index=True)),
        "summary": tagged(pd.DataFrame(summaries)),
        "departments": tagged(pd.concat(departments, ignore_index=True)),
        "department_ties": ties,
    }
