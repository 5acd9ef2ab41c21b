"""Mesa's idioms on ExchangeModel: `rng=` instead of `seed=`, a DataCollector of one's own with
agent reporters on the staff, and the warning for a script that would make Mesa's spawned
batch_run workers restart for ever."""

from __future__ import annotations

import os
import subprocess
import sys

import mesa
import numpy as np
import pandas as pd
import pytest

from sim import ConfigError, ExchangeModel
from sim.spawn_guard import unguarded_parallel_calls
from tests.conftest import ONE_THREAD, ROOT

SMALL = {"scale": 0.02, "horizon": 6, "duration": 2, "min_tenure": 0, "cohort_size": 800}


def run_of(model: ExchangeModel) -> pd.DataFrame:
    while model.running:
        model.step()
    return model.results()


# --- rng= ---------------------------------------------------------------------------------------


def test_an_integer_rng_is_the_same_run_as_that_seed():
    by_rng = ExchangeModel(**SMALL, rng=5)
    assert by_rng.seed == 5
    pd.testing.assert_frame_equal(run_of(by_rng), run_of(ExchangeModel(**SMALL, seed=5)))
    # so is the SeedSequence the model itself spawns its streams from
    again = ExchangeModel(**SMALL, rng=np.random.SeedSequence(5))
    assert again.seed == 5


def test_a_generator_rng_gives_a_seed_that_repeats_the_run():
    model = ExchangeModel(**SMALL, rng=np.random.default_rng(42))
    assert model.seed == int(np.random.default_rng(42).integers(2**63))
    pd.testing.assert_frame_equal(run_of(model), run_of(ExchangeModel(**SMALL, seed=model.seed)))
    assert ExchangeModel(**SMALL, rng=[1, 2]).seed == ExchangeModel(**SMALL, rng=[1, 2]).seed


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"seed": 1, "rng": 1}, "seed = 1 and rng = 1: give one of them"),
        ({"rng": -3}, "rng = -3: must be a non-negative integer"),
        ({"rng": "abc"}, "rng = 'abc': must be a non-negative integer (the same run as seed"),
        ({"rng": 1.5}, "rng = 1.5: must be"),
    ],
)
def test_a_bad_rng_is_one_line(kw, message):
    with pytest.raises(ConfigError) as err:
        ExchangeModel(**SMALL, **kw)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_batch_run_over_rng_pairs_the_designs_on_seeds():
    rows = pd.DataFrame(
        mesa.batch_run(
            ExchangeModel,
            parameters={**SMALL, "cohort_size": [0, 800], "rng": [3, 4]},
            iterations=1,
            max_steps=SMALL["horizon"],
            display_progress=False,
        )
    )
    assert len(rows) == 4
    for rng in (3, 4):
        alone = run_of(ExchangeModel(**SMALL, seed=rng))  # cohort_size 800
        row = rows[(rows.rng == rng) & (rows.cohort_size == 800)].iloc[0]
        assert row.service_index == alone.service_index.iloc[int(row.Step)]


# --- agent reporters ----------------------------------------------------------------------------


class StaffTable(ExchangeModel):
    """The Mesa way: the model sets its DataCollector, here with agent reporters."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.datacollector = mesa.DataCollector(
            model_reporters={"service_index": lambda m: m.results().service_index.iloc[-1]},
            agent_reporters={"post": "index", "tenure": "tenure", "abroad": "abroad",
                             "proficiency": "proficiency"},
        )  # fmt: skip


def test_agent_reporters_record_every_staff_member_every_month():
    model = StaffTable(**SMALL, seed=2, record_staff_every=1)
    run_of(model)
    agents = model.datacollector.get_agent_vars_dataframe().reset_index()
    staff = model.staff_results()
    assert sorted(agents.Step.unique()) == list(range(SMALL["horizon"] + 1))
    assert len(agents) == (SMALL["horizon"] + 1) * model.n_staff
    both = agents.merge(staff, left_on=["Step", "post"], right_on=["month", "post"])
    assert len(both) == len(agents)
    assert (both.tenure_x == both.tenure_y).all() and (both.abroad_x == both.abroad_y).all()
    assert both.abroad_x.any()  # some were in Tokyo: the table is not trivially equal
    # each month keeps its own proficiencies (a copy, not a view of the live state)
    first = np.stack(both.proficiency.to_numpy())[:, 0]
    assert np.allclose(first, both["proficiency_" + model.catalogue.ids[0]], atol=0)
    model_vars = model.datacollector.get_model_vars_dataframe()
    assert model_vars.service_index.tolist() == model.results().service_index.tolist()


def test_batch_run_returns_the_agent_rows_of_a_model_with_agent_reporters():
    rows = pd.DataFrame(
        mesa.batch_run(StaffTable, parameters={**SMALL, "rng": 1}, iterations=1,
                       max_steps=SMALL["horizon"], display_progress=False)
    )  # fmt: skip
    assert len(rows) == ExchangeModel(**SMALL, rng=1).n_staff
    assert {"AgentID", "tenure", "abroad"} <= set(rows.columns)


def test_the_models_own_collector_says_how_to_get_staff_tables():
    model = ExchangeModel(**SMALL, seed=1)
    with pytest.raises(ConfigError) as err:
        model.datacollector.get_agent_vars_dataframe()
    message = str(err.value)
    assert "record_staff_every" in message and "agent_reporters" in message
    assert "tenure" in message and "\n" not in message


def test_a_datacollector_must_be_mesas():
    model = ExchangeModel(**SMALL, seed=1)
    with pytest.raises(ConfigError, match="datacollector = dict: must be a mesa.DataCollector"):
        model.datacollector = {}


# --- Mesa's spawn and the __main__ guard ----------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "lines"),
    [
        ("mesa.batch_run(M, p, number_processes=2)", [1]),
        ("from mesa import batch_run\nrows = batch_run(M, p, number_processes=None)", [2]),
        ("mesa.batch_run(M, p, 4)", [1]),
        ("n = 2\nfor x in y:\n    mesa.batch_run(M, p, number_processes=n)", [3]),
        ("mesa.batch_run(M, p)", []),  # one process: nothing spawned
        ("mesa.batch_run(M, p, number_processes=1)", []),
        ("if __name__ == '__main__':\n    mesa.batch_run(M, p, number_processes=2)", []),
        ("if '__main__' == __name__:\n    mesa.batch_run(M, p, number_processes=2)", []),
        ("def main():\n    mesa.batch_run(M, p, number_processes=2)", []),
        ("if __name__ != '__main__':\n    mesa.batch_run(M, p, number_processes=2)", [2]),
    ],
)
def test_unguarded_parallel_batch_runs_are_found(source, lines):
    assert unguarded_parallel_calls(source) == lines


SCRIPT = """\
import sys

import mesa

import sim

sys.exit(0)  # the call below is never reached; the warning comes from reading the script
{call}
"""


@pytest.mark.parametrize("guarded", [False, True])
def test_a_script_without_the_guard_is_warned_once(tmp_path, guarded):
    call = "mesa.batch_run(sim.ExchangeModel, {}, number_processes=2)"
    if guarded:
        call = f"if __name__ == '__main__':\n    {call}"
    script = tmp_path / "sweep.py"
    script.write_text(SCRIPT.format(call=call), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **ONE_THREAD}, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    warned = [line for line in proc.stderr.splitlines() if "RuntimeWarning" in line]
    if guarded:
        assert warned == []
    else:
        assert len(warned) == 1 and f"{script}:8: RuntimeWarning: mesa.batch_run" in warned[0]
        assert "put the call under that guard" in warned[0]
