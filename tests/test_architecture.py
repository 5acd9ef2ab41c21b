"""The architecture holds: no import cycles, no imports hidden in functions, and a lever or an
outcome is declared in one place (experiments/study.py) from which every table, label and
report section follows."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import networkx as nx
import pytest

import sim
from experiments import study
from experiments.report import all_outcomes, what_was_run
from experiments.tables import combine, design_labels

from .conftest import ROOT

PACKAGES = ("sim", "experiments")


def module_imports(path: Path) -> tuple[set[str], list[int]]:
    """Project modules a file imports at module level, and the lines of imports in functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top, nested = set(), []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        names = [n for n in names if n.split(".")[0] in PACKAGES]
        if node.col_offset > 0:
            nested.append(node.lineno)
        top |= {n for n in names if (ROOT / f"{n.replace('.', '/')}.py").exists()}
    return top, nested


def test_no_import_cycles_between_project_modules():
    graph = nx.DiGraph()
    for package in PACKAGES:
        for path in (ROOT / package).glob("*.py"):
            name = f"{package}.{path.stem}"
            graph.add_node(name)
            for other in module_imports(path)[0]:
                if other != name:
                    graph.add_edge(name, other)
    assert list(nx.simple_cycles(graph)) == []


def test_no_imports_inside_functions():
    nested = {
        f"{package}/{path.name}": lines
        for package in PACKAGES
        for path in (ROOT / package).glob("*.py")
        if (lines := module_imports(path)[1])
    }
    assert nested == {}


def small_job(program: sim.ProgramConfig, label: str) -> dict:
    cfg = sim.ModelConfig(scenario=sim.ScenarioConfig(scale=0.01), program=program, horizon=12)
    return study.run_job(cfg, 2, 0, 0.001, label, progress=False)


META = {"horizon_months": 12, "replicates": 2, "scale": 0.01, "target_gain": 0.001}


def test_adding_an_outcome_is_one_declaration(monkeypatch):
    """One entry in study.OUTCOMES: a column of the summary, a mean with its interval in the
    designs table, and a row of the report's outcomes table."""
    outcome = study.Outcome(
        "staff in Tokyo in the final month (people)", lambda m, t: int(m.staff_abroad.iloc[-1])
    )
    monkeypatch.setitem(study.OUTCOMES, "abroad_at_end", outcome)
    job = small_job(sim.ProgramConfig(cohort_size=400, min_tenure=0), "a design")
    assert "abroad_at_end" in job["summary"]
    tables = combine([job], META, reference=None)
    assert {"abroad_at_end_mean", "abroad_at_end_ci_low"} <= set(tables.designs.columns)
    assert outcome.words in all_outcomes(tables, tables.designs.design_id.iloc[0])


def test_adding_a_lever_is_one_declaration(monkeypatch):
    """One entry in study.LEVERS turns a program setting into a lever: a column of every
    table, part of each design's label, and words in the report."""
    lever = study.Lever(
        "minimum service before going (months)",
        "after {} months of service",
        kind="integer",
        low=0,
        high=120,
        step=6,
    )
    monkeypatch.setitem(study.LEVERS, "min_tenure", lever)
    jobs = [
        small_job(sim.ProgramConfig(cohort_size=400, min_tenure=t), f"min_tenure={t}")
        for t in (0, 60)
    ]
    assert all("min_tenure" in j[name] for j in jobs for name in ("summary", "timeseries"))
    tables = combine(jobs, META, reference=None)
    assert tables.levers == ["min_tenure"]
    assert sorted(design_labels(tables).values()) == [
        "after 0 months of service",
        "after 60 months of service",
    ]
    assert lever.words in what_was_run(tables)


def test_every_lever_is_a_program_setting():
    fields = {f.name for f in dataclasses.fields(sim.ProgramConfig)}
    assert set(study.LEVERS) <= fields


@pytest.mark.parametrize("name", list(study.OUTCOMES))
def test_every_outcome_has_words_and_a_known_summary(name):
    outcome = study.OUTCOMES[name]
    assert outcome.words and outcome.summary in ("mean", "median", "share", "none")
