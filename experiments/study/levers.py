"""The levers: the program settings designs vary, each with its words, unit, label format
and explored range (as EMA Workbench types its parameters), and a design's label.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import KW_ONLY, dataclass

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from sim import (
    ModelConfig,
    UserError,
)
from sim.program import POLICIES

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


def reference_design(summary: pd.DataFrame, reference: str | None) -> str | None:
    """design_id of the design whose levers match `reference` ("key=value,key=value")."""
    if not reference:
        return None
    mask = pd.Series(True, index=summary.index)
    for pair in reference.split(","):
        key, _, value = pair.strip().partition("=")
        key = key.strip().rsplit(".", 1)[-1]
        if key not in summary:
            raise ValueError(f"reference = {reference!r}: {key!r} is not a lever of this sweep")
        mask &= summary[key].astype(str) == value.strip()
    ids = summary.loc[mask, "design_id"].unique()
    if len(ids) != 1:
        raise ValueError(
            f"reference = {reference!r}: matches {len(ids)} designs of this sweep, not one"
        )
    return str(ids[0])


# --- a design's short label ---------------------------------------------------------------


def format_value(v) -> str:
    """A lever value as text: whole floats without decimals."""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


def as_number(v):
    """`v` as a float when it is a number or a string that reads as one (a swept setting that is
    not a lever is tabulated as the text of its override), else `v` unchanged."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def short_value(v, digits: int = 2) -> str:
    """A lever value for a label: a float that is not whole to `digits` significant digits, but
    never rounding its whole part ("0.58", "0.062", "12"; display only)."""
    number = as_number(v)
    if not isinstance(number, float | np.floating) or not np.isfinite(number):
        return format_value(v)
    if float(number).is_integer():
        return format_value(v)
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(float(number)))))
    text = f"{float(number):.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


#: Significant digits tried in turn for the floats of design labels, until the labels differ.
LABEL_DIGITS = (2, 3, 4, 6)


def short_label(row, levers: list[str], digits: int = LABEL_DIGITS[0]) -> str:
    """Plain-words label of a design from its lever values, e.g. '10 staff per cohort, a
    cohort every 12 months'; with no varying lever, the levers that name a single design."""
    if not levers:
        experts = bool(row.get("experts_per_visit"))
        levers = [
            k
            for k, lever in LEVERS.items()
            if k in row
            and (lever.names_design == "always" or lever.names_design == "experts" and experts)
        ]
        if not levers:
            return str(row["design"])
    parts = []
    for k in levers:
        lever, shown = LEVERS.get(k), short_value(row[k], digits)
        if lever:
            parts.append(lever.labelled(as_number(row[k]), shown))
        else:
            parts.append(k.rsplit(".", 1)[-1].replace("_", " ") + f" {shown}")
    return ", ".join(parts)


def label_designs(designs: pd.DataFrame, levers: list[str]) -> dict[str, str]:
    """design_id -> plain-words label, unique: floats rounded to the fewest `LABEL_DIGITS` that
    tell the most designs apart; designs whose labels still coincide are named by their exact labels
    instead."""
    rows = designs.to_dict("records")
    tries = [{r["design_id"]: short_label(r, levers, n) for r in rows} for n in LABEL_DIGITS]
    short = max(tries, key=lambda labels: len(set(labels.values())))  # the first of the most
    exact = dict(zip(designs.design_id, designs.design, strict=True))
    counts = pd.Series(list(short.values())).value_counts()
    labels = {k: (exact[k] if counts[v] > 1 else v) for k, v in short.items()}
    counts = pd.Series(list(labels.values())).value_counts()
    return {k: (f"{v} [{k[:6]}]" if counts[v] > 1 else v) for k, v in labels.items()}
