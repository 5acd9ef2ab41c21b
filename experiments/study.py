"""What a study is, declared once: its settings, levers, outcomes, and how a job computes them.

- The run-level schema (`RunConfig`, `BudgetConfig`: replicates, seeds, target, budget, reference),
  registered in Hydra's ConfigStore; `configs/config.yaml` composes the YAML groups onto it.
- The translation of a run configuration into a model configuration (data paths and the budget
  rule included) and the checks of the run-level settings.
- The levers (program settings designs vary: words with unit and a label format) and the
  outcomes (numbers each replicate reports, and what a gain means), which tables, figures and
  report read from here.
- The paired gain: every replicate of a design runs beside the no-exchange run with the same
  seed; `gain` is the service index minus the no-exchange one.

Replicate r uses seed `seed + r` in every job, so differences between designs are paired too
(common random numbers). People are real Jakarta staff and money is IDR million at every scale.
This module's contents are part of every job's key (`experiments.identity`): editing it
recomputes results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import logging
import math
import numbers
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

import numba
import numpy as np
import pandas as pd
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from experiments import identity
from experiments.outputs import (
    StorageError,
    atomic_write_bytes,
    checksum,
    json_bytes,
    parquet_bytes,
)
from sim import (
    BehaviorConfig,
    City,
    ModelConfig,
    RunResult,
    UserError,
    build_city,
    config_from_dict,
    run_detailed,
    settings,
    validate_config,
)
from sim.errors import DataError, first_line
from sim.files import check_regular_file, finite_float
from sim.inputs import check
from sim.model import without_program
from sim.organisation import packaged_file
from sim.pairing import CHANNELS, FINAL_YEAR, final_year, no_exchange, paired_run
from sim.program import POLICIES
from sim.settings import boolean, integer, interval, optional, setting, share, text

# --- the run-level schema -------------------------------------------------------------------------


@dataclass
class BudgetConfig:
    """Equal-budget designs: derive each design's cohort size from a yearly budget."""

    #: Real staff-months abroad per year the program may spend; None = cohort_size as given.
    staff_months_per_year: float | None = setting(
        None,
        "real staff-months per year",
        optional(interval(0.0, 1e9)),
        "lever for equal-budget comparisons; the cohort follows from the months between cohorts "
        "and the stay: budget x months between cohorts / (12 x duration), rounded",
        also="; not with money_per_year",
    )
    #: Alternatively a yearly budget in IDR million (converted with program.cost_per_staff_month).
    money_per_year: float | None = setting(
        None,
        "IDR million per year",
        optional(interval(0.0, 1e12)),
        "as staff_months_per_year, converted at program.cost_per_staff_month",
        also="; not with staff_months_per_year; needs a positive program.cost_per_staff_month",
    )
    #: Share of the budget a design spends (a lever for optimisation).
    share: float = setting(
        1.0,
        "share of the budget",
        interval(0.0, 1.0, open_low=True),
        "lever for the Optuna search: a design may spend less than the budget",
    )


