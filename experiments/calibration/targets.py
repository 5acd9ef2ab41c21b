"""The targets of a calibration (observed patterns with their uncertainty and source, from
a YAML file), how the model measures each, and the priors (uniform over the plausible
ranges the settings declare, or over ranges given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from sim import ExchangeModel, ModelConfig, UserError, rules
from sim.config import BehaviorConfig
from sim.inputs.files import finite_float, load_yaml, shown
from sim.settings import declared, is_number, plausible_ranges

#: The returnee statistics, by months after return (`lag`): the share of returnees who still
#: master a practice taught at their Tokyo bureau (learnt), and who master and use one relevant
#: to their department (applying) (docs/model.md §7.14).
RETURNEES = "returnees_applying"


#: A target's interval is read as a 90% interval of a normal law: sd = width / (2 x Z90).
Z90 = 1.6448536269514722


LEARNT = "returnees_learnt"


BY_LAG = {RETURNEES: "share", LEARNT: "share_learnt"}


#: Statistics of the whole run (no lag or month; `sim.reporters.Recorder.statistics`).
RUN = ("returnees_sharing", "months_to_sop")


#: Statistics of the behaviour itself: the half-life (months) of a skill out of use.
RULES = {"unused_half_life": lambda b: rules.half_life(b.forgetting_rate)}


#: What a statistic's observed value (and interval) may be: shares of people lie from 0 to 1,
#: months are not negative; other city columns are not bounded here.
BOUNDS = {
    **{k: (0.0, 1.0, "a share from 0 to 1") for k in (*BY_LAG, "returnees_sharing")},
    "months_to_sop": (0.0, math.inf, "a number of months >= 0"),
    "unused_half_life": (0.0, math.inf, "a number of months >= 0"),
}


#: Keys a target may have.
TARGET_KEYS = ("name", "statistic", "observed", "sd", "interval", "lag", "month", "source")


#: Parameters calibrated by default: those the packaged targets inform (configs/targets/
#: evidence.yaml); the others are carried as stated uncertainty (`behaviour_draws`).
DEFAULT_PARAMETERS = (
    "abroad_learning_rate",
    "forgetting_rate",
    "forgetting_in_use",
    "willingness_mean",
    "sop_adoption_rate",
)


@dataclass(frozen=True)
class Target:
    """An observed value of a model statistic, with its uncertainty and source."""

    name: str
    statistic: str  # in BY_LAG, RUN or RULES, or a column of the monthly city table
    observed: float
    sd: float  # > 0
    source: str
    lag: int | None = None  # months after return (BY_LAG)
    month: int | None = None  # month of the run (a city-table column)
    line: int = 0  # line of the targets file


def load_targets(path: str | Path) -> list[Target]:
    """Read and check a targets file; a problem is one UserError line naming file and line."""
    path = Path(path)
    data, root = load_yaml(path, "the targets file")  # a DataError (a UserError) names the line
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("targets"), list)
        or not data["targets"]
    ):
        raise UserError(f"{path}: must hold a non-empty list `targets:`")
    items = data["targets"]
    node = next((v for k, v in root.value if k.value == "targets"), None)
    if isinstance(node, yaml.SequenceNode) and len(node.value) == len(items):
        lines = [n.start_mark.line + 1 for n in node.value]
    else:  # `targets` from a merge key (<<): the mapping's line
        lines = [root.start_mark.line + 1] * len(items)
    targets, names = [], set()
    for line, item in zip(lines, items, strict=True):
        target = _target(path, line, item)
        if target.name in names:
            raise UserError(f"{path}:{target.line}: target {target.name!r}: duplicate name")
        names.add(target.name)
        targets.append(target)
    return targets


def _finite(v) -> bool:
    """A finite int or float, not a bool nor text (an integer beyond float range is not)."""
    return isinstance(v, int | float) and finite_float(v) is not None


def _target(path: Path, line: int, item) -> Target:
    where = f"{path}:{line}"
    if not isinstance(item, dict):
        raise UserError(f"{where}: a target must be a mapping of {', '.join(TARGET_KEYS)}")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise UserError(f"{where}: target without a name (name: a non-empty string)")
    where = f"{where}: target {shown(name)}"
    unknown = [k for k in item if k not in TARGET_KEYS]
    if unknown:
        raise UserError(
            f"{where}: unknown key {shown(unknown[0])}; allowed: {', '.join(TARGET_KEYS)}"
        )
    for key in ("statistic", "observed", "source"):
        if key not in item:
            raise UserError(f"{where}: missing {key}")
    statistic, observed, source = item["statistic"], item["observed"], item["source"]
    if not isinstance(statistic, str) or not statistic:
        raise UserError(f"{where}: statistic = {shown(statistic)}: must be a statistic's name")
    if not _finite(observed):
        raise UserError(f"{where}: observed = {shown(observed)}: must be a finite number")
    if not isinstance(source, str) or not source.strip():
        raise UserError(f"{where}: source = {shown(source)}: must say where the value comes from")
    if ("sd" in item) == ("interval" in item):
        raise UserError(f"{where}: give its uncertainty as sd or as interval, one of them")
    if "sd" in item:
        sd = item["sd"]
        if not _finite(sd) or sd <= 0:
            infinite = isinstance(sd, float) and not math.isfinite(sd)
            allowed = "a positive finite number" if infinite else "a positive number"
            raise UserError(f"{where}: sd = {shown(sd)}: must be {allowed}")
    else:
        iv = item["interval"]
        if not (isinstance(iv, list) and len(iv) == 2 and all(_finite(v) for v in iv)):
            raise UserError(
                f"{where}: interval = {shown(iv)}: must be [low, high] (a 90% interval of "
                "finite numbers)"
            )
        if not iv[0] < iv[1]:
            raise UserError(f"{where}: interval = {shown(iv)}: low must be below high")
        sd = (float(iv[1]) - float(iv[0])) / (2 * Z90)
        if not math.isfinite(sd):
            raise UserError(f"{where}: interval = {shown(iv)}: too wide to be a 90% interval")
    low, high, allowed = BOUNDS.get(
        statistic,
        (0.0, 1.0, "a share from 0 to 1") if statistic.startswith("adoption_") else
        (-math.inf, math.inf, ""),
    )  # fmt: skip
    given = [("observed", observed)] + [("interval", v) for v in item.get("interval", [])]
    for key, value in given:
        if not low <= float(value) <= high:
            raise UserError(f"{where}: {key} = {shown(value)}: {statistic} is {allowed}")
    lag, month = item.get("lag"), item.get("month")
    if statistic in BY_LAG:
        if month is not None:
            raise UserError(f"{where}: {statistic} is measured by lag (months after return)")
        if not isinstance(lag, int) or isinstance(lag, bool) or lag < 0:
            raise UserError(f"{where}: lag = {shown(lag)}: must be a whole number of months >= 0")
    elif statistic in RUN or statistic in RULES:
        if lag is not None or month is not None:
            raise UserError(f"{where}: {statistic} is one number per run: no lag or month")
    else:
        if lag is not None:
            raise UserError(
                f"{where}: lag is for {', '.join(BY_LAG)}; a city-table column needs month"
            )
        if not isinstance(month, int) or isinstance(month, bool) or month < 0:
            raise UserError(
                f"{where}: month = {shown(month)}: must be a whole number of months >= 0"
            )
    return Target(name, statistic, float(observed), float(sd), source.strip(), lag, month, line)


def check_targets(targets: list[Target], config: ModelConfig) -> None:
    """Refuse a target the calibration scenario cannot measure (unknown column, beyond the
    horizon), in one line."""
    model = ExchangeModel(config, seed=0)
    columns = set(model.results().columns)
    model.release()
    known = (*BY_LAG, *RUN, *RULES)
    for t in targets:
        where = f"target {t.name!r} (line {t.line})"
        if t.statistic not in known and t.statistic not in columns:
            allowed = ", ".join([*known, *sorted(c for c in columns if c != "month")])
            raise UserError(f"{where}: statistic = {t.statistic!r}: unknown; allowed: {allowed}")
        when = when_measured(t)
        if when is not None and when > config.horizon:
            raise UserError(f"{where}: {when} months is beyond horizon = {config.horizon}")


def when_measured(target: Target) -> int | None:
    """Months after return (a returnee statistic), month of the run (a city-table column), or
    None (a statistic of the whole run or of the behaviour)."""
    return target.lag if target.statistic in BY_LAG else target.month


def measure(result, targets: list[Target], behavior: BehaviorConfig) -> dict[str, float]:
    """The targets' statistics in one run with `behavior` (NaN where the run has no value:
    nobody returned that long before its end, or no SOP followed a return)."""
    out = {}
    for t in targets:
        if t.statistic in BY_LAG:
            out[t.name] = float(result.returnees[BY_LAG[t.statistic]].iloc[t.lag])
        elif t.statistic in RUN:
            value = float(result.statistics[t.statistic])
            if t.statistic == "months_to_sop" and math.isnan(value):
                value = float(len(result.months) - 1)  # no SOP yet: censored at the horizon
            out[t.name] = value
        elif t.statistic in RULES:
            out[t.name] = float(RULES[t.statistic](behavior))
        else:
            out[t.name] = float(result.months[t.statistic].iloc[t.month])
    return out


@dataclass(frozen=True)
class Prior:
    """A uniform prior over [low, high] for behavior.<name>."""

    name: str
    low: float
    high: float


def make_priors(names: list[str] | None, ranges: dict[str, tuple[float, float]]) -> list[Prior]:
    """Uniform priors for `names` (default: DEFAULT_PARAMETERS) over `ranges` or, where not
    given, the plausible ranges their settings declare. One-line UserError for a bad one."""
    declarations = dict(declared(BehaviorConfig))
    plausible = plausible_ranges(BehaviorConfig)
    names = list(names or DEFAULT_PARAMETERS)
    for name in [*names, *ranges]:
        if name not in declarations or not isinstance(declarations[name].default, float):
            allowed = ", ".join(n for n, s in declarations.items() if isinstance(s.default, float))
            raise UserError(f"prior {name!r}: not a behaviour parameter; allowed: {allowed}")
    if len(set(names)) < len(names):
        raise UserError("priors: a parameter is named twice")
    priors = []
    for name in names:
        if name not in ranges and name not in plausible:
            raise UserError(f"prior {name!r}: no plausible range declared; give one (--range)")
        low, high = ranges.get(name, plausible.get(name))
        allowed = declarations[name].allowed
        if not (is_number(low) and is_number(high) and low < high):
            raise UserError(f"prior {name!r}: range {low!r}:{high!r}: low must be below high")
        for end in (low, high):
            if not allowed.accepts(end):
                raise UserError(f"prior {name!r}: range end {end!r}: {allowed.problem}")
        priors.append(Prior(name, float(low), float(high)))
    return priors
