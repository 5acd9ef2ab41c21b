"""Levers declared once (LEVERS in experiments/study/levers.py): each range lies inside what its
setting accepts, and the Optuna search, the explorer's sliders and the EMA example read it from
there."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override
from optuna.distributions import (
    CategoricalDistribution,
    DiscreteUniformDistribution,
    IntUniformDistribution,
)

from experiments.explorer.charts import design_words
from experiments.explorer.runs import MODEL_PARAMS
from experiments.study.levers import (
    BUDGET_LEVERS,
    LEVERS,
    Lever,
    lever_named,
    optuna_range,
    short_label,
)
from experiments.study.settings import BudgetConfig
from sim import ProgramConfig, UserError
from sim.program import POLICIES
from sim.settings import declared
from tests.conftest import ROOT

SAMPLED = {k: v for k, v in LEVERS.items() if v.kind != "names"}
ALL = {**{f"program.{k}": v for k, v in SAMPLED.items()},
       **{f"budget.{k}": v for k, v in BUDGET_LEVERS.items()}}  # fmt: skip


def declaration(path: str):
    """The setting declaration behind a lever path (program.<name> or budget.<name>)."""
    section, name = path.split(".")
    return dict(declared(ProgramConfig if section == "program" else BudgetConfig))[name]


@pytest.mark.parametrize("path", list(ALL))
def test_every_explored_value_is_allowed_by_its_setting(path):
    lever, allowed = ALL[path], declaration(path).allowed
    values = lever.values() or (lever.low, lever.high)
    assert all(allowed.accepts(v) for v in values), [v for v in values if not allowed.accepts(v)]
    if lever.kind in ("integer", "real"):
        assert values[0] == lever.low and values[-1] == lever.high


@pytest.mark.parametrize("name", list(SAMPLED))
def test_the_defaults_are_explored_values(name):
    """The explorer's sliders start on one of their stops: the model's default."""
    assert getattr(ProgramConfig(), name) in LEVERS[name].values()


def test_stepped_values():
    assert LEVERS["cohort_size"].values() == tuple(range(0, 301, 10))
    share = BUDGET_LEVERS["share"].values()
    assert len(share) == 16 and share[1] == 0.3 and share[-1] == 1.0


def test_selection_offers_every_policy_but_targeted():
    """`targeted` needs a list of departments, which a sampler cannot draw."""
    choices = LEVERS["selection"].choices
    assert "targeted" not in choices and set(choices) == set(POLICIES) - {"targeted"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "integer", "low": 5, "high": 1, "step": 1}, "low < high"),
        ({"kind": "integer", "low": 0, "high": 10, "step": 0.5}, "whole step"),
        ({"kind": "categorical", "choices": ("a",)}, "two choices"),
        ({"kind": "boolean"}, "allowed: integer, real, categorical, names"),
    ],
)
def test_a_bad_declaration_is_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        Lever("words", "{}", **fields)


@pytest.mark.parametrize("path", list(ALL))
def test_optuna_searches_exactly_the_declared_range(path):
    """The sweeper's parse of `optuna_range` is the lever's range, both ends included."""
    lever = ALL[path]
    (override,) = OverridesParser.create().parse_overrides([f"{path}={optuna_range(path)}"])
    dist = create_optuna_distribution_from_override(override)
    if lever.kind == "categorical":
        assert isinstance(dist, CategoricalDistribution) and dist.choices == lever.choices
    else:
        kind = IntUniformDistribution if lever.kind == "integer" else DiscreteUniformDistribution
        assert isinstance(dist, kind)
        assert (dist.low, dist.high) == (lever.low, lever.high)
        assert (dist.step if lever.kind == "integer" else dist.q) == lever.step


def test_the_optuna_preset_reads_the_levers():
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(ROOT / "configs"), version_base=None):
        cfg = compose("config", ["+experiment=optimise"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    params = dict(cfg.hydra.sweeper.params)  # resolved on access
    assert params == {path: optuna_range(path) for path in params}
    assert params["program.duration"] == "int(interval(1, 12))"
    assert set(params) == {"program.months_between_cohorts", "program.duration",
                           "program.selection", "budget.share"}  # fmt: skip


def test_an_unknown_lever_is_one_line():
    with pytest.raises(UserError, match=r"^program.min_tenure: not a lever; levers: program\."):
        lever_named("program.min_tenure")
    with pytest.raises(UserError, match="not a range"):
        optuna_range("program.target_departments")


def test_the_explorers_controls_are_the_levers():
    sliders = {k: v for k, v in MODEL_PARAMS.items() if k in LEVERS}
    assert len(sliders) >= 5
    for name, control in sliders.items():
        lever = LEVERS[name]
        if lever.kind == "categorical":
            assert tuple(control["values"]) == lever.choices
        else:
            bounds = (control["min"], control["max"], control["step"])
            assert bounds == (lever.low, lever.high, lever.step), name


def test_a_label_says_one_in_the_singular():
    """'1 month in Tokyo', 'a cohort every month', never '1 months'; other values in the plural;
    the explorer's words read the same labels."""
    row = {"design": "d", "cohort_size": 1, "months_between_cohorts": 1, "duration": 1,
           "selection": "random", "experts_per_visit": 1,
           "months_between_expert_visits": 1}  # fmt: skip
    label = short_label(row, list(row)[1:])
    assert label == (
        "1 staff per cohort, a cohort every month, 1 month in Tokyo, random selection, "
        "1 expert per visit, an expert visit every month"
    )
    assert "months" not in label
    row.update(duration=np.int64(6), months_between_cohorts="12")  # a swept override's text
    assert "6 months in Tokyo" in short_label(row, ["duration"])
    assert short_label(row, ["months_between_cohorts"]) == "a cohort every 12 months"
    assert design_words(row) == (
        "1 staff per cohort, a cohort every 12 months, 6 months in Tokyo, random selection; "
        "1 expert per visit, an expert visit every month"
    )
