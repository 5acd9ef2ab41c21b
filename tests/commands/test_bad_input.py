"""Every bad input stops with one line naming the setting (or file, line and column), the bad
value and what is allowed, exits non-zero, and leaves no output folder or file behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from experiments.run import cli
from tests.conftest import practice, run_script, write_departments, write_practices

CASES = [
    # (command-line arguments, expected part of the message)
    (["program.cohort_size=-1"], "program.cohort_size = -1: must be an integer in [0, 10^7]"),
    (
        ["program.months_between_cohorts=0"],
        "program.months_between_cohorts = 0: must be an integer in [1, 1200]",
    ),
    (["program.duration=0"], "program.duration = 0: must be an integer in [1, 1200]"),
    (["horizon=0"], "horizon = 0: must be an integer in [1, 1200]"),
    (["program.duration=120"], "program.duration = 120: must be shorter than horizon = 120"),
    (["program.start=0"], "program.start = 0: must be an integer in [1, 1200]"),
    (["program.end=0"], "program.end = 0: must be an integer in [1, 1200]"),
    (
        ["behavior.forgetting_rate=1.5"],
        "behavior.forgetting_rate = 1.5: must be a number in [0, 1]",
    ),
    (["behavior.turnover_rate=-0.1"], "behavior.turnover_rate = -0.1: must be a number in [0, 1]"),
    (["network.rewiring=2"], "network.rewiring = 2.0: must be a number in [0, 1]"),
    (["scenario.scale=0"], "scenario.scale = 0.0: must be a number in (0, 1]"),
    (["program.selection=lottery"], "program.selection = 'lottery': unknown name; allowed: random"),
    (["behavior.mechanism=osmosis"], "behavior.mechanism = 'osmosis': unknown name; allowed: gap"),
    (["network.kind=ring"], "network.kind = 'ring': unknown name; allowed: organisation"),
    (["engine=gpu"], "engine = 'gpu': unknown name; allowed: vectorised, reference"),
    (
        ["program.selection=targeted", "program.target_departments=[atlantis]"],
        "program.target_departments: unknown department 'atlantis'; allowed: education",
    ),
    (
        ["program.selection=targeted"],
        "program.target_departments = []: the 'targeted' policy needs at least one department",
    ),
    (
        ["program.expert_departments=[mars]"],
        "program.expert_departments: unknown department 'mars'",
    ),
    (["scenario.practices=[teleportation]"], "scenario.practices: unknown practice 'teleport"),
    (["program.placement=osaka"], "program.placement = 'osaka': unknown Tokyo bureau; allowed:"),
    (["program.cohort_size=100000"], "program.cohort_size = 100000: larger than the"),
    (
        [
            "scenario=small",
            "program.selection=targeted",
            "program.target_departments=[bpbd]",
            "program.cohort_size=300",
        ],
        # cohorts are real staff at any scale: the agency has 250, simulated at 1% or not
        "program.cohort_size = 300: larger than the 250 staff of the target departments (bpbd)",
    ),
    (["program.frequency=6"], "renamed to program.months_between_cohorts"),
    (["network.team_neighbours=3"], "network.team_neighbours = 3: must be even"),
    (["behavior.capacity_sd=0.6"], "behavior.capacity_sd = 0.6: must be below sqrt(mean*(1-mean))"),
    (["behavior.leader_weights=[1,2]"], "removed: implementation now follows champions"),
    (["behavior.use_protection=0.5"], "removed: forgetting now depends on use"),
    (["replicates=0"], "replicates = 0: must be an integer in [1, 10^4]"),
    (["seed=-5"], "seed = -5: must be an integer in [0, 4294967295]"),
    (["target_gain=2"], "target_gain = 2.0: must be a number in [0, 1]"),
    (["program.cohort_sise=5"], "program.cohort_sise"),
    # a typo gets the closest name, then every allowed one; nothing close: no guess
    (["program.cohort_sise=5"], "not in 'ProgramConfig' (did you mean cohort_size?); allowed: "),
    (["horizn=12"], "not in 'RunConfig' (did you mean horizon?); allowed: scenario,"),
    (["scenario=smal"], "Could not find 'scenario/smal' (did you mean small?); available: "),
    (["program.zzz=1"], "Key 'zzz' not in 'ProgramConfig'; allowed: cohort_size"),
    (["program.cohort_size=abc"], "program.cohort_size"),
    (["scenario=atlantis"], "scenario/atlantis"),
    (["scenario.departments_file=/no/such/file.csv"], "/no/such/file.csv: cannot read"),
    # sweeps: one bad value among good ones, a key that does not exist
    (["-m", "program.cohort_size=5,-1"], "program.cohort_size = -1: must be an integer in"),
    (["-m", "program.cohort_sise=1,2"], "program.cohort_sise"),
    (["-m", "+experiment=cohort_frequency", "program.duration=0"], "program.duration = 0"),
    (
        ["-m", "program.cohort_size=10,20", "--cfg", "job"],
        "--cfg shows one job and cannot be combined with -m: leave out -m",
    ),
]


def run_cli(args: list[str], where: Path, capsys) -> tuple[int, str]:
    code = cli([*args, f"hydra.run.dir={where / 'run'}", f"hydra.sweep.dir={where / 'sweep'}"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_setting(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(args, tmp_path, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0]
    assert list(tmp_path.iterdir()) == []  # nothing written, not even an empty folder


DEPARTMENT_CASES = [
    # (rows, or raw text, expected message after the file name)
    ("", "empty file; expected a header"),
    ("id,name\nx,y\n", ":1: missing column(s) domain, headcount"),
    (
        [{"id": "a", "headcount": 5}, {"id": "a", "headcount": 6}],
        ":3: column id (col 1): duplicate",
    ),
    ([{"id": "a", "headcount": -5}], ":2: column headcount (col 5): -5 must be a whole number"),
    ([{"id": "a", "headcount": "ten"}], ":2: column headcount (col 5): 'ten' is not a whole"),
    ([{"id": "a", "headcount": 5, "related": "zz"}], "unknown department id 'zz'"),
    (
        [{"id": "a", "headcount": 5, "weight": 0}],
        ":2: column weight (col 7): 0.0 must be a positive",
    ),
]


@pytest.mark.parametrize(("rows", "message"), DEPARTMENT_CASES)
def test_bad_departments_file(tmp_path, monkeypatch, capsys, rows, message):
    data = tmp_path.parent / f"{tmp_path.name}-departments.csv"
    if isinstance(rows, str):
        data.write_text(rows)
    else:
        write_departments(data, rows)
    monkeypatch.chdir(tmp_path)
    code, err = run_cli([f"scenario.departments_file={data}"], tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1 and f"{data}" in err and message in err, err
    assert list(tmp_path.iterdir()) == []


PRACTICE_CASES = [
    ({"tacitness": 1.5}, "key tacitness: 1.5 must be a number in [0, 1]"),
    ({"relevance": {"economy": 1.0}}, "key relevance: domain public_services missing"),
    ({"relevance_departments": {"nowhere": 0.5}}, "unknown department id 'nowhere'"),
    ({"tokyo_bureaus": []}, "key tokyo_bureaus: [] must be a non-empty list"),
    ({"colour": "blue"}, "key colour: unknown key"),
]


@pytest.mark.parametrize(("change", "message"), PRACTICE_CASES)
def test_bad_practices_file(tmp_path, monkeypatch, capsys, change, message):
    data = tmp_path.parent / f"{tmp_path.name}-practices.yaml"
    entry = practice("a")
    entry.update(change)
    write_practices(data, [practice("ok"), entry])
    monkeypatch.chdir(tmp_path)
    code, err = run_cli([f"scenario.practices_file={data}"], tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert f"{data}:" in err and "practice 'a'" in err and message in err
    assert list(tmp_path.iterdir()) == []


def test_duplicate_practice_and_broken_yaml(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    dup = write_practices(tmp_path.parent / f"{tmp_path.name}-dup.yaml", [practice("a")] * 2)
    code, err = run_cli([f"scenario.practices_file={dup}"], tmp_path, capsys)
    assert code == 2 and "key id: duplicate id" in err
    broken = tmp_path.parent / f"{tmp_path.name}-broken.yaml"
    broken.write_text(yaml.safe_dump({"practices": [practice("a")]}) + "  - id: [unclosed\n")
    code, err = run_cli([f"scenario.practices_file={broken}"], tmp_path, capsys)
    assert code == 2 and "not valid YAML" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [["program.cohort_size=-3"], ["-m", "program.selection=random,nobody"]],
)
def test_the_script_itself_exits_2_with_one_line(tmp_path, args):
    proc = run_script("run.py", *args, cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []
