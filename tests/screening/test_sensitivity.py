"""Sensitivity analysis (experiments/sensitivity.py) on the small scenario with tiny samples."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import sensitivity
from experiments.screening.stages import top_parameters
from sim import BehaviorConfig, run
from sim.pairing import no_exchange

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "sensitivity.py"
#: The small scenario; no expert visits, so expert_learning_factor cannot matter.
BASE = [
    "scenario=small",
    "horizon=24",
    "program.cohort_size=800",  # real staff: about 8 simulated people at 1% scale
    "program.min_tenure=0",
    "program.experts_per_visit=0",
]
OPTIONS = [
    "--method",
    "both",
    "--trajectories",
    "2",
    "--sobol-n",
    "8",
    "--top",
    "2",
    "--replicates",
    "1",
    "--versus",
    "program.selection=managers",
]
OUTCOMES = ["gain_a", "gain_b", "difference"]
FILES = (
    "samples.parquet",
    "samples.csv",
    "morris.csv",
    "sobol.csv",
    "ranking.csv",
    "sensitivity.png",
    "sensitivity.svg",
    "settings.json",
)


def script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_analysis_with_versus(tmp_path, monkeypatch):
    """One Morris + Sobol analysis with --versus on 2 workers (through the command line), then
    its Morris stage again on 1 worker. A single test, so that pytest-xdist runs the analysis
    once."""
    proc = script(*BASE, *OPTIONS, "--workers", "2", "--out", "two_workers", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "top parameters by mu_star" in proc.stdout.lower()
    assert "Design A beats design B in" in proc.stdout
    analysis = tmp_path / "two_workers"
    check_every_output_file_is_written(analysis)
    check_indices_tables(analysis)
    check_a_parameter_that_cannot_matter_has_mu_star_zero(analysis)
    monkeypatch.chdir(tmp_path)
    check_results_do_not_depend_on_the_number_of_workers(analysis)


def check_every_output_file_is_written(analysis: Path) -> None:
    for name in FILES:
        assert (analysis / name).stat().st_size > 0, name
    settings = json.loads((analysis / "settings.json").read_text())
    assert settings["ranges"] == {k: list(v) for k, v in sensitivity.PARAMETERS.items()}
    k = len(sensitivity.PARAMETERS)  # Morris: trajectories x (k + 1); Sobol: N x (top + 2)
    assert settings["parameter_sets"] == {"morris": 2 * (k + 1), "sobol": 8 * (2 + 2)}
    assert settings["design_b"]["config"]["program"]["selection"] == "managers"


def check_indices_tables(analysis: Path) -> None:
    morris = pd.read_csv(analysis / "morris.csv")
    assert len(morris) == len(sensitivity.PARAMETERS) * len(OUTCOMES)
    for outcome in OUTCOMES:
        part = morris[morris.outcome == outcome]
        assert sorted(part.parameter) == sorted(sensitivity.PARAMETERS)
    numbers = morris[["mu", "mu_star", "sigma", "mu_star_conf"]].to_numpy()
    assert np.isfinite(numbers).all()
    assert (morris.mu_star >= 0).all() and (morris.mu_star > 0).any()

    sobol = pd.read_csv(analysis / "sobol.csv")
    assert list(sobol.columns) == ["parameter", "S1", "S1_conf", "ST", "ST_conf", "outcome"]
    assert len(sobol) == 2 * len(OUTCOMES)
    assert np.isfinite(sobol[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy()).all()
    # Sobol runs on the two parameters with the largest mu_star (relative, over all outcomes)
    assert set(sobol.parameter) == set(top_parameters(morris, 2))

    samples = pd.read_parquet(analysis / "samples.parquet")
    assert len(samples) == 2 * (len(sensitivity.PARAMETERS) + 1) + 32
    assert np.allclose(samples.difference, samples.gain_a - samples.gain_b, atol=1e-12)
    for name, (low, high) in sensitivity.PARAMETERS.items():
        assert samples[name].between(low, high).all(), name

    ranking = pd.read_csv(analysis / "ranking.csv")
    assert list(ranking.stage) == ["morris", "sobol"]
    morris_sets = samples[samples.stage == "morris"]
    assert ranking.share_a_beats_b[0] == pytest.approx((morris_sets.difference > 0).mean())


def check_a_parameter_that_cannot_matter_has_mu_star_zero(analysis: Path) -> None:
    """Without expert visits the outcome does not depend on expert_learning_factor at all."""
    morris = pd.read_csv(analysis / "morris.csv")
    expert = morris[morris.parameter == "expert_learning_factor"]
    assert len(expert) == len(OUTCOMES)
    assert (expert.mu_star == 0).all() and (expert.sigma == 0).all()


def check_results_do_not_depend_on_the_number_of_workers(analysis: Path) -> None:
    """The Morris stage again on one worker (in this process, cwd = the analysis' parent): the
    same samples and indices. Only the Morris stage, to keep the test fast: the Sobol stage runs
    through the same code."""
    argv = [*BASE, *OPTIONS, "--workers", "1", "--out", "one_worker"]
    argv[argv.index("both")] = "morris"
    assert sensitivity.main(argv) == 0
    one = pd.read_parquet(analysis.parent / "one_worker" / "samples.parquet")
    two = pd.read_parquet(analysis / "samples.parquet")
    two = two[two.stage == "morris"].reset_index(drop=True)
    assert len(one) == 2 * (len(sensitivity.PARAMETERS) + 1)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    morris = (analysis.parent / "one_worker" / "morris.csv").read_text()
    assert morris == (analysis / "morris.csv").read_text()


def test_a_bad_override_stops_with_one_line_and_writes_nothing(tmp_path):
    proc = script(*BASE, "program.cohort_size=-1", "--trajectories", "2", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == ["error: program.cohort_size = -1: must be an integer in [0, 10^7]"]
    assert list(tmp_path.iterdir()) == []


def test_bad_options_stop_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv in (
        [*BASE, "--versus", "scenario=laptop"],
        [*BASE, "--sobol-n", "10"],
        [*BASE, "--parameters", "transfer_rat", "power_distance"],
        [*BASE, "--design", "program.selection=lottery"],
    ):
        assert sensitivity.main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: "), (argv, err)
    assert list(tmp_path.iterdir()) == []


def test_parameters_are_behaviour_settings_and_ranges_are_valid():
    fields = {f.name: f.default for f in dataclasses.fields(BehaviorConfig)}
    for name, (low, high) in sensitivity.PARAMETERS.items():
        assert name in fields, name
        assert low < high
        assert low <= fields[name] <= high, f"{name}: default outside its range"


def test_designs_share_their_no_exchange_run():
    """The no-exchange run ignores program settings, so A and B may share it."""
    a = sensitivity.model_config(BASE)
    b = sensitivity.model_config(
        [*BASE, "program.selection=managers", "program.months_between_cohorts=3"]
    )
    assert run(no_exchange(a), 1).equals(run(no_exchange(b), 1))
