"""The architecture holds: the test sees every module (subfolders, imports by name at run time);
no import cycle, no upward import (between packages, and between the stages of experiments/), no
import hidden in a function, no module named like a command or an installed package; and a lever
or an outcome is declared in one place (experiments/study/levers.py, .../outcomes.py) from which
every table, label and report section follows: shown by making that change in a copy of the
project."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import networkx as nx
import pytest

import sim
from experiments.jobs import identity
from experiments.study.levers import LEVERS
from experiments.study.outcomes import OUTCOMES
from tests.conftest import ROOT

PACKAGES = ("sim", "experiments", "hydra_plugins")
#: The commands users type (experiments/*.py with a main): the libraries never import them.
COMMANDS = {"experiments." + name for name in ("run", "aggregate", "rerun", "calibrate",
            "calibration_coverage", "sensitivity", "scale_gains", "explore",
            "fetch_assets")}  # fmt: skip
#: The stages of experiments/ in pipeline order: a stage imports only those before it (and sim);
#: screening and calibration stand beside each other; the commands may import any stage.
STAGES = {"experiments": 0, "experiments.study": 1, "experiments.jobs": 2,
          "experiments.analysis": 3, "experiments.present": 4, "experiments.screening": 5,
          "experiments.calibration": 5, "experiments.explorer": 6}  # fmt: skip
#: What each package may import of the others: the model knows nothing of studies or launchers.
MAY_IMPORT = {"sim": {"sim"}, "experiments": {"sim", "experiments"},
              "hydra_plugins": {"sim", "experiments", "hydra_plugins"}}  # fmt: skip


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages, subfolders included: dotted name -> file."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = project_modules()


def _named(name: str) -> str | None:
    """The project module an imported name is, or is in (a.b.c -> a.b if c is not a module)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def module_imports(path: Path) -> tuple[set[str], list[int]]:
    """Project modules a file imports at module level or by name at run time
    (`importlib.import_module("...")`, `__import__("...")` with a written name), and the lines
    of import statements inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, nested = set(), []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        if isinstance(node, ast.Import | ast.ImportFrom) and node.col_offset > 0:
            nested.append(node.lineno)
        found |= {m for n in names if (m := _named(n)) is not None}
    return found, nested


def import_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    for name, path in MODULES.items():
        graph.add_node(name)
        for other in module_imports(path)[0]:
            if other != name and not name.startswith(f"{other}."):  # a package's own modules
                graph.add_edge(name, other)
    return graph


def test_the_test_sees_subfolders_and_imports_by_name(tmp_path):
    assert "hydra_plugins.exchange_launchers.slurm" in MODULES  # a module in a subfolder
    path = tmp_path / "probe.py"
    path.write_text(
        "import importlib\n"
        "def later():\n"
        "    return importlib.import_module('experiments.study'), __import__('sim.config')\n"
    )
    assert module_imports(path)[0] == {"experiments.study", "sim.config"}


def test_no_import_cycles_between_project_modules():
    assert list(nx.simple_cycles(import_graph())) == []


def test_no_upward_import_the_model_knows_nothing_of_studies_and_no_library_imports_a_command():
    upward = [
        (a, b)
        for a, b in import_graph().edges
        if b.split(".")[0] not in MAY_IMPORT[a.split(".")[0]]
        or (b in COMMANDS and a not in COMMANDS)
    ]
    assert upward == []


def package_of(module: str) -> str:
    """experiments.<package> of a module of experiments/ (itself for a top-level one)."""
    return ".".join(module.split(".")[:2])


def stage(module: str) -> int | None:
    """The stage of a module of experiments/ (its package), None for a command."""
    return None if module in COMMANDS else STAGES[package_of(module)]


def test_every_module_of_experiments_is_a_command_or_in_a_stage():
    outside = [
        m for m in MODULES
        if m.startswith("experiments.") and m not in COMMANDS and package_of(m) not in STAGES
    ]  # fmt: skip
    assert outside == [], "a library module outside the stages' packages"


def test_no_stage_imports_a_later_one():
    """study -> jobs -> analysis -> present -> screening, calibration -> explorer: e.g. the
    results store (jobs) never imports the tables (analysis), nor the analysis the words."""
    later = [
        (a, b)
        for a, b in import_graph().edges
        if a.startswith("experiments") and b.startswith("experiments")
        and stage(a) is not None and stage(b) is not None and stage(b) > stage(a)
    ]  # fmt: skip
    assert later == []


def test_the_tests_mirror_the_packages():
    """tests/<stage>/ for each stage of experiments/, tests/model/ for sim, tests/commands/."""
    folders = {p.name for p in (ROOT / "tests").iterdir() if (p / "__init__.py").exists()}
    stages = {s.rpartition(".")[2] for s in STAGES if s != "experiments"}
    assert folders - {"golden"} == stages | {"model", "commands"}


def test_no_module_is_named_like_a_command_or_an_installed_package():
    installed = set(sys.stdlib_module_names) | set(metadata.packages_distributions())
    commands = {c.rpartition(".")[2] for c in COMMANDS}
    clash = [
        m for m in MODULES
        if m not in COMMANDS and (m.rpartition(".")[2] in installed | commands)
        and m.count(".") > 0 and not m.endswith("__init__")
    ]  # fmt: skip
    assert clash == []


#: Imports inside functions, each with its reason.
NESTED = {
    # Hydra imports every plugin module at each start to discover launchers: the project (numba,
    # mesa) is imported only when this launcher submits
    "hydra_plugins/exchange_launchers/slurm.py": [14],
}


def test_no_imports_inside_functions():
    nested = {
        str(path.relative_to(ROOT)): lines
        for path in MODULES.values()
        if (lines := module_imports(path)[1])
    }
    assert nested == NESTED


def test_a_jobs_key_covers_all_the_code_its_results_depend_on():
    """Every project module a job's computation imports (the study and all it imports, the
    model aside) is in the code digest of every job's key: no stale result can be served."""
    graph = import_graph()
    study = {m for m in MODULES if m.startswith("experiments.study")}
    needed = {"experiments.jobs.job", *study}
    for m in list(needed):
        needed |= nx.descendants(graph, m)
    needed |= {".".join(m.split(".")[:i]) for m in needed for i in range(1, m.count(".") + 1)}
    covered = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in identity.JOB_CODE
    }
    outside_model = {m for m in needed if m.startswith("experiments")}
    assert outside_model == covered


