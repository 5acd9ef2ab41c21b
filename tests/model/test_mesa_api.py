"""Mesa's conventions on ExchangeModel (flat keyword settings, seed=None, running, DataCollector,
batch_run) and the public paired gain `sim.gain` (EMA Workbench drives it: test_ema_example.py)."""

from __future__ import annotations

import dataclasses

import mesa
import pandas as pd
import pytest

import sim
from experiments.jobs.job import run_job
from experiments.jobs.plan import model_config
from sim import ConfigError, ExchangeModel, FinishedError, ModelConfig
from sim.config import MODEL_LEVEL, flat_settings

SMALL = {"scale": 0.02, "horizon": 8, "duration": 2, "min_tenure": 0}


def test_settings_by_name_are_the_nested_configuration():
    model = ExchangeModel(cohort_size=400, months_between_cohorts=3, scale=0.02, horizon=8,
                          duration=2, transfer_rate=0.3, seed=4)  # fmt: skip
    config = model.config
    assert (config.program.cohort_size, config.program.months_between_cohorts) == (400, 3)
    assert (config.scenario.scale, config.horizon, config.behavior.transfer_rate) == (0.02, 8, 0.3)
    nested = ModelConfig(
        scenario=dataclasses.replace(ModelConfig().scenario, scale=0.02),
        program=dataclasses.replace(
            ModelConfig().program, cohort_size=400, months_between_cohorts=3, duration=2
        ),  # fmt: skip
        behavior=dataclasses.replace(ModelConfig().behavior, transfer_rate=0.3),
        horizon=8,
    )
    assert sim.run(nested, 4).equals(sim.run(config, 4))
    # every setting of every section has a name of its own
    fields = sum(len(dataclasses.fields(getattr(ModelConfig(), s)))
                 for s in ("scenario", "network", "program", "behavior"))  # fmt: skip
    assert len(flat_settings()) == fields + len(MODEL_LEVEL)


def test_a_bad_setting_by_name_is_one_line():
    with pytest.raises(ConfigError, match="frequency: unknown setting; renamed to months_between"):
        ExchangeModel(frequency=6)
    with pytest.raises(ConfigError, match=r"cohort_size = -1: must be an integer in \[0, 10\^7\]"):
        ExchangeModel(cohort_size=-1, scale=0.02)


def test_seed_none_draws_a_fresh_seed_and_keeps_it():
    a, b = ExchangeModel(**SMALL), ExchangeModel(**SMALL)
    assert a.seed != b.seed
    assert ExchangeModel(**SMALL, seed=a.seed).state.capacity(0.0).tolist() == (
        a.state.capacity(0.0).tolist()
    )


def test_running_ends_at_the_horizon_and_a_finished_run_refuses_to_step():
    model = ExchangeModel(**SMALL, seed=1)
    steps = 0
    while model.running:
        model.step()
        steps += 1
    assert steps == 8 and model.month == 8
    with pytest.raises(FinishedError, match=r"reached its horizon \(8 months\)"):
        model.step()


@pytest.mark.parametrize("made_at", [0, 3, 8])
def test_the_datacollector_holds_the_city_and_department_tables(made_at):
    """Made at any month (filled from the model's recorder, then collected every month), it
    holds exactly the model's own tables."""
    model = ExchangeModel(**SMALL, cohort_size=400, seed=2)
    for _ in range(made_at):
        model.step()
    collector = model.datacollector
    while model.running:
        model.step()
    pd.testing.assert_frame_equal(collector.get_model_vars_dataframe(), model.results())
    pd.testing.assert_frame_equal(
        collector.get_table_dataframe("departments"), model.department_results()
    )


def test_mesa_batch_run_runs_two_designs_twice_with_fresh_seeds():
    rows = pd.DataFrame(
        mesa.batch_run(
            ExchangeModel,
            parameters={"cohort_size": [0, 800], **SMALL},
            iterations=2,
            max_steps=SMALL["horizon"],
            display_progress=False,
        )
    )
    assert len(rows) == 4 and sorted(rows.cohort_size) == [0, 0, 800, 800]
    # Mesa 3.3.1's batch_run reports Step = model.steps - 1 (mesa issue #2514): month 7 of 8
    assert (rows.Step == 7).all() and (rows.month == 7).all()
    sent = rows[rows.cohort_size == 800].departures
    assert (sent > 0).all() and (rows[rows.cohort_size == 0].departures == 0).all()
    # iterations use different seeds: the two no-exchange cities differ
    base = rows[rows.cohort_size == 0].mean_proficiency.to_numpy()
    assert base[0] != base[1]


def test_sim_gain_is_the_sweeps_paired_gain():
    config = model_config(["scenario=small", "horizon=14", "program.cohort_size=800",
                           "program.min_tenure=0", "program.duration=2"])  # fmt: skip
    api = sim.gain(config, seeds=[3, 4])
    sweep = run_job(config, replicates=2, seed=3, target_gain=0.005, label="x", progress=False)
    summary = sweep["summary"]
    for column in ("gain", "final_month_gain", "final_index", "baseline_final_index",
                   "staff_sent", "cost"):  # fmt: skip
        assert api[column].tolist() == summary[column].tolist(), column
    assert (api.gain != 0).all()


def test_the_api_and_the_command_line_share_their_defaults():
    assert model_config([]) == ModelConfig()
