"""Calibration (experiments/calibrate.py) and designs under a posterior (run.py posterior=...):
the targets format and its bad inputs, recovery of a known truth, and posterior draws paired
across designs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import calibrate as cli
from experiments.analysis.tables import replicate_ranking
from experiments.calibration.results import write_results
from experiments.calibration.sampling import Simulator, calibrate, predictive_check
from experiments.calibration.targets import (
    LEARNT,
    RETURNEES,
    Z90,
    Prior,
    Target,
    check_targets,
    load_targets,
    make_priors,
    measure,
)
from experiments.jobs import identity
from experiments.jobs.job import replicate
from experiments.jobs.plan import model_config, plan_command
from experiments.study.posterior import with_behaviour
from sim import BehaviorConfig, ProgramConfig, UserError, run_detailed
from sim.settings import plausible_ranges
from tests.conftest import ONE_THREAD, ROOT, practice, quiet_behavior, run_script, tiny_config

PACKAGED = cli.TARGETS

# --- the targets file ---------------------------------------------------------------------------


def test_packaged_evidence_holds_independent_patterns_each_with_its_source():
    targets = load_targets(PACKAGED)
    by_statistic = {}
    for t in targets:
        by_statistic.setdefault(t.statistic, []).append(t)
        assert t.sd > 0 and len(t.source) > 40, t.name  # a source, not a label
    # learning abroad and applying at home are separate statistics
    assert set(by_statistic) == {
        "returnees_learnt",
        RETURNEES,
        "returnees_sharing",
        "unused_half_life",
        "months_to_sop",
    }
    # the training-transfer decay (Saks & Belcourt 2006) is kept, lag by lag
    assert [(t.lag, t.observed) for t in by_statistic[RETURNEES]] == [
        (1, 0.62), (6, 0.44), (12, 0.34)
    ]  # fmt: skip
    assert all("Saks & Belcourt (2006)" in t.source for t in by_statistic[RETURNEES])


def test_an_interval_is_read_as_a_90_percent_normal_interval(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "targets:\n  - name: x\n    statistic: service_index\n    month: 12\n"
        "    observed: 0.4\n    interval: [0.3, 0.5]\n    source: a test\n"
    )
    (target,) = load_targets(path)
    assert target.sd == pytest.approx(0.2 / (2 * Z90))
    assert target.line == 2


GOOD = """\
targets:
  - name: a
    statistic: returnees_applying
    lag: 6
    observed: 0.44
    sd: 0.08
    source: a survey