@dataclass
class RunConfig(ModelConfig):
    """One sweep job: a model configuration (all of ModelConfig), replicated."""

    budget: BudgetConfig = field(default_factory=BudgetConfig)
    #: Replicates per job; replicate r uses seed + r in every job (common random numbers).
    replicates: int = setting(
        10,
        "paired seeds per design",
        integer(1, 10_000),
        "assumption: at full scale 10 paired seeds give gain intervals of a few hundredths of a "
        "point (make demo)",
    )
    #: Base seed.
    seed: int = setting(0, "seed", integer(0, 2**32 - 1), "replicate r uses seed + r in every job")
    #: Gain whose first month is reported as months_to_target.
    target_gain: float = setting(
        0.005,
        "index units (0–1)",
        share(),
        "half an index point: a gain a planner notices; months to target is its first month",
    )
    #: Reference design for paired comparisons in the aggregate, as lever=value pairs separated
    #: by commas (e.g. "duration=6,months_between_cohorts=12"); None = no reference.
    reference: str | None = setting(
        None,
        "lever=value pairs",
        optional(text()),
        "the aggregate adds each design's paired difference from it",
        also="; must match exactly one design of the sweep",
    )
    #: Name of the experiment (folder name of its sweeps).
    experiment: str = setting(
        "default", "label", text(), "results/sweeps/<experiment>/<key of the command line>"
    )
    #: Show a progress bar over replicates.
    progress: bool = setting(True, None, boolean(), "terminal only; no bar in parallel sweeps")
    #: After a sweep, draw the figures and write report.html (tables are always written).
    report: bool = setting(True, None, boolean(), "report=false for table-only sweeps")
    #: Decompose every replicate's gain by channel: travellers, colleagues, standard procedures.
    channels: bool = setting(
        True,
        None,
        boolean(),
        "two more runs per replicate (docs/model.md §7.15); false for large searches, whose "
        "report then says the gain was not decomposed",
    )
    #: Whose behaviour the replicates have: `packaged` (replicate r takes draw r of the packaged
    #: behaviour draws: the calibrated posterior beside the stated ranges of the other parameters),
    #: `none` (the configured behaviour: assumed defaults), or a posterior_draws.parquet of
    #: experiments/calibrate.py (or its folder). Replicate r of every design, and its no-exchange
    #: run, uses draw r.
    posterior: str | None = setting(
        "packaged",
        "path",
        optional(text()),
        "carries calibrated parameter uncertainty into the comparison of designs (docs/model.md "
        "§11); `none` (or null) = the configured behaviour, labelled as assumed",
        also="; needs at least `replicates` draws",
    )
    #: Real yearly rate at which the report discounts each month's program cost to the start
    #: (present value of the costs over the horizon).
    discount_rate: float = setting(
        0.06,
        "per year (real)",
        interval(0.0, 0.5),
        "ADB, Guidelines for the Economic Analysis of Projects (2017): 9% real in general, 6% for "
        "social-sector projects, as staff training is; 0 = undiscounted (docs/model.md §7.13)",
    )


def register() -> None:
    """Make `run_schema` (RunConfig) known to Hydra (configs/config.yaml composes onto it)."""
    ConfigStore.instance().store(name="run_schema", node=RunConfig)


register()


#: The kinds of lever, as EMA Workbench's parameters type them (IntegerParameter, RealParameter,
#: CategoricalParameter), and "names": a list of ids, which no sampler or search varies.
LEVER_KINDS = ("integer", "real", "categorical", "names")


@dataclass(frozen=True)
class Lever:
    """A setting that designs vary: words with unit for the report, a label format for a
    design's name, when it names a single design ("always": a core lever, "experts": only when
    the design has expert visits, "never"), and the range planners explore, typed as EMA
    Workbench's parameters are: `kind` "integer" (low to high by step), "real" (low to high,
    by step or, with step None, any number) or "categorical" (`choices`). What the setting
    accepts stays in its declaration (sim/config.py); the explored range lies inside it."""

    words: str
    label: str
    names_design: str = "never"
    _: KW_ONLY
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple = ()
    label_one: str | None = None  # the label for the value 1 ("1 month in Tokyo")

    def __post_init__(self) -> None:
        ranged = self.kind in ("integer", "real")
        if self.kind not in LEVER_KINDS:
            raise ValueError(f"Lever kind {self.kind!r}: allowed: {', '.join(LEVER_KINDS)}")
        if ranged and not (self.low is not None and self.high is not None and self.low < self.high):
            raise ValueError(f"{self.kind} lever needs low < high, not {self.low}, {self.high}")
        if self.kind == "integer" and not (self.step and self.step >= 1):
            raise ValueError(f"integer lever needs a whole step >= 1, not {self.step}")
        if self.kind == "categorical" and len(self.choices) < 2:
            raise ValueError(f"categorical lever needs at least two choices, not {self.choices}")

    def labelled(self, value, shown: str) -> str:
        """The label of a design with this value (`shown`: the value as written), in the
        singular for 1."""
        one = self.label_one is not None and isinstance(value, numbers.Real) and value == 1
        return (self.label_one if one else self.label).format(shown)

    def values(self) -> tuple:
        """The explored values in order (every step of a stepped range; the choices); empty
        for a real lever without a step and for "names"."""
        if self.kind == "categorical":
            return tuple(self.choices)
        if self.step is None or self.kind == "names":
            return ()
        count = round((self.high - self.low) / self.step)
        values = (self.low + i * self.step for i in range(count + 1))
        return tuple(int(v) if self.kind == "integer" else round(v, 12) for v in values)


