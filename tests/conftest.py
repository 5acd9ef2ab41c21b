"""Shared fixtures: tiny organisations and catalogues written to temporary files."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numba
import pytest
import yaml

from sim import BehaviorConfig, ModelConfig, NetworkConfig, ProgramConfig, ScenarioConfig
from sim.organisation import DEPARTMENT_COLUMNS, DOMAINS

ROOT = Path(__file__).resolve().parents[1]

# pytest-xdist already runs one test process per core: numba's parallel kernels get one thread
# each, in this process and in the scripts the tests start (results do not depend on it:
# tests/model/test_model_api.py checks that two threads give the same run as one)
numba.set_num_threads(1)
ONE_THREAD = {"NUMBA_NUM_THREADS": "1"}


def run_script(
    script: str, *args: str, cwd: Path = ROOT, env: dict | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run experiments/<script> with this Python, as a user would; with `check`, a non-zero exit
    fails the test and shows the end of its error output."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **ONE_THREAD, **(env or {})},
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def write_departments(path: Path, rows: list[dict]) -> Path:
    """Write a departments CSV; each row needs id and headcount, the rest has defaults."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(DEPARTMENT_COLUMNS)
        for r in rows:
            full = {
                "name": r["id"],
                "kind": "dinas",
                "domain": "public_services",
                "baseline_quality": 0.5,
                "weight": 1,
                "tokyo_bureau": "ward_office",
                "related": "",
                "source": "assumption: test",
                **r,
            }
            w.writerow([full[c] for c in DEPARTMENT_COLUMNS])
    return path


def practice(pid: str, **kw) -> dict:
    base = {
        "id": pid,
        "name": pid,
        "tokyo_bureaus": ["all"],
        "tacitness": 0.0,
        "impact": 0.2,
        "institutionalisation": 0.4,
        "jakarta_prior": 0.0,
        "relevance": dict.fromkeys(DOMAINS, 1.0),
        "relevance_departments": {},
    }
    base.update(kw)
    return base


def write_practices(path: Path, practices: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"practices": practices}), encoding="utf-8")
    return path


def quiet_behavior(**kw) -> BehaviorConfig:
    """Deterministic people: fixed capacity and willingness, no forgetting, turnover, rotation,
    deliberate sharing or learning on the job (each test turns on what it checks)."""
    base = dict(
        capacity_mean=0.5,
        capacity_sd=0.0,
        willingness_mean=0.6,
        willingness_sd=0.0,
        absorptive_gain=0.0,
        initial_knowledge=0.0,
        forgetting_rate=0.0,
        forgetting_in_use=0.0,
        turnover_rate=0.0,
        rotation_share=0.0,
        sharing_months=0,
        practice_learning_rate=0.0,
    )
    base.update(kw)
    return BehaviorConfig(**base)


def tiny_config(tmp_path: Path, departments: list[dict], practices: list[dict], **sections):
    """A ModelConfig on custom files; keyword sections replace the defaults."""
    dep = write_departments(tmp_path / "departments.csv", departments)
    pra = write_practices(tmp_path / "practices.yaml", practices)
    return ModelConfig(
        scenario=sections.pop(
            "scenario",
            ScenarioConfig(
                name="tiny", departments_file=str(dep), practices_file=str(pra), scale=1.0
            ),
        ),
        network=sections.pop("network", NetworkConfig()),
        program=sections.pop("program", ProgramConfig(cohort_size=0)),
        behavior=sections.pop("behavior", quiet_behavior()),
        **sections,
    )


@pytest.fixture
def small_jakarta() -> ModelConfig:
    """The packaged Jakarta organisation at 2% scale (about 1,400 staff), 36 months."""
    return ModelConfig(scenario=ScenarioConfig(scale=0.02), horizon=36)
