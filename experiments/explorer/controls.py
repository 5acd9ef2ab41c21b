"""The explorer's controls: levers with their ranges (from `study.levers`), behaviour (the
packaged posterior, the assumed defaults, or by hand), seeds and scale, and their defaults.
"""

from __future__ import annotations

import functools

from experiments.study.levers import LEVERS
from experiments.study.posterior import posterior_of
from sim import BehaviorConfig, ModelConfig, ProgramConfig
from sim.settings import declared, plausible_ranges

#: The explorer's scale when the page opens: all of Jakarta's 60,000 staff (a month of one run
#: takes about 10 ms at full scale); smaller scales start faster on a slow machine.
DEFAULT_SCALE = 1.0


#: Scales offered (share of the full headcount simulated).
SCALES = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0]


DEFAULT_SEEDS, MAX_SEEDS = 5, 10
DEFAULT_SEED = "1"


#: Seconds between sending a month to the browser and running the next one ahead: a run ahead
#: started at once took the cores and the interpreter while the month was being sent and drawn
#: (click to drawn 0.15-0.29 s against 0.13-0.20 s after a pause; benchmarks/explorer.py).
RUN_AHEAD_AFTER_S = 0.15


PROGRAM = ProgramConfig()


HORIZON = ModelConfig().horizon


#: The designs the page can compare; B starts switched off.
DESIGNS = ("A", "B")


#: How B differs from A when it is first switched on (a larger, more frequent program).
B_STARTS = {"cohort_size": 30, "months_between_cohorts": 6}


#: The explorer's words for each lever it offers; ranges and choices are the levers' own
#: (experiments.study.levers.LEVERS).
LEVER_LABELS = {
    "cohort_size": "Cohort size (Jakarta staff, real people)",
    "months_between_cohorts": "Months between cohorts",
    "duration": "Months in Tokyo (duration)",
    "selection": "Who goes (selection policy)",
    "experts_per_visit": "Tokyo experts per visit",
    "months_between_expert_visits": "Months between expert visits",
}


def lever_range(name: str) -> tuple[int, int, int]:
    """(low, high, step) of an integer lever, in its unit (real staff, months)."""
    lever = LEVERS[name]
    return int(lever.low), int(lever.high), int(lever.step)


def lever_choices(name: str) -> list[str]:
    """The values a categorical lever offers."""
    return list(LEVERS[name].choices)


def design_defaults(name: str) -> dict:
    """The levers' starting values of design `name`: the model's defaults (sim.ProgramConfig),
    B with `B_STARTS` over them."""
    levers = {k: getattr(PROGRAM, k) for k in LEVER_LABELS}
    return {**levers, **B_STARTS} if name == "B" else levers


#: The behaviour the staff have, as offered on the page -> what it means.
BEHAVIOURS = {
    "posterior": "Calibrated: packaged posterior draws (seed k takes draw k, as the sweeps do)",
    "assumed": "Assumed defaults (posterior=none)",
    "by_hand": "Set by hand (within each parameter's plausible range)",
}


@functools.cache
def packaged_posterior():
    """The packaged behaviour draws (`posterior=packaged`, checked as run.py checks them)."""
    return posterior_of({"posterior": "packaged", "replicates": None})


def behaviour_ranges() -> dict[str, tuple[float, float, float]]:
    """name -> (low, high, default) of each uncertain behaviour parameter (sim/config.py)."""
    defaults = BehaviorConfig()
    return {
        k: (lo, hi, getattr(defaults, k))
        for k, (lo, hi) in plausible_ranges(BehaviorConfig).items()
    }


def behaviour_label(name: str) -> str:
    """A behaviour parameter's slider label: its name and unit (sim/config.py)."""
    unit = dict(declared(BehaviorConfig))[name].unit
    return f"{name} ({unit})" if unit else name


def behaviour_of(choice: str, replicate: int, by_hand: dict[str, float]) -> dict[str, float]:
    """The behaviour settings replicate `replicate` runs with ({}: the configured defaults)."""
    if choice == "posterior":
        return packaged_posterior().behaviour(replicate)
    if choice == "by_hand":
        return dict(by_hand)
    return {}


def parse_seed(text) -> tuple[int | None, str]:
    """The seed typed in the Seed box, and a note for the page: empty gives None (the model
    draws a fresh seed, Mesa's convention), a non-negative whole number is used as it is;
    anything else also draws a fresh seed and the note says so in one line."""
    raw = "" if text is None else str(text).strip()
    if raw.isdigit():
        return int(raw), ""
    if raw:
        return None, f"Seed {raw!r} is not a non-negative whole number: a fresh seed was drawn."
    return None, ""


def default_settings() -> dict:
    """What the controls show when the page opens (and what Reset builds from)."""
    return {
        "designs": {name: design_defaults(name) for name in DESIGNS},
        "compare": False,
        "behaviour": "posterior",
        "by_hand": {k: v for k, (_, _, v) in behaviour_ranges().items()},
        "seeds": DEFAULT_SEEDS,
        "seed": DEFAULT_SEED,
        "scale": DEFAULT_SCALE,
        "channels": False,
        "horizon": HORIZON,
    }