#: Selection policies a design may use: all of the model's but "targeted", which needs a list of
#: departments (`target_departments`) that a sampler cannot draw.
SELECTIONS = tuple(p for p in POLICIES if p != "targeted")

#: Program settings always written as columns of every table, so any sweep over them can be
#: tabulated, labelled and explained; in this order. Their ranges are what a planner would
#: explore: the explorer's sliders, the EMA Workbench example and the Optuna search read them.
LEVERS = {
    "cohort_size": Lever(
        "cohort size (Jakarta staff sent per cohort)",
        "{} staff per cohort",
        "always",
        kind="integer",
        low=0,
        high=300,
        step=10,
    ),
    "months_between_cohorts": Lever(
        "months between cohorts (12 = one cohort a year)",
        "a cohort every {} months",
        "always",
        label_one="a cohort every month",
        kind="integer",
        low=1,
        high=24,
        step=1,
    ),
    "duration": Lever(
        "stay (months each cohort spends in Tokyo)",
        "{} months in Tokyo",
        "always",
        label_one="{} month in Tokyo",
        kind="integer",
        low=1,
        high=12,
        step=1,
    ),
    "selection": Lever(
        "selection policy (who is chosen to go)",
        "{} selection",
        "always",
        kind="categorical",
        choices=SELECTIONS,
    ),
    "start": Lever(
        "start (month of the first departure)",
        "first cohort in month {}",
        kind="integer",
        low=1,
        high=60,
        step=1,
    ),
    "experts_per_visit": Lever(
        "Tokyo experts per visit to Jakarta",
        "{} experts per visit",
        "experts",
        label_one="{} expert per visit",
        kind="integer",
        low=0,
        high=10,
        step=1,
    ),
    "months_between_expert_visits": Lever(
        "months between expert visits",
        "an expert visit every {} months",
        "experts",
        label_one="an expert visit every month",
        kind="integer",
        low=1,
        high=24,
        step=1,
    ),
    "target_departments": Lever("target departments", "to {}", kind="names"),
}

#: Run-level settings a search varies beside the program's levers (`budget.<name>`); they are
#: not columns of the tables (the cohort size they lead to is).
BUDGET_LEVERS = {
    "share": Lever(
        "share of the yearly budget a design spends",
        "{} of the budget",
        kind="real",
        low=0.25,
        high=1.0,
        step=0.05,
    ),
}


def lever_named(path: str) -> Lever:
    """The lever of a setting path: `program.<lever>` (or the bare name) or `budget.<lever>`."""
    section, _, name = path.rpartition(".")
    levers = BUDGET_LEVERS if section == "budget" else LEVERS
    if section not in ("", "program", "budget") or name not in levers:
        known = [*(f"program.{k}" for k in LEVERS), *(f"budget.{k}" for k in BUDGET_LEVERS)]
        raise UserError(f"{path}: not a lever; levers: {', '.join(known)}")
    return levers[name]


def optuna_range(path: str) -> str:
    """A lever's explored range in hydra-optuna-sweeper's override syntax (`${lever:<path>}` in a
    config): choice(...) of the choices, int(interval(low, high)) of whole numbers, else
    range(low, high, step) of a stepped range (the plugin hands it to Optuna, whose stepped
    distributions include `high`) or interval(low, high)."""
    lever = lever_named(path)
    if lever.kind == "categorical":
        return f"choice({', '.join(map(str, lever.choices))})"
    if lever.kind == "names":
        raise UserError(f"{path}: a list of ids, not a range a search can explore")
    if lever.step is None:
        return f"interval({float(lever.low)!r}, {float(lever.high)!r})"
    if lever.kind == "integer" and lever.step == 1:
        return f"int(interval({lever.low!r}, {lever.high!r}))"
    return f"range({lever.low!r}, {lever.high!r}, {lever.step!r})"


