"""One sweep job: a program design run for R replicates, each paired with a no-exchange run.

This module is what a job *is*: the translation of a run configuration into a model
configuration (data paths and the budget rule included), the checks of the run-level settings,
the levers and their words, and the tables a job computes. Its contents are part of every job's
key (`experiments.identity`), so editing it recomputes results.

Replicate r uses seed `seed + r` in every job, so differences between designs are paired
(common random numbers); `gain` is the service index minus that of the no-exchange run with the
same seed. People are real Jakarta staff and money is IDR million at every scale.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from experiments import identity
from sim import (
    ModelConfig,
    ProgramConfig,
    RunResult,
    UserError,
    config_from_dict,
    run_detailed,
    validate_config,
)

#: Months averaged for a job's headline gain (the final year; the whole run if shorter).
FINAL_YEAR = 12


@dataclass(frozen=True)
class Lever:
    """A program setting that designs vary: words with unit (report) and a label format."""

    words: str
    label: str


#: Program settings always written as columns, so any sweep over them can be tabulated.
LEVERS = {
    "cohort_size": Lever("cohort size (Jakarta staff sent per cohort)", "{} staff per cohort"),
    "months_between_cohorts": Lever(
        "months between cohorts (12 = one cohort a year)", "a cohort every {} months"
    ),
    "duration": Lever("stay (months each cohort spends in Tokyo)", "{} months in Tokyo"),
    "selection": Lever("selection policy (who is chosen to go)", "{} selection"),
    "start": Lever("start (month of the first departure)", "first cohort in month {}"),
    "experts_per_visit": Lever("Tokyo experts per visit to Jakarta", "{} experts per visit"),
    "months_between_expert_visits": Lever(
        "months between expert visits", "an expert visit every {} months"
    ),
    "target_departments": Lever("target departments", "to {}"),
}
LEVER_COLUMNS = tuple(LEVERS)

#: Run-level settings that do not change a design (left out of its label).
NOT_DESIGN = ("experiment", "replicates", "seed", "progress", "report", "reference")


# --- from a run configuration to a model configuration ---------------------------------------

#: Where relative data-file paths of a scenario are looked up, in order (after the working
#: directory): the scenario configs' folder, then the project folder.
PROJECT = Path(__file__).resolve().parents[1]
DATA_SEARCH = (PROJECT / "configs" / "scenario", PROJECT)
DATA_FILES = ("departments_file", "practices_file", "roster_file", "ties_file")


def to_model_config(cfg: DictConfig | dict) -> ModelConfig:
    """The model configuration of a job, with the cohort size derived from the budget if set."""
    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    keys = [f.name for f in dataclasses.fields(ModelConfig)]
    model = validate_config(config_from_dict({k: data[k] for k in keys}))
    resolve_data_paths(model)
    budget = data.get("budget") or {}
    yearly = budget_staff_months(budget, model.program.cost_per_staff_month)
    if yearly is not None:
        model.program.cohort_size = cohort_for_budget(
            yearly, model.program.months_between_cohorts, model.program.duration
        )
        validate_config(model)
    return model


def resolve_data_paths(model: ModelConfig) -> None:
    """Make the scenario's relative file paths absolute: the working directory first, then
    DATA_SEARCH; a path found nowhere is left as it is (and reported when read)."""
    for key in DATA_FILES:
        value = getattr(model.scenario, key)
        if value is None or Path(value).is_absolute():
            continue
        for base in (Path.cwd(), *DATA_SEARCH):
            if (base / value).exists():
                setattr(model.scenario, key, str((base / value).resolve()))
                break


def budget_staff_months(budget: dict, cost_per_staff_month: float) -> float | None:
    """Real staff-months abroad per year a design may spend (None: no budget)."""
    months, money = budget.get("staff_months_per_year"), budget.get("money_per_year")
    share = budget.get("share", 1.0)
    if months is not None and money is not None:
        raise UserError("budget: give staff_months_per_year or money_per_year, not both")
    if money is not None:
        if money < 0 or cost_per_staff_month <= 0:
            raise UserError(
                f"budget.money_per_year = {money!r}: must be >= 0 with a positive "
                "program.cost_per_staff_month"
            )
        months = money / cost_per_staff_month
    if months is None:
        return None
    if months < 0:
        raise UserError(f"budget.staff_months_per_year = {months!r}: must be >= 0")
    if not 0 < share <= 1:
        raise UserError(f"budget.share = {share!r}: must be a number in (0, 1]")
    return months * share


def cohort_for_budget(staff_months_per_year: float, months_between: int, duration: int) -> int:
    """Cohort size (real staff) whose stays, `duration` months every `months_between` months,
    spend the budget (rounded to the nearest person; the actual spend is in the summary)."""
    return int(round(staff_months_per_year * months_between / (12 * duration)))


def check_settings(cfg: DictConfig) -> None:
    """The run-level settings (the model's own are checked by `sim.validate_config`)."""
    if not isinstance(cfg.replicates, int) or cfg.replicates < 1:
        raise UserError(f"replicates = {cfg.replicates!r}: must be an integer >= 1")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise UserError(f"seed = {cfg.seed!r}: must be a non-negative integer")
    if not isinstance(cfg.target_gain, int | float) or not 0 <= cfg.target_gain <= 1:
        raise UserError(f"target_gain = {cfg.target_gain!r}: must be a number in [0, 1]")


# --- design labels ------------------------------------------------------------------------------


def design_overrides(overrides: list[str]) -> dict[str, str]:
    """The job's command-line overrides that define its design, as key -> value."""
    out = {}
    for item in overrides:
        key, _, value = item.partition("=")
        key = key.lstrip("+~")
        if key.startswith("hydra") or key in NOT_DESIGN:
            continue
        out[key] = value
    return out


def design_label(design: dict[str, str]) -> str:
    """Exact label of a design from its overrides (every value in full)."""
    if not design:
        return "as configured"
    return ", ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in design.items())


def lever_values(config: ModelConfig) -> dict:
    p = config.program
    out = {}
    for key in LEVER_COLUMNS:
        v = getattr(p, key)
        out[key] = ";".join(v) if isinstance(v, list) else v
    return out


# --- the paired no-exchange run ---------------------------------------------------------------


def no_exchange(config: ModelConfig) -> ModelConfig:
    """The same city without cohorts or expert visits. Program settings do nothing without
    them, so they are all reset: designs that differ only in their program share this run."""
    return dataclasses.replace(config, program=ProgramConfig(cohort_size=0, experts_per_visit=0))


def baseline_run(config: ModelConfig, seed: int, cache_dir: Path | None) -> RunResult:
    """The no-exchange run with this seed (monthly city and department tables).

    Every job of a sweep needs the same baselines, so they are cached in the sweep folder under
    `identity.baseline_key`: the no-exchange configuration with its inputs' contents, the seed,
    the code and the package versions. An unreadable cache entry is computed again.
    """
    base = no_exchange(config)
    if cache_dir is None:
        return run_detailed(base, seed)
    stem = Path(cache_dir) / identity.baseline_key(base, seed)
    city, deps = stem.with_suffix(".city.parquet"), stem.with_suffix(".departments.parquet")
    if city.exists() and deps.exists():
        try:
            return RunResult(pd.read_parquet(city), pd.read_parquet(deps), np.zeros((0, 0)))
        except (OSError, ValueError):
            pass  # a damaged entry (e.g. a full disk): compute it again below
    result = run_detailed(base, seed)
    stem.parent.mkdir(parents=True, exist_ok=True)
    for path, frame in ((deps, result.departments), (city, result.months)):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    return result


# --- outcomes of one replicate ----------------------------------------------------------------


def months_to_target(gain: np.ndarray, target: float) -> float:
    """First month with gain >= target (NaN if never: censored at the horizon)."""
    hit = np.flatnonzero(gain >= target)
    return float(hit[0]) if hit.size else float("nan")


def final_year(values: pd.Series) -> float:
    """Mean of the last FINAL_YEAR months (the whole run if shorter)."""
    return float(values.iloc[-FINAL_YEAR:].mean())


def effects(months: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """What a gain means, design minus no exchange with the same seed, one row per outcome:
    domain index (final-year mean, index units), real staff proficient in a practice and
    departments where it is standard procedure (final month)."""
    rows = []
    for col in (c for c in months if c.startswith("index_")):
        value, ref = final_year(months[col]), final_year(base[col])
        rows.append(("domain_index", col.removeprefix("index_"), value, ref))
    last, base_last = months.iloc[-1], base.iloc[-1]
    for col in (c for c in months if c.startswith("adoption_")):
        value, ref = last[col] * last["staff"], base_last[col] * base_last["staff"]
        rows.append(("staff_proficient", col.removeprefix("adoption_"), value, ref))
    for col in (c for c in months if c.startswith("sop_")):
        rows.append(("sop_departments", col.removeprefix("sop_"), last[col], base_last[col]))
    out = pd.DataFrame(rows, columns=["kind", "outcome", "value", "baseline"])
    out["value"], out["baseline"] = out["value"].astype(float), out["baseline"].astype(float)
    out["difference"] = out["value"] - out["baseline"]
    return out


def replicate_summary(months: pd.DataFrame, target_gain: float) -> dict:
    """One replicate's headline numbers (index units; people real; money IDR million)."""
    last = months.iloc[-1]
    gain = final_year(months.gain)
    mtt = months_to_target(months.gain.to_numpy(), target_gain)
    return {
        "final_index": float(last.service_index),
        "baseline_final_index": float(last.baseline_index),
        "gain": gain,
        "final_month_gain": float(last.gain),
        "mean_gain": float(months.gain.mean()),
        "months_to_target": mtt,
        "reached_target": not math.isnan(mtt),
        "staff_sent": int(last.departures),
        "staff_months_abroad": int(last.staff_months_abroad),
        "expert_visits": int(last.expert_visits),
        "cost": float(last.cost),
        "cost_per_point": float(last.cost) / (100 * gain) if gain > 0 else float("nan"),
    }


def run_job(
    config: ModelConfig,
    replicates: int,
    seed: int,
    target_gain: float,
    label: str,
    extra_columns: dict | None = None,
    progress: bool = True,
    cache_dir: Path | None = None,
) -> dict[str, pd.DataFrame]:
    """Run the replicates; returns the tables timeseries, baseline, summary, effects,
    departments and department_ties (see the README's output files)."""
    did = identity.design_id(config)
    base_id = identity.design_id(no_exchange(config))
    tag = {"design": label, "design_id": did, **lever_values(config), **(extra_columns or {})}
    series, baselines, summaries, effect_rows, departments = [], [], [], [], []
    ties = None
    for r in tqdm(range(replicates), desc=label, disable=not progress, leave=False):
        s = seed + r
        result = run_detailed(config, s)
        base = baseline_run(config, s, cache_dir)
        rep = {"replicate": r, "seed": s}
        df = result.months
        df["baseline_index"] = base.months.service_index.to_numpy()
        df["gain"] = df.service_index - df.baseline_index
        series.append(df.assign(**rep))
        baselines.append(base.months.assign(baseline_id=base_id, **rep))
        dep = result.departments
        dep["baseline_quality"] = base.departments.quality.to_numpy()
        departments.append(dep.assign(**rep))
        effect_rows.append(effects(df, base.months).assign(**rep))
        summaries.append({**rep, **replicate_summary(df, target_gain)})
        if ties is None:
            ids = list(dep.department.unique())
            ties = pd.DataFrame(result.department_ties, index=ids, columns=ids)

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
