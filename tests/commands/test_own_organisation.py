"""Bring your own organisation: departments, roster, ties and practices from files."""

from __future__ import annotations

import shutil
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from experiments.run import cli
from sim import DataError, ExchangeModel, ModelConfig, ProgramConfig, ScenarioConfig, run
from sim.inputs.export import export_organisation
from sim.organisation import SECTION_HEAD, department_posts
from tests.conftest import ROOT, run_script

CITY = ROOT / "examples" / "fictional_city"


def from_files(paths: dict, horizon: int = 24, program=None, **files) -> ModelConfig:
    chosen = {
        "departments_file": str(paths["departments"]),
        "practices_file": str(paths["practices"]),
        "roster_file": str(paths["roster"]),
        "ties_file": str(paths["ties"]),
        **files,
    }
    return ModelConfig(
        scenario=ScenarioConfig(name="own", scale=1.0, **chosen),
        program=program or ProgramConfig(),
        horizon=horizon,
    )


def test_exported_jakarta_reloads_with_identical_results(tmp_path):
    # the export is a city of its own with the simulated headcounts; program counts are real
    # staff, so a cohort means other simulated people in it: compare the organisation without one
    generated = ModelConfig(
        scenario=ScenarioConfig(scale=0.02), program=ProgramConfig(cohort_size=0), horizon=36
    )
    model = ExchangeModel(generated, seed=5)
    paths = export_organisation(model, tmp_path)
    model.release()
    assert len(pd.read_csv(paths["roster"])) == model.n_staff
    reloaded = from_files(paths, 36, program=ProgramConfig(cohort_size=0))
    pd.testing.assert_frame_equal(
        run(generated, 5).drop(columns=["staff", "exits", "rotations"]),
        run(reloaded, 5).drop(columns=["staff", "exits", "rotations"]),
    )


def test_graphml_ties_equal_the_edge_list(tmp_path):
    ties = pd.read_csv(CITY / "ties.csv")
    graph = nx.Graph()
    graph.add_weighted_edges_from(ties.itertuples(index=False, name=None))
    nx.write_graphml(graph, tmp_path / "ties.graphml")
    paths = {k: CITY / f"{k}.csv" for k in ("departments", "practices", "roster", "ties")}
    a = run(from_files(paths), 1)
    b = run(from_files(paths, ties_file=str(tmp_path / "ties.graphml")), 1)
    pd.testing.assert_frame_equal(a, b)


def test_a_self_tie_is_refused_in_graphml_as_in_the_edge_list(tmp_path):
    """GraphML and CSV agree: a tie from someone to themselves is an error in both (GraphML's
    was dropped without a word)."""
    ties = pd.read_csv(CITY / "ties.csv")
    graph = nx.Graph()
    graph.add_weighted_edges_from(ties.itertuples(index=False, name=None))
    graph.add_edge("p000", "p000", weight=0.5)
    nx.write_graphml(graph, tmp_path / "ties.graphml")
    paths = {k: CITY / f"{k}.csv" for k in ("departments", "practices", "roster", "ties")}
    with pytest.raises(DataError, match=r"ties\.graphml: edge 'p000'-'p000': a tie from 'p000' "
                                        r"to itself"):  # fmt: skip
        ExchangeModel(from_files(paths, ties_file=str(tmp_path / "ties.graphml")), seed=0)


def test_roster_values_replace_the_draws():
    paths = {k: CITY / f"{k}.csv" for k in ("departments", "practices", "roster", "ties")}
    model = ExchangeModel(from_files(paths), seed=0)
    roster = pd.read_csv(CITY / "roster.csv")
    assert model.n_staff == len(roster) == 240
    assert np.allclose(model.state.tenure, roster.tenure)
    assert np.allclose(model.state.base_capacity, roster.capacity, atol=1e-6)
    assert np.allclose(
        model.state.proficiency[:, 0], roster.proficiency_flood_management, atol=1e-6
    )
    assert model.ties.indices.size == 2 * len(pd.read_csv(CITY / "ties.csv"))
    model.release()