#: `${lever:<path>}` in a config (configs/experiment/optimise.yaml) is the lever's search space.
OmegaConf.register_new_resolver("lever", optuna_range, replace=True)


#: Run-level settings that do not change a design (left out of its label).
NOT_DESIGN = (
    "experiment",
    "replicates",
    "seed",
    "progress",
    "report",
    "reference",
    "posterior",
    "channels",
    "discount_rate",
)


# --- from a run configuration to a model configuration ---------------------------------------

#: Where relative data-file paths of a scenario are looked up, in order (after the working
#: directory): the scenario configs' folder, then the project folder.
PROJECT = Path(__file__).resolve().parents[1]
DATA_SEARCH = (PROJECT / "configs" / "scenario", PROJECT)
DATA_FILES = ("departments_file", "practices_file", "roster_file", "ties_file")


def to_model_config(cfg: DictConfig | RunConfig | dict) -> ModelConfig:
    """The model configuration of a job, with the cohort size derived from the budget if set."""
    if isinstance(cfg, DictConfig):
        data = OmegaConf.to_container(cfg, resolve=True)
    else:
        data = dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else cfg
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
    if months is not None and money is not None:
        raise UserError("budget: give staff_months_per_year or money_per_year, not both")
    if money is not None:
        if cost_per_staff_month <= 0:
            raise UserError(
                f"budget.money_per_year = {money!r}: needs a positive program.cost_per_staff_month"
            )
        months = money / cost_per_staff_month
    return None if months is None else months * budget.get("share", 1.0)


def cohort_for_budget(staff_months_per_year: float, months_between: int, duration: int) -> int:
    """Cohort size (real staff) whose stays, `duration` months every `months_between` months,
    spend the budget (rounded to the nearest person; the actual spend is in the summary)."""
    return int(round(staff_months_per_year * months_between / (12 * duration)))


def check_settings(cfg: DictConfig | RunConfig) -> Posterior | None:
    """The run-level settings, from their declarations (the model's own are checked by
    `sim.validate_config`), and the posterior draws file if one is given (returned)."""
    run = OmegaConf.to_object(cfg) if isinstance(cfg, DictConfig) else cfg
    for obj, prefix in ((run, ""), (run.budget, "budget")):
        message = settings.problem(obj, prefix)
        if message:
            raise UserError(message)
    return posterior_of(cfg)


# --- posterior draws ----------------------------------------------------------------------------

#: The draws file of a calibration folder (experiments/calibrate.py writes it).
DRAWS_FILE = "posterior_draws.parquet"
#: The packaged behaviour draws (`posterior=packaged`, the default) and their description
#: (calibrated and stated-range parameters, the targets' and code's digests): written by
#: `experiments/calibrate.py --package`.
PACKAGED_DRAWS = packaged_file("behaviour/behaviour_draws.parquet")
#: Values of `posterior` that mean the configured behaviour.
NO_POSTERIOR = (None, "none", "null")


