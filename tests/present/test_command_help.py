"""`--help` of the commands users type: what the command does, its levers with ranges, the
config groups a run composes (and only those), the presets and examples."""

from __future__ import annotations

import pytest

from experiments.jobs.plan import check_command
from experiments.present import usage
from experiments.run import cli
from experiments.study.levers import LEVERS
from tests.conftest import ROOT, run_script


@pytest.fixture(scope="module")
def help_text() -> str:
    return run_script("run.py", "--help").stdout


def test_run_help_is_the_apps_own(help_text):
    assert help_text.startswith("Run one program design for R replicates")
    assert "powered by Hydra" not in help_text  # Hydra's generic text is at --hydra-help
    assert max(len(line) for line in help_text.splitlines()) <= usage.WIDTH
    for name in LEVERS:
        assert f"  program.{name} = " in help_text
    # a lever's default, unit and the values it accepts, from its declaration in sim/config.py
    assert "program.cohort_size = 10" in help_text
    assert "integer in [0, 10^7]" in help_text
    assert "replicates = 10" in help_text and "horizon = 120" in help_text
    for preset in ("cohort_frequency", "duration", "equal_budget", "optimise", "selection"):
        assert f"    {preset} " in help_text
    assert "    cluster_slurm " in help_text and "joblib (default)" in help_text
    assert "-m +experiment=cohort_frequency" in help_text


def test_help_lists_the_groups_a_run_composes_and_not_the_calibrations_targets(help_text):
    assert (ROOT / "configs" / "targets").is_dir()  # a folder of configs/ ...
    assert "targets" not in help_text  # ... that no run composes
    assert check_command(["+targets=evidence"]) is not None  # (the calibration reads it)
    assert list(usage.groups()) == ["scenario", "program", "behavior", "network"]
    assert "    jakarta (default)" in help_text and "    current_practice (default)" in help_text


@pytest.mark.parametrize(
    "group", ["scenario", "program", "behavior", "network"]
)  # fmt: skip
def test_every_option_the_help_offers_composes_into_a_valid_run(group):
    options = [p.stem for p in sorted((ROOT / "configs" / group).glob("*.yaml"))]
    assert options
    for option in options:
        assert check_command([f"{group}={option}"]) is None, option


def test_help_in_process_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(["-m", "program.cohort_size=1,2", "--help"]) == 0
    assert "Levers (program.<name>=value)" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("script", "example"),
    [
        ("aggregate.py", "python experiments/aggregate.py results/sweeps/cohort_frequency/<key>"),
        ("rerun.py", "python experiments/rerun.py results/sweeps/cohort_frequency/<key>/3"),
    ],
)
def test_the_other_commands_say_what_they_do_with_an_example(script, example):
    text = run_script(script, "--help").stdout
    assert example in text and "Exit" in text