def test_every_lever_is_a_program_setting():
    fields = {f.name for f in dataclasses.fields(sim.ProgramConfig)}
    assert set(LEVERS) <= fields


@pytest.mark.parametrize("name", list(OUTCOMES))
def test_every_outcome_has_words_and_a_known_summary(name):
    outcome = OUTCOMES[name]
    assert outcome.words and outcome.summary in ("mean", "median", "share", "none")


#: A new lever and a new outcome, as a developer would write them in experiments/study/levers.py
#: and experiments/study/outcomes.py.
NEW_LEVER = """    "min_tenure": Lever(
        "minimum service before going (months)",
        "after {} months of service",
        kind="integer",
        low=0,
        high=120,
        step=6,
    ),
"""
NEW_OUTCOME = """    "abroad_at_end": Outcome(
        "staff in Tokyo in the final month (people)",
        lambda m, t: int(m.staff_abroad.iloc[-1]),
        count=True,
    ),
"""
#: In the changed copy: a two-design sweep over the new lever, its tables and report, and the
#: regression test (the golden tables must still hold).
PROBE = """
import json, subprocess, sys
from pathlib import Path
import experiments.study, pandas as pd
assert Path(experiments.study.__file__).resolve().is_relative_to(Path.cwd().resolve())
sweep = Path("sweep")
run = subprocess.run([sys.executable, "experiments/run.py", "-m", "program.min_tenure=0,60",
    "program.cohort_size=400", "scenario=small", "replicates=2", "horizon=12", "progress=false",
    "channels=false", "hydra/launcher=basic", f"hydra.sweep.dir={sweep}"],
    capture_output=True, text=True)
assert run.returncode == 0, run.stderr[-3000:]
designs = pd.read_parquet(sweep / "aggregate" / "designs.parquet")
report = (sweep / "aggregate" / "report.html").read_text()
print(json.dumps({
    "levers": sorted(set(designs.columns) & {"min_tenure"}),
    "labels": [w in report for w in ("after 0 months of service", "after 60 months of service")],
    "outcome": "abroad_at_end_mean" in designs.columns,
    "in_report": "staff in Tokyo in the final month" in report,
    "regression": subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "tests/analysis/test_regression.py"], capture_output=True, text=True).returncode,
}))
"""


def test_adding_a_lever_and_an_outcome_is_a_change_to_one_file(tmp_path):
    """The real change, in a copy of the project: one entry written into study/levers.py and one
    into study/outcomes.py, nothing else touched. The sweep's tables, labels and report carry
    them, and the regression tables still hold (they compare results, not columns)."""
    copy = tmp_path / "project"  # the model (sim) is the installed one: its kernels compiled
    for part in ("experiments", "configs", "hydra_plugins", "tests"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    study = copy / "experiments" / "study"
    for name, table, entry in (
        ("levers.py", "\nLEVERS = {\n", NEW_LEVER),
        ("outcomes.py", "\nOUTCOMES = {\n", NEW_OUTCOME),
    ):
        text = (study / name).read_text(encoding="utf-8")
        assert text.count(table) == 1
        (study / name).write_text(text.replace(table, table + entry), encoding="utf-8")
    changed = [
        str(p.relative_to(copy))
        for p in copy.rglob("*.py")
        if "__pycache__" not in p.parts
        and p.read_bytes() != (ROOT / p.relative_to(copy)).read_bytes()
    ]
    assert sorted(changed) == ["experiments/study/levers.py", "experiments/study/outcomes.py"]
    env = {**os.environ, "PYTHONPATH": str(copy), "NUMBA_NUM_THREADS": "1"}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=copy, env=env, capture_output=True, text=True
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert seen == {
        "levers": ["min_tenure"],
        "labels": [True, True],
        "outcome": True,
        "in_report": True,
        "regression": 0,
    }