def draws_description(path: Path) -> dict:
    """The JSON beside a draws file (same name, .json), or {} without one."""
    side = path.with_suffix(".json")
    if not side.is_file():
        return {}
    try:
        return json.loads(side.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{side}: not a readable JSON description of the draws ({err})") from None


@dataclass(frozen=True)
class Posterior:
    """Equally weighted posterior draws of behaviour parameters, in order (draw 0, 1, ...)."""

    path: Path
    digest: str  # sha256 of the file: part of every job's key and design id
    draws: pd.DataFrame  # draw, then one column per behavior parameter
    description: dict = dataclasses.field(default_factory=dict)  # the JSON beside it, if any

    @property
    def parameters(self) -> list[str]:
        return [c for c in self.draws.columns if c != "draw"]

    def behaviour(self, replicate: int) -> dict[str, float]:
        """The behaviour parameters of replicate `replicate` (draw number `replicate`)."""
        row = self.draws.iloc[replicate]
        return {k: float(row[k]) for k in self.parameters}


@functools.lru_cache(maxsize=8)
def _checked_draws(data: bytes, where: str, path: str) -> pd.DataFrame:
    """The draws of a posterior file's bytes, checked (see `posterior_of`); cached by contents,
    so that a sweep of thousands of jobs reads and checks one file once."""
    try:
        draws = pd.read_parquet(io.BytesIO(data))
    except (OSError, ValueError) as err:
        reason = first_line(err)
        raise UserError(f"{where}: {path} is not a readable Parquet file ({reason})") from None
    behaviour = {n: d for n, d in settings.declared(BehaviorConfig) if isinstance(d.default, float)}
    if "draw" not in draws.columns or list(draws.draw) != list(range(len(draws))):
        raise UserError(f"{where}: {path} must have a column `draw` numbering its rows 0, 1, ...")
    parameters = [c for c in draws.columns if c != "draw"]
    if not parameters:
        raise UserError(f"{where}: {path} holds no parameter column")
    for name in parameters:
        if name not in behaviour:
            raise UserError(
                f"{where}: column {name!r} is not a behavior parameter; allowed: "
                f"{', '.join(behaviour)}"
            )
        allowed, column = behaviour[name].allowed, draws[name]
        if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            raise UserError(f"{where}: column {name!r} holds {column.dtype} values, not numbers")
        for i, v in enumerate(column):
            drawn = finite_float(v)
            if drawn is None:
                what = allowed.problem.removeprefix("must be ")
                raise UserError(
                    f"{where}: draw {i}: {name} = {v!r}: must be a finite number; allowed: {what}"
                )
            if not allowed.accepts(drawn):
                raise UserError(f"{where}: draw {i}: {name} = {v!r}: {allowed.problem}")
    return draws.reset_index(drop=True)


def posterior_of(cfg: DictConfig | dict) -> Posterior | None:
    """The posterior draws a run configuration names (None without `posterior`), checked: a
    readable Parquet file of draws 0..n-1 of behaviour parameters with allowed values, at least
    `replicates` of them. A problem is one UserError line naming the file."""
    get = cfg.get if isinstance(cfg, dict | DictConfig) else lambda k: getattr(cfg, k)
    value = get("posterior")
    if value in NO_POSTERIOR:
        return None
    path = PACKAGED_DRAWS if value == "packaged" else Path(str(value)).expanduser()
    if path.is_dir():
        path = path / DRAWS_FILE
    where = f"posterior = {str(value)!r}"
    missing = UserError(
        f"{where}: no such file {path} ({DRAWS_FILE} of experiments/calibrate.py, or its folder)"
    )
    if not path.exists():
        raise missing
    try:
        check_regular_file(path, "posterior draws file")  # not a FIFO, device, huge file
    except DataError as err:
        raise UserError(f"{where}: {err}") from None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise missing from None
    except OSError as err:
        raise UserError(f"{where}: {path} cannot be read ({err.strerror})") from None
    draws = _checked_draws(data, where, str(path))
    replicates = get("replicates")
    if replicates is not None and replicates > len(draws):
        raise UserError(
            f"{where}: {len(draws)} draws for replicates = {replicates}; replicate r uses draw "
            "r, so replicates must be at most the number of draws"
        )
    return Posterior(
        path.resolve(),
        identity.sha256(data),
        draws.copy(),
        {**draws_description(path), "packaged": value == "packaged"},
    )


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
    for key in LEVERS:
        v = getattr(p, key)
        out[key] = ";".join(v) if isinstance(v, list) else v
    return out


def with_behaviour(config: ModelConfig, values: dict[str, float]) -> ModelConfig:
    """`config` with these behavior settings replaced (plain floats)."""
    behaviour = dataclasses.replace(config.behavior, **{k: float(v) for k, v in values.items()})
    return dataclasses.replace(config, behavior=behaviour)


# --- the paired no-exchange run ---------------------------------------------------------------


#: Cities built in this process, the most recently used last (`city_for`).
_CITIES: OrderedDict[str, City] = OrderedDict()


def city_for(config: ModelConfig, seed: int, keep: int = 1) -> City:
    """The city of `config` (organisation, ties and initial staff: everything but the program)
    with this seed, built once per process and reused by every design run with the seed and by
    its no-exchange run: the runs are the same as when each builds its own (common random
    numbers). Keyed by what builds a city (`sim.model.without_program`, the City's own key) with
    its input files' contents; the `keep` most recently used cities are kept."""
    what = identity.config_identity(without_program(config))  # what builds it, files by contents
    key = identity.digest({"city": what, "seed": seed})
    city = _CITIES.pop(key, None)
    if city is None:
        city = build_city(config, seed)
    _CITIES[key] = city
    while len(_CITIES) > max(keep, 1):
        _CITIES.popitem(last=False)
    return city


def baseline_run(
    config: ModelConfig, seed: int, cache_dir: Path | None, keep: int = 1
) -> RunResult:
    """The no-exchange run with this seed (monthly city and department tables).

    Every job of a sweep needs the same baselines, so they are cached in the sweep folder under
    `identity.baseline_key`: the no-exchange configuration with its inputs' contents, the seed,
    the code and the package versions. A cache entry that cannot be read or fails its checksum
    is deleted and computed again, with a note: the cache never fails a job.
    """
    base = no_exchange(config)
    if cache_dir is None:
        return run_detailed(base, seed, city_for(base, seed, keep))
    stem = Path(cache_dir) / identity.baseline_key(base, seed)
    cached = cached_baseline(stem)
    if cached is not None:
        return cached
    result = run_detailed(base, seed, city_for(base, seed, keep))
    cache_baseline(stem, result)
    return result


def _cache_files(stem: Path) -> dict[str, Path]:
    """The tables of a baseline cache entry (its `.checksums.json`, written last, completes it)."""
    return {part: stem.with_suffix(f".{part}.parquet") for part in ("city", "departments")}


def _cache_problem(err: Exception) -> str:
    if isinstance(err, FileNotFoundError):
        return "is missing"
    if isinstance(err, KeyError | TypeError):
        return "has no checksum recorded"
    return f"is unreadable ({type(err).__name__}: {' '.join(str(err).split())[:200]})"


def cached_baseline(stem: Path) -> RunResult | None:
    """The cached no-exchange run at `stem`; None when there is none or it is damaged (then its
    files are deleted, with a one-line note naming the damaged file)."""
    marker, files = stem.with_suffix(".checksums.json"), _cache_files(stem)
    if not marker.exists():
        return None
    frames, current, problem = {}, marker, None
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        for part, path in files.items():
            current, data = path, path.read_bytes()
            if checksum(data) != recorded[part]:
                problem = "does not match its checksum (truncated or altered)"
                break
            frames[part] = pd.read_parquet(io.BytesIO(data))
    except Exception as err:  # whatever is wrong with the cache, it must not fail the job
        problem = _cache_problem(err)
    if problem is None:
        return RunResult(frames["city"], frames["departments"], np.zeros((0, 0)))
    print(f"note: baseline cache {current} {problem}: deleted, computed again", file=sys.stderr)
    for path in [marker, *files.values()]:
        with contextlib.suppress(OSError):
            path.unlink()
    return None


def cache_baseline(stem: Path, result: RunResult) -> None:
    """Keep a no-exchange run in the cache, its checksums last; when the cache cannot be written
    (a full disk) the job goes on without it, with a note."""
    contents = {
        "city": parquet_bytes(result.months),
        "departments": parquet_bytes(result.departments),
    }
    try:
        for part, path in _cache_files(stem).items():
            atomic_write_bytes(path, contents[part])
        recorded = {part: checksum(data) for part, data in contents.items()}
        atomic_write_bytes(stem.with_suffix(".checksums.json"), json_bytes(recorded))
    except StorageError as err:
        print(f"note: baseline cache not kept: {err}", file=sys.stderr)


# --- outcomes ------------------------------------------------------------------------------------


def months_to_target(gain: np.ndarray, target: float) -> float:
    """First month with gain >= target (NaN if never: censored at the horizon)."""
    hit = np.flatnonzero(gain >= target)
    return float(hit[0]) if hit.size else float("nan")


#: Index points per unit of service index (the index runs 0-1; its points 0-100).
POINTS = 100.0


def cost_per_point(cost: float, gain: float) -> float:
    """IDR million per index point of gain (`gain` in index units 0-1); NaN without a gain."""
    return cost / (POINTS * gain) if gain > 0 else float("nan")


def _cost_per_point(months: pd.DataFrame, _target: float) -> float:
    return cost_per_point(float(months.cost.iloc[-1]), final_year(months.gain))


@dataclass(frozen=True)
class Outcome:
    """A number every replicate reports, computed from its paired monthly table (the model's
    columns plus baseline_index and gain) and the target gain.

    summary: how the designs table summarises it across replicates: "mean" (mean, sd and 95%
    interval), "median" (median with never-reached replicates counted last, see
    `tables.censored_median`), "share" (share of replicates), or "none".
    """

    words: str
    of: Callable[[pd.DataFrame, float], float | int | bool]
    summary: str = "mean"
    points: bool = False  # index units, shown in index points
    money: bool = False  # IDR million in the tables, shown in IDR billion
    count: bool = False  # whole things (people, visits, departments), shown as whole numbers


#: Outcomes of one replicate, in the order of the summary table's columns (index units; people
#: real; money IDR million). The designs table, the terminal and the report read them from here.
OUTCOMES = {
    "final_index": Outcome(
        "service index in the final month (0-1)", lambda m, t: float(m.service_index.iloc[-1])
    ),
    "baseline_final_index": Outcome(
        "no-exchange service index in the final month (0-1)",
        lambda m, t: float(m.baseline_index.iloc[-1]),
    ),
    "gain": Outcome(
        f"gain over no exchange, mean of the final {FINAL_YEAR} months (index points)",
        lambda m, t: final_year(m.gain),
        points=True,
    ),
    "final_month_gain": Outcome(
        "gain over no exchange in the final month (index points)",
        lambda m, t: float(m.gain.iloc[-1]),
        points=True,
    ),
    **{
        name: Outcome(
            f"gain through {words} (index points, final year)",
            lambda m, t, name=name: final_year(m[name]) if name in m else float("nan"),
            points=True,
        )
        for name, words in CHANNELS.items()
    },
    "mean_gain": Outcome(
        "gain over no exchange, mean of the whole run (index points)",
        lambda m, t: float(m.gain.mean()),
        points=True,
    ),
    "months_to_target": Outcome(
        "months until the gain first reaches the target",
        lambda m, t: months_to_target(m.gain.to_numpy(), t),
        summary="median",
    ),
    "reached_target": Outcome(
        "replicates whose gain reached the target",
        lambda m, t: not math.isnan(months_to_target(m.gain.to_numpy(), t)),
        summary="share",
    ),
    "colleagues_proficient": Outcome(
        "Jakarta staff never trained by the program but proficient in a Tokyo practice (final "
        "month)",
        lambda m, t: float(m.colleagues_proficient.iloc[-1]),
        count=True,
    ),
    "colleagues_proficient_without_sops": Outcome(
        "of them, in the run without standard procedures: staff who learnt from the trained and "
        "their colleagues (final month)",
        lambda m, t: (
            float(m.colleagues_proficient_without_sops.iloc[-1])
            if "colleagues_proficient_without_sops" in m
            else float("nan")
        ),
        count=True,
    ),
    "trained_proficient": Outcome(
        "staff trained by the program and still proficient in a Tokyo practice (final month)",
        lambda m, t: float(m.trained_proficient.iloc[-1]),
        count=True,
    ),
    "departments_with_sop": Outcome(
        "departments where a Tokyo practice is standard procedure (final month)",
        lambda m, t: int(m.departments_with_sop.iloc[-1]),
        count=True,
    ),
    "staff_sent": Outcome(
        "Jakarta staff sent to Tokyo", lambda m, t: int(m.departures.iloc[-1]), count=True
    ),
    "staff_months_abroad": Outcome(
        "staff-months in Tokyo", lambda m, t: int(m.staff_months_abroad.iloc[-1]), count=True
    ),
    "expert_visits": Outcome(
        "Tokyo experts' visits (experts x visits)",
        lambda m, t: int(m.expert_visits.iloc[-1]),
        count=True,
    ),
    "cost": Outcome("program cost", lambda m, t: float(m.cost.iloc[-1]), money=True),
    "cost_per_point": Outcome(
        "cost per index point of gain", _cost_per_point, summary="none", money=True
    ),
}


def replicate_summary(months: pd.DataFrame, target_gain: float) -> dict:
    """One replicate's value of every outcome."""
    return {name: outcome.of(months, target_gain) for name, outcome in OUTCOMES.items()}


@dataclass(frozen=True)
class Effect:
    """What a gain means, per domain or practice: a family of the model's monthly columns
    (`prefix`<name>) read for the design and for the no-exchange run with the same seed."""

    heading: str  # report heading, with unit
    prefix: str  # column prefix in the monthly table
    final_year: bool  # mean of the final year (else the final month)
    per_staff: bool  # a share of staff, reported as real people
    unit: str  # of a difference
    level_format: str  # format of a level (no exchange, with the design)
    names: str  # "domain" or "practice" (how the report names an outcome)
    none: str | None = None  # sentence for the report when the outcome is zero everywhere
    points: bool = False  # levels are index units: differences shown in index points


#: Effects, in report order: service index per domain, staff proficient per practice, departments
#: where a practice is standard procedure.
EFFECTS = {
    "domain_index": Effect(
        f"Service index by domain (0–1, mean of the final {FINAL_YEAR} months)",
        "index_",
        final_year=True,
        per_staff=False,
        unit="index points",
        level_format=".3f",
        names="domain",
        points=True,
    ),
    "staff_proficient": Effect(
        "Jakarta staff proficient in each Tokyo practice (final month)",
        "adoption_",
        final_year=False,
        per_staff=True,
        unit="people",
        level_format=",.0f",
        names="practice",
        none="No staff member was proficient in any Tokyo practice in the final month, with or "
        "without the exchange.",
    ),
    "sop_departments": Effect(
        "Departments where the practice is standard procedure (final month)",
        "sop_",
        final_year=False,
        per_staff=False,
        unit="departments",
        level_format=".1f",
        names="practice",
        none="No practice became standard procedure (SOP) in any department by the final "
        "month, with or without the exchange: in the model, a department institutionalises a "
        "practice only once its staff's proficiency and its managers carry implementation past "
        "the practice's threshold.",
    ),
}


def _level(months: pd.DataFrame, col: str, effect: Effect) -> float:
    if effect.final_year:
        return final_year(months[col])
    last = months.iloc[-1]
    return last[col] * last["staff"] if effect.per_staff else last[col]


def effects(months: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """Every effect of one replicate, design minus no exchange with the same seed."""
    rows = []
    for kind, effect in EFFECTS.items():
        for col in (c for c in months if c.startswith(effect.prefix)):
            name = col.removeprefix(effect.prefix)
            rows.append((kind, name, _level(months, col, effect), _level(base, col, effect)))
    out = pd.DataFrame(rows, columns=["kind", "outcome", "value", "baseline"])
    out["value"], out["baseline"] = out["value"].astype(float), out["baseline"].astype(float)
    out["difference"] = out["value"] - out["baseline"]
    return out


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


# --- the paired gain ----------------------------------------------------------------------------


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
