"""Each setting is declared once (sim/config.py, `sim.settings.setting`): the validation and the
parameter tables of docs/model.md §9 both come from that declaration, and these tests fail when
they drift apart."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from runpy import run_path

import pytest

from experiments.study.settings import BudgetConfig, RunConfig, check_settings
from sim import settings
from sim.config import (
    RELATIONS,
    BehaviorConfig,
    ModelConfig,
    NetworkConfig,
    ProgramConfig,
    ScenarioConfig,
    validate_config,
)
from sim.errors import ConfigError, UserError
from sim.settings import declared, number, optional, setting

DOCS = Path(__file__).resolve().parents[2] / "docs" / "model.md"
REGENERATE = ".venv/bin/python docs/settings_tables.py docs/model.md"
#: The docs tool that writes the tables (a script, outside the libraries).
tables_tool = run_path(str(DOCS.with_name("settings_tables.py")))
#: (prefix, class) of every table of docs §9, in order.
TABLES = [
    ("scenario", ScenarioConfig),
    ("network", NetworkConfig),
    ("program", ProgramConfig),
    ("behavior", BehaviorConfig),
    ("", ModelConfig),
]
SECTIONS = {prefix for prefix, _ in TABLES if prefix}


def declarations():
    """(prefix, class, field name, declaration) of every declared setting of the model."""
    return [(p, cls, name, s) for p, cls in TABLES for name, s in declared(cls)]


def outside_cases():
    """(setting name, value just outside its allowed values) for every declared setting."""
    return [
        pytest.param(p, name, value, id=f"{settings.setting_name(p, name)}={value!r}")
        for p, _, name, s in declarations()
        for value in s.allowed.outside
    ]


def with_value(prefix: str, name: str, value) -> ModelConfig:
    """The default configuration with one setting changed."""
    config = ModelConfig()
    setattr(getattr(config, prefix) if prefix else config, name, value)
    return config


# --- docs and code agree ------------------------------------------------------------------------


def test_docs_tables_are_generated_from_the_declarations():
    text = DOCS.read_text(encoding="utf-8")
    run_level = [("", RunConfig), ("budget", BudgetConfig)]
    assert [(p, cls) for p, cls in tables_tool["blocks"](text)] == TABLES + run_level, (
        "docs/model.md §9 must hold one generated table per section "
        "(<!-- settings: <prefix> = <module>:<Class> --> ... <!-- /settings -->), then the "
        "run level's (experiments.study.settings)"
    )
    assert tables_tool["render"](text) == text, (
        f"docs/model.md §9 differs from the declarations in sim/config.py; run: {REGENERATE}"
    )


def test_every_setting_is_declared():
    for _, cls in TABLES:
        names = {f.name for f in dataclasses.fields(cls)}
        if cls is ModelConfig:
            names -= SECTIONS
        assert names == {name for name, _ in declared(cls)}, cls.__name__


def test_every_default_passes_its_own_check():
    config = ModelConfig()
    for prefix, _, name, s in declarations():
        value = getattr(getattr(config, prefix) if prefix else config, name)
        assert value == s.default and type(value) is type(s.default), name
        assert s.allowed.accepts(value), name
    validate_config(ModelConfig())


@pytest.mark.parametrize(("prefix", "name", "value"), outside_cases())
def test_a_value_just_outside_is_refused_naming_the_setting(prefix, name, value):
    with pytest.raises(ConfigError) as err:
        validate_config(with_value(prefix, name, value))
    message = str(err.value)
    assert message.startswith(f"{settings.setting_name(prefix, name)} = {value!r}: ")
    assert "\n" not in message


def test_declared_text_appears_in_the_docs_table():
    for prefix, cls, name, s in declarations():
        row = next(
            line
            for line in settings.markdown_table(cls, prefix).splitlines()
            if line.startswith(f"| `{settings.setting_name(prefix, name)}` |")
        )
        assert s.source in row and s.allowed.text in row and (s.unit or "—") in row


# --- rules between settings ---------------------------------------------------------------------

RELATION_CASES = [
    (
        {"scenario.ties_file": "ties.csv"},
        "scenario.ties_file = 'ties.csv': ties name staff ids, so they need scenario.roster_file",
    ),
    (
        {"scenario.roster_file": "staff.csv", "scenario.scale": 0.5},
        "scenario.scale = 0.5: a roster is simulated as it is; allowed with a roster: 1.0",
    ),
    ({"network.team_neighbours": 3}, "network.team_neighbours = 3: must be even"),
    ({"program.duration": 120}, "program.duration = 120: must be shorter than horizon = 120"),
    ({"program.start": 5, "program.end": 4}, "program.end = 4: must be >= program.start = 5"),
    (
        {"program.selection": "targeted"},
        "program.target_departments = []: the 'targeted' policy needs at least one department",
    ),
    (
        {"program.start": 121},
        "program.start = 121: after horizon = 120, so no cohort would leave and no expert would "
        "visit; allowed: 1 to 120",
    ),
    (
        {"behavior.proficiency_threshold": 0.0},
        "behavior.proficiency_threshold = 0.0: must be in (0, 1]",
    ),
    (
        {"behavior.capacity_mean": 0.0},
        "behavior.capacity_mean = 0.0: must be in (0, 1) when behavior.capacity_sd > 0",
    ),
    (
        {"behavior.capacity_sd": 0.6},
        "behavior.capacity_sd = 0.6: must be below sqrt(mean*(1-mean)) = 0.500 for a Beta law",
    ),
    (
        {"behavior.willingness_sd": 0.5},
        "behavior.willingness_sd = 0.5: must be below sqrt(mean*(1-mean)) = 0.490 for a Beta law",
    ),
]


def configured(changes: dict) -> ModelConfig:
    config = ModelConfig()
    for key, value in changes.items():
        section, name = key.split(".")
        setattr(getattr(config, section), name, value)
    return config


@pytest.mark.parametrize(("changes", "message"), RELATION_CASES)
def test_rules_between_settings(changes, message):
    with pytest.raises(ConfigError) as err:
        validate_config(configured(changes))
    assert str(err.value) == message


def test_every_rule_between_settings_is_tested_and_noted_in_the_docs():
    relations = [r for section in RELATIONS.values() for r in section]
    failing = set()
    for changes, _ in RELATION_CASES:
        config = configured(changes)
        failing |= {r for r in relations if r(config)}
    assert failing == set(relations)
    noted = {settings.setting_name(p, name) for p, _, name, s in declarations() if s.also}
    for _, message in RELATION_CASES:
        assert message.split(" = ")[0] in noted


def test_the_first_bad_setting_is_reported():
    # model level first, then scenario, network, program, behavior; fields in declaration order;
    # a section's rules between settings after its own ranges
    config = configured({"program.duration": 200, "behavior.forgetting_rate": 1.5})
    config.horizon = 0
    with pytest.raises(ConfigError, match="^horizon = 0: "):
        validate_config(config)
    config.horizon = 120
    with pytest.raises(ConfigError, match="^program.duration = 200: must be shorter"):
        validate_config(config)
    config = configured({"program.end": 0, "program.cohort_size": -1, "network.rewiring": 2.0})
    with pytest.raises(ConfigError, match="^network.rewiring = 2.0: "):
        validate_config(config)
    config.network.rewiring = 0.5
    with pytest.raises(ConfigError, match="^program.cohort_size = -1: "):
        validate_config(config)


# --- the machinery works for any dataclass ------------------------------------------------------


@dataclass
class Budget:
    """A run-level section declared outside sim.config."""

    #: Staff-months a year; None = no budget.
    staff_months: float | None = setting(
        None, "staff-months per year", optional(number(0.0, strict=True)), "lever"
    )
    share: float = setting(1.0, "share", settings.interval(0.0, 1.0, open_low=True), "lever")
    tags: list[str] = setting([], None, settings.names(), "labels", also="; no repeats")


def test_any_dataclass_can_be_declared_checked_and_documented():
    assert Budget().tags == [] and Budget().tags is not Budget().tags
    settings.check(Budget(), "budget")
    with pytest.raises(ConfigError, match=r"^budget.share = 0: must be a number in \(0, 1\]$"):
        settings.check(Budget(share=0), "budget")
    with pytest.raises(ConfigError, match=r"^budget.staff_months = 0.0: must be a number > 0.0$"):
        settings.check(Budget(staff_months=0.0), "budget")
    assert settings.markdown_table(Budget, "budget").splitlines()[2:] == [
        "| `budget.staff_months` | `None` | staff-months per year | null or number > 0 | — "
        "| lever |",
        "| `budget.share` | `1.0` | share | number in (0, 1] | — | lever |",
        "| `budget.tags` | `[]` | — | list of names; no repeats | — | labels |",
    ]


def test_the_command_rewrites_a_stale_table(tmp_path):
    block = (
        "<!-- settings: budget = tests.model.test_settings:Budget -->\nold\n<!-- /settings -->\n"
    )
    stale = "# Budget\n\n" + block
    path = tmp_path / "doc.md"
    path.write_text(stale, encoding="utf-8")
    assert tables_tool["main"]([str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert text != stale and tables_tool["render"](text) == text
    assert "| `budget.share` | `1.0` |" in text and text.endswith("<!-- /settings -->\n")


@pytest.mark.parametrize(
    ("prefix", "name", "value"),
    [
        (prefix, name, value)
        for prefix, cls in (("", RunConfig), ("budget", BudgetConfig))
        for name, s in declared(cls, own=True)
        for value in s.allowed.outside
    ],
)
def test_run_level_settings_refuse_values_just_outside(prefix, name, value):
    run = RunConfig()
    setattr(run.budget if prefix else run, name, value)
    key = settings.setting_name(prefix, name)
    with pytest.raises(UserError, match=f"^{re.escape(key)} = "):
        check_settings(run)


def test_plausible_ranges_lie_within_the_allowed_values_and_hold_the_default():
    ranges = settings.plausible_ranges(BehaviorConfig)
    assert len(ranges) >= 4
    for name, s in declared(BehaviorConfig):
        if s.plausible is None:
            continue
        low, high = s.plausible
        assert low < high and s.allowed.accepts(low) and s.allowed.accepts(high), name
        assert low <= s.default <= high, name