def test_fictional_city_through_the_entry_point(tmp_path):
    run_script(
        "run.py",
        "scenario=fictional_city",
        "replicates=2",
        "horizon=24",
        "program.cohort_size=4",
        "progress=false",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,  # relative data paths are found from any working directory
    )
    ts = pd.read_parquet(tmp_path / "run" / "timeseries.parquet")
    assert (ts.staff == 240).all() and ts.cost.iloc[-1] > 0
    assert {"adoption_flood_management", "adoption_kaizen"} <= set(ts.columns)
    # the report and the job's log say whose staff these are, not Jakarta's
    report = (tmp_path / "run" / "aggregate" / "report.html").read_text(encoding="utf-8")
    assert "the organisation of departments departments.csv and roster roster.csv" in report
    assert "with departments departments.csv and roster roster.csv" in report  # the scenario
    assert "Jakarta&#x27;s provincial government" not in report
    log = (tmp_path / "run" / "run.log").read_text(encoding="utf-8")
    assert f"departments {CITY / 'departments.csv'}" in log and "done in" in log
    summary = pd.read_parquet(tmp_path / "run" / "summary.parquet")
    assert len(summary) == 2
    assert summary.draw.tolist() == [0, 1]  # the packaged behaviour, draw r for replicate r
    for r in summary.itertuples():  # each replicate's progress line, with the table's gain
        line = f"replicate {r.replicate + 1} of 2 (seed {r.seed}, posterior draw {r.draw}): gain"
        assert f"{line} {100 * r.gain:+.3f}" in log


def test_rank_split_from_the_departments_file():
    rank, _ = department_posts(30, 10, 4, share_section_heads=0.12, share_division_heads=0.04)
    assert (rank == SECTION_HEAD).sum() == 4 and (rank == 2).sum() == 1


def copy_city(tmp_path: Path) -> Path:
    folder = tmp_path.parent / f"{tmp_path.name}-city"
    shutil.copytree(CITY, folder)
    return folder


def edit_csv(path: Path, change) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    changed = change(df)  # a new frame, or None when the frame was edited in place
    (df if changed is None else changed).to_csv(path, index=False)


CASES = [
    ("roster", lambda d: d.drop(columns=["tenure"]), ":1: missing column(s) tenure"),
    ("roster", lambda d: d.insert(1, "salary", "1"), ":1: unknown column(s) salary"),
    ("roster", lambda d: d.loc.__setitem__((3, "department"), "mars"), ":5: column department"),
    ("roster", lambda d: d.loc.__setitem__((4, "id"), "p000"), ":6: column id (col 1): duplicate"),
    ("roster", lambda d: d.loc.__setitem__((2, "rank"), "king"), ":4: column rank (col 3): 'king'"),
    ("roster", lambda d: d.loc.__setitem__((2, "tenure"), "-4"), "column tenure (col 4): -4 must"),
    ("roster", lambda d: d.loc.__setitem__((1, "capacity"), "1.7"), "column capacity (col 6)"),
    ("roster", lambda d: d.loc.__setitem__((6, "supervisor"), "p999"), "unknown staff id 'p999'"),
    ("roster", lambda d: d.drop(index=[10]), "has headcount 40 in the departments"),
    ("ties", lambda d: d.loc.__setitem__((0, "target"), "p999"), ":2: column target (col 2)"),
    ("ties", lambda d: d.loc.__setitem__((0, "target"), "p000"), ":2: a tie from 'p000' to itself"),
    ("ties", lambda d: d.loc.__setitem__((1, "weight"), "3"), ":3: column weight (col 3): 3.0"),
    ("ties", lambda d: d.drop(columns=["source"]), ":1: missing column(s) source"),
    ("departments", lambda d: d.insert(2, "budget", "9"), ":1: unknown column(s) budget"),
    ("departments", lambda d: d.loc.__setitem__((0, "share_section_heads"), "0.9"), "0.9 must be"),
    ("practices", lambda d: d.loc.__setitem__((1, "impact"), "big"), ":3: practice 'disaster_dril"),
]


@pytest.mark.parametrize(("file", "change", "message"), CASES)
def test_bad_organisation_files(tmp_path, monkeypatch, capsys, file, change, message):
    city = copy_city(tmp_path)
    edit_csv(city / f"{file}.csv", change)
    monkeypatch.chdir(tmp_path)
    args = [
        f"scenario.{k}_file={city / k}.csv" for k in ("departments", "practices", "roster", "ties")
    ]
    code = cli(["scenario=fictional_city", *args, f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert message in err and str(city) in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scenario.roster_file=null"], "scenario.ties_file = "),
        (["scenario.scale=0.5"], "scenario.scale = 0.5: a roster is simulated as it is"),
    ],
)
def test_roster_settings(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    code = cli(["scenario=fictional_city", *args, f"hydra.run.dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and list(tmp_path.iterdir()) == []


def test_empty_roster(tmp_path, monkeypatch, capsys):
    city = copy_city(tmp_path)
    (city / "roster.csv").write_text("")
    monkeypatch.chdir(tmp_path)
    code = cli(["scenario=fictional_city", f"scenario.roster_file={city / 'roster.csv'}",
                f"hydra.run.dir={tmp_path / 'run'}"])  # fmt: skip
    assert code == 2 and "roster.csv: empty file" in capsys.readouterr().err