"""


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("sd: 0.08", "sd: 0", ":2: target 'a': sd = 0: must be a positive number"),
        ("sd: 0.08", "sd: -1", ":2: target 'a': sd = -1: must be a positive number"),
        ("observed: 0.44", "observed: .nan", "observed = nan: must be a finite number"),
        ("observed: 0.44", "observed: high", "observed = 'high': must be a finite number"),
        ("lag: 6", "lag: -1", "lag = -1: must be a whole number of months >= 0"),
        ("lag: 6", "lag: 1.5", "lag = 1.5: must be a whole number of months >= 0"),
        ("    lag: 6\n", "", "lag = None: must be a whole number of months >= 0"),
        ("lag: 6", "month: 6", "returnees_applying is measured by lag"),
        ("    source: a survey\n", "", ":2: target 'a': missing source"),
        ("source: a survey", "source: ' '", "source = ' ': must say where the value comes from"),
        ("sd: 0.08", "sd: 0.08\n    interval: [0.3, 0.5]", "as sd or as interval, one of them"),
        ("sd: 0.08", "interval: [0.5, 0.3]", "interval = [0.5, 0.3]: low must be below high"),
        ("sd: 0.08", "interval: 0.3", "interval = 0.3: must be [low, high]"),
        ("sd: 0.08", "sd: 0.08\n    weight: 2", "unknown key 'weight'; allowed: name,"),
        ("  - name: a\n", "  - statistic: x\n", ":2: target without a name"),
        ("statistic: returnees_applying", "statistic: [1]", "must be a statistic's name"),
        (
            "observed: 0.44",
            "observed: 1.2",
            "observed = 1.2: returnees_applying is a share from 0 to 1",
        ),
        (
            "sd: 0.08",
            "interval: [0.3, 1.5]",
            "interval = 1.5: returnees_applying is a share from 0 to 1",
        ),
        ("observed: 0.44", "observed: -0.1", "observed = -0.1: returnees_applying is a share"),
        ("targets:\n", "target:\n", "must hold a non-empty list `targets:`"),
        ("    sd: 0.08\n", "    sd: 0.08\n   bad: [\n", "not valid YAML"),
    ],
)
def test_a_bad_target_is_one_line_naming_file_and_line(tmp_path, old, new, message):
    path = tmp_path / "targets.yaml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new, 1))
    with pytest.raises(UserError) as err:
        load_targets(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(str(path))
    assert message in text


def test_duplicate_names_and_missing_files(tmp_path):
    path = tmp_path / "targets.yaml"
    path.write_text(GOOD + GOOD.split("\n", 1)[1])
    with pytest.raises(UserError, match=r":8: target 'a': duplicate name"):
        load_targets(path)
    with pytest.raises(UserError, match="cannot read the targets file"):
        load_targets(tmp_path / "missing.yaml")


def test_a_target_the_scenario_cannot_measure_is_refused(small_jakarta):
    def target(**kw) -> Target:
        return Target(**{"name": "t", "statistic": RETURNEES, "observed": 0.5, "sd": 0.1,
                         "source": "s", "lag": 0, "line": 3, **kw})  # fmt: skip

    small_jakarta.horizon = 12
    with pytest.raises(UserError, match=r"statistic = 'quality': unknown; allowed: returnees_"):
        check_targets([target(statistic="quality", lag=None, month=6)], small_jakarta)
    with pytest.raises(UserError, match="24 months is beyond horizon = 12"):
        check_targets([target(lag=24)], small_jakarta)
    check_targets([target(statistic="service_index", lag=None, month=12)], small_jakarta)


def test_bad_priors_are_one_line():
    with pytest.raises(UserError, match="prior 'turnover': not a behaviour parameter; allowed"):
        make_priors(["turnover"], {})
    with pytest.raises(UserError, match="range 0.5:0.1: low must be below high"):
        make_priors(["forgetting_rate"], {"forgetting_rate": (0.5, 0.1)})
    with pytest.raises(UserError, match=r"range end 1.5: .*\[0, 1\]"):
        make_priors(["forgetting_rate"], {"forgetting_rate": (0.0, 1.5)})
    with pytest.raises(UserError, match="no plausible range declared; give one"):
        make_priors(["contagion_prob"], {})
    (prior,) = make_priors(["forgetting_rate"], {})
    # the range its setting declares
    assert (prior.low, prior.high) == plausible_ranges(BehaviorConfig)["forgetting_rate"]


def test_the_command_refuses_bad_input_with_exit_2_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "targets.yaml"
    bad.write_text(GOOD.replace("sd: 0.08", "sd: 0"))
    out = tmp_path / "out"
    for args, message in (
        (["--targets", str(bad)], f"error: {bad}:2: target 'a': sd = 0"),
        (["--range", "forgetting_rate=0.1"], "must be NAME=LOW:HIGH"),
        (["--population", "1"], "--population 1: must be an integer >= 2"),
        (["--proposal-scale", "0"], "--proposal-scale 0: must be a share in (0, 1]"),
        (["--proposal-scale", "1.5"], "--proposal-scale 1.5: must be a share in (0, 1]"),
        (["horizon=-3"], "horizon"),
    ):
        assert cli.main([*args, "--out", str(out)]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0]
        assert not out.exists()


# --- recovery of a known truth ------------------------------------------------------------------


def returnee_city(tmp_path: Path):
    """A department of 200 whose returnees differ in capacity: a cohort of 40 every 2 months.
    Its head is new (tenure 0, so never eligible) and everyone else is staff reporting to the
    head; nobody learns in conversation: the head never masters the practice, nobody directs
    its use, and returnees forget what they learnt at the rate that is calibrated (§7.5)."""
    roster = tmp_path / "roster.csv"
    rows = ["id,department,rank,tenure", "h,d,head,0"]
    rows += [f"s{i},d,staff,100" for i in range(199)]
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": 200}],
        [practice("a", institutionalisation=1.0, tacitness=0.3)],
        program=ProgramConfig(
            cohort_size=40,
            months_between_cohorts=2,
            duration=2,
            min_tenure=24,
            max_exchanges_per_person=1,
        ),  # fmt: skip
        behavior=quiet_behavior(capacity_sd=0.15, transfer_rate=0.0),
        horizon=20,
    )
    config.scenario.roster_file = str(roster)
    return config


def test_calibration_recovers_a_known_truth(tmp_path):
    config = returnee_city(tmp_path)
    truth = {"abroad_learning_rate": 0.7, "forgetting_rate": 0.03}
    targets = [Target(f"lag{k}", LEARNT, 0.0, 0.04, "simulated", lag=k) for k in (0, 4, 8, 12)]
    # observed: the model's statistics at the truth, averaged over 16 seeds (no noise)
    simulator = Simulator(config, targets)
    observed = pd.DataFrame([simulator.statistics(truth, s) for s in range(16)]).mean()
    targets = [Target(t.name, t.statistic, float(observed[t.name]), t.sd, t.source, lag=t.lag)
               for t in targets]  # fmt: skip
    priors = [Prior("abroad_learning_rate", 0.3, 1.0), Prior("forgetting_rate", 0.0, 0.1)]
    result = calibrate(config, targets, priors, 50, 3, seed=1, workers=1, folder=tmp_path / "c")
    summary = result.summary.set_index("parameter")
    for name, value in truth.items():
        low, high = summary.loc[name, "p05"], summary.loc[name, "p95"]
        prior = next(p for p in priors if p.name == name)
        assert low <= value <= high, (name, low, high)
        assert high - low < 0.5 * (prior.high - prior.low)  # the targets did inform it
    assert (tmp_path / "c" / "history.db").exists()
    assert result.generations.temperature.iloc[-1] == 1.0  # the exact posterior
    assert len(result.draws) == 1000 and list(result.draws.draw) == list(range(1000))
    # the predictive check and the report on the same result
    predictive = predictive_check(config, targets, result.draws, 30, seed=2)
    assert list(predictive.target) == [t.name for t in targets] and (predictive.runs == 30).all()
    width = predictive.predicted_p95 - predictive.predicted_p05
    seen = predictive.observable_p95 - predictive.observable_p05
    assert seen.mean() > width.mean()  # the targets' error widens it
    settings = {"targets": [t.__dict__ for t in targets], "targets_file": "t.yaml",
                "population": 50, "generations": 3, "seed": 1, "workers": 1,
                "scenario": "tiny", "overrides": []}  # fmt: skip
    write_results(tmp_path / "c", result, predictive, settings)
    page = (tmp_path / "c" / "report.html").read_text()
    assert page.count("<li><b>lag") == 4 and ">None<" not in page
    images = re.findall(r'src="([^"]+)"', page)
    assert len(images) == 4 and all((tmp_path / "c" / src).is_file() for src in images)
    assert f"{int(predictive.inside.sum())} of 4 targets lie inside" in page


def test_a_calibration_gives_the_same_posterior_on_one_or_two_workers(tmp_path):
    """Every job is seeded from (seed, generation, job) and pyabc keeps the first accepted jobs
    in job order: the posterior does not depend on how many processes ran the jobs."""
    config = returnee_city(tmp_path)
    config.horizon = 14
    targets = [Target("lag2", LEARNT, 0.5, 0.1, "s", lag=2)]
    priors = [Prior("forgetting_rate", 0.0, 0.1)]

    def run(folder: str, workers: int) -> pd.DataFrame:
        return calibrate(config, targets, priors, 20, 2, 7, workers, tmp_path / folder).posterior

    one = run("a", 1)
    pd.testing.assert_frame_equal(one, run("b", 1))
    pd.testing.assert_frame_equal(one, run("c", 2))
    other = calibrate(config, targets, priors, 20, 2, 8, 1, tmp_path / "d").posterior
    assert not one.equals(other)  # the seed matters


def test_measure_reads_the_returnee_table_and_the_city_table(tmp_path):
    config = returnee_city(tmp_path)
    result = run_detailed(config, 0)
    targets = [
        Target("r", RETURNEES, 0.5, 0.1, "s", lag=3),
        Target("s", "service_index", 0.5, 0.1, "s", month=10),
    ]
    got = measure(result, targets, config.behavior)
    assert got["r"] == result.returnees.share.iloc[3]
    assert got["s"] == result.months.service_index.iloc[10]


# --- designs under a posterior ------------------------------------------------------------------


def test_posterior_ranking_on_a_hand_made_table():
    # two designs, four draws: A wins draws 0, 1, 3; B wins draw 2; A's gain is negative once
    summary = pd.DataFrame(
        {
            "design_id": ["A"] * 4 + ["B"] * 4,
            "draw": [0, 1, 2, 3] * 2,
            "gain": [0.03, 0.02, 0.00, -0.01, 0.01, 0.01, 0.02, -0.02],
        }
    )
    per_design, ranks = replicate_ranking(summary)
    a, b = per_design.set_index("design_id").loc[["A", "B"]].itertuples()
    assert (a.p_best, b.p_best) == (0.75, 0.25)
    assert (a.p_gain_positive, b.p_gain_positive) == (0.5, 0.75)
    assert a.gain_p05 == pytest.approx(np.quantile([0.03, 0.02, 0.0, -0.01], 0.05))
    shares = ranks.set_index(["design_id", "rank"]).share
    assert shares[("A", 1)] == 0.75 and shares[("A", 2)] == 0.25 and shares[("B", 1)] == 0.25
    assert ranks.groupby("design_id").share.sum().tolist() == [1.0, 1.0]


DRAWS = pd.DataFrame(
    {
        "draw": [0, 1, 2],
        "forgetting_rate": [0.0, 0.03, 0.06],
        "abroad_learning_rate": [0.6, 0.3, 0.1],
    }
)


def test_posterior_draws_are_paired_across_designs_and_baselines(tmp_path):
    draws = tmp_path / "calibration" / "posterior_draws.parquet"
    draws.parent.mkdir()
    DRAWS.to_parquet(draws)
    sweep = tmp_path / "sweep"
    args = ["-m", "program.cohort_size=400,1200", "scenario=small", "replicates=3", "horizon=12",
            "progress=false", "program.min_tenure=0", "hydra/launcher=basic", "channels=false",
            f"posterior={draws.parent}", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    proc = run_script("run.py", *args)
    summary = pd.read_parquet(sweep / "aggregate" / "summary.parquet")
    # replicate r of every design used draw r, recorded with its parameters
    for _, g in summary.groupby("design_id"):
        g = g.sort_values("replicate")
        assert g.draw.tolist() == [0, 1, 2]
        assert g["behavior.forgetting_rate"].tolist() == DRAWS.forgetting_rate.tolist()
    # ... and one no-exchange run per draw, shared by both designs
    series = pd.read_parquet(sweep / "aggregate" / "timeseries.parquet")
    base = series.pivot_table(index=["replicate", "month"], columns="design_id",
                              values="baseline_index")  # fmt: skip
    assert base.nunique(axis=1).eq(1).all()
    assert len(list((sweep / ".baselines").glob("*.city.parquet"))) == 3  # one per draw
    # the draw was applied, not only recorded: replicate 1 is the paired run with draw 1
    first = summary[summary.cohort_size == 400].set_index("replicate")
    config = with_behaviour(small_config(), {"forgetting_rate": 0.03, "abroad_learning_rate": 0.3})
    pair = replicate(config, 1)
    assert pair.months.gain.iloc[-12:].mean() == pytest.approx(first.loc[1, "gain"], abs=1e-12)
    designs = pd.read_parquet(sweep / "aggregate" / "designs.parquet")
    assert designs.p_best.sum() == pytest.approx(1.0)
    assert (sweep / "aggregate" / "posterior_ranks.csv").exists()
    assert (sweep / "aggregate" / "figures" / "posterior_ranks.png").exists()
    report = (sweep / "aggregate" / "report.html").read_text()
    assert "Under calibrated uncertainty" in report and "P(best)" in report
    assert "P(best)" in proc.stdout
    # the draws are part of the job's key: other draws at the same path are computed anew
    assert run_script("run.py", *args).stdout.count("already done, skipped") == 2
    DRAWS.assign(forgetting_rate=[0.01, 0.02, 0.04]).to_parquet(draws)
    assert "already done" not in run_script("run.py", *args).stdout


def small_config():
    return model_config(["scenario=small", "horizon=12", "program.cohort_size=400",
                         "program.min_tenure=0"])  # fmt: skip


def test_the_job_key_holds_the_packaged_draws_and_none_without_a_posterior():
    """posterior=none adds nothing to a job's key (the configuration alone determines it); the
    default, the packaged draws, adds their digest: a new calibration recomputes every job."""
    from experiments.study.posterior import PACKAGED_DRAWS

    overrides = ["scenario=small", "horizon=12"]
    bare = identity.job_key(model_config(overrides), 10, 0, 0.005)
    assert plan_command([*overrides, "posterior=none"]).jobs[0].key == bare
    packaged = identity.job_key(
        model_config(overrides), 10, 0, 0.005, identity.file_digest(PACKAGED_DRAWS)
    )
    assert plan_command(overrides).jobs[0].key == packaged != bare


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (DRAWS.drop(columns="draw"), "must have a column `draw` numbering its rows 0, 1, ..."),
        (DRAWS.assign(draw=[0, 2, 1]), "must have a column `draw` numbering its rows"),
        (DRAWS.assign(turnover=1), "column 'turnover' is not a behavior parameter; allowed:"),
        (DRAWS.assign(forgetting_rate=[0.0, 1.5, 0.0]), "draw 1: forgetting_rate = 1.5:"),
        (DRAWS[["draw"]], "holds no parameter column"),
        (DRAWS.head(2), "2 draws for replicates = 3; replicate r uses draw r"),
    ],
)
def test_a_bad_posterior_file_stops_the_run_with_one_line(tmp_path, frame, message):
    path = tmp_path / "draws.parquet"
    frame.to_parquet(path)
    proc = run_script("run.py", "scenario=small", "replicates=3", f"posterior={path}",
                      f"hydra.run.dir={tmp_path / 'run'}", check=False)  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and f"posterior = '{path}'" in lines[0]
    assert not (tmp_path / "run").exists()


# --- the packaged behaviour: the posterior by default -------------------------------------------


def test_the_packaged_behaviour_draws_say_what_they_are_and_match_the_packaged_targets():
    """Calibrated parameters from the posterior of the packaged targets (their digest recorded),
    every other behaviour parameter with a plausible range drawn within it, each named."""
    from experiments.calibrate import GENERATIONS, POPULATION, TARGETS
    from experiments.calibration.sampling import CITY_RUNS, PROPOSAL_SCALE
    from experiments.calibration.targets import DEFAULT_PARAMETERS
    from experiments.study.posterior import PACKAGED_DRAWS, posterior_of

    posterior = posterior_of({"posterior": "packaged", "replicates": 100})
    assert posterior.path == PACKAGED_DRAWS.resolve() and len(posterior.draws) >= 1000
    about = posterior.description
    assert about["packaged"] and about["calibrated"] == list(DEFAULT_PARAMETERS)
    assert about["targets_digest"] == identity.file_digest(TARGETS)  # recalibrate on a change
    # ... and on a change of the default method: a smaller city proposes, the city decides
    assert (about["proposal_scale"], about["city_runs"]) == (PROPOSAL_SCALE, CITY_RUNS)
    assert (about["population"], about["generations"]) == (POPULATION, GENERATIONS)
    ranges = plausible_ranges(BehaviorConfig)
    assert sorted(about["from_ranges"]) == sorted(set(ranges) - set(DEFAULT_PARAMETERS))
    assert sorted(posterior.parameters) == sorted(ranges)
    for name in about["from_ranges"]:
        low, high = ranges[name]
        values = posterior.draws[name]
        assert values.between(low, high).all() and values.std() > 0, name
    # the calibrated ones come from the posterior: its summary is recorded beside them
    summary = {row["parameter"]: row for row in about["posterior"]}
    for name in DEFAULT_PARAMETERS:
        median = posterior.draws[name].median()
        assert summary[name]["p05"] <= median <= summary[name]["p95"], name


def test_runs_take_the_packaged_behaviour_unless_posterior_none(tmp_path):
    from experiments.study.posterior import posterior_of
    from experiments.study.settings import RunConfig

    assert RunConfig().posterior == "packaged"
    assert posterior_of({"posterior": "none"}) is None and posterior_of({"posterior": None}) is None
    args = ["scenario=small", "horizon=12", "replicates=2", "progress=false", "channels=false"]
    run_script("run.py", *args, f"hydra.run.dir={tmp_path / 'a'}")
    job = json.loads(next((tmp_path / "a").rglob("job.json")).read_text())
    assert job["posterior"]["packaged"] and job["posterior"]["calibrated"]
    run_script("run.py", *args, "posterior=none", f"hydra.run.dir={tmp_path / 'b'}")
    job = json.loads(next((tmp_path / "b").rglob("job.json")).read_text())
    assert "posterior" not in job


# --- the coverage study -------------------------------------------------------------------------


def test_coverage_summary_counts_truths_inside_with_a_clopper_pearson_interval():
    from experiments.calibration_coverage import summarise

    rows = pd.DataFrame(
        {
            "parameter": ["a"] * 4 + ["b"] * 2,
            "inside": [True, True, True, False, True, True],
            "relative_width": [0.2, 0.4, 0.2, 0.4, 0.5, 0.7],
        }
    )
    table = summarise(rows).set_index("parameter")
    assert table.loc["a", "inside"] == 3 and table.loc["a", "coverage"] == 0.75
    assert table.loc["a", "relative_width"] == pytest.approx(0.3)
    # 2 of 2: the exact 95% interval is [(0.025)^(1/2), 1]
    assert table.loc["b", "coverage_ci_low"] == pytest.approx(0.025**0.5)
    assert table.loc["b", "coverage_ci_high"] == 1.0


def test_the_coverage_study_calibrates_each_truth_and_writes_its_tables(tmp_path):
    out = tmp_path / "cov"
    proc = run_script(
        "calibration_coverage.py", "scenario=small", "--truths", "2", "--population", "8",
        "--generations", "1", "--parameters", "abroad_learning_rate", "forgetting_rate",
        "--seed", "3", "--city-runs", "10", "--out", str(out),
    )  # fmt: skip
    rows = pd.read_csv(out / "coverage.csv")
    assert sorted(rows.truth_index.unique()) == [0, 1]
    assert set(rows.parameter) == {"abroad_learning_rate", "forgetting_rate"}
    assert ((rows.p05 <= rows["median"]) & (rows["median"] <= rows.p95)).all()
    assert (rows.inside == ((rows.p05 <= rows.truth) & (rows.truth <= rows.p95))).all()
    summary = pd.read_csv(out / "coverage_summary.csv")
    assert list(summary.truths) == [2, 2]
    assert "coverage of the 90% posterior intervals over 2 truths" in proc.stdout


def test_months_and_shares_out_of_their_range_are_refused(tmp_path):
    """A share above 1 or months below 0 cannot be observed: one line naming file and line."""
    path = tmp_path / "targets.yaml"
    path.write_text(
        "targets:\n  - name: slow\n    statistic: months_to_sop\n    observed: -3\n"
        "    sd: 4\n    source: a report\n"
    )
    with pytest.raises(UserError, match=r":2: target 'slow': observed = -3: months_to_sop is a "
                                        r"number of months >= 0"):  # fmt: skip
        load_targets(path)
    path.write_text(path.read_text().replace("observed: -3", "observed: 30"))
    assert load_targets(path)[0].observed == 30


STOPS = [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")]


@pytest.mark.parametrize(("signum", "code", "how"), STOPS)
def test_a_signal_stops_a_calibration_in_one_line_leaving_nothing(tmp_path, signum, code, how):
    """Ctrl-C (to the whole process group, as a terminal sends it) or SIGTERM (to the command)
    while the simulations run: the calibration ends within seconds with one line after its
    progress, the shell's exit code, none of its processes left and no folder of it."""
    out = tmp_path / "calibration"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "experiments" / "calibrate.py"), "--workers", "2",
         "--out", str(out), "scenario=laptop", "--population", "20", "--generations", "3"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env={**os.environ, **ONE_THREAD},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (out / "history.db").exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(2.0)  # simulations under way
    assert proc.poll() is None, "the calibration ended before the signal"
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err[-2000:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"stopped ({how}): the calibration did not finish and nothing of it was kept; run the "
        "same command again to start it anew"
    )
    time.sleep(0.5)
    left = subprocess.run(["ps", "-o", "pid=", "-g", str(proc.pid)], capture_output=True,
                          text=True).stdout.split()  # fmt: skip
    assert left == [] and not out.exists()
