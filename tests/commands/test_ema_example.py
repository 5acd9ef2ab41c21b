"""The EMA Workbench example (examples/ema_workbench_example.py) at 1% scale: EMA's evaluator,
replications (paired seeds), time-series outcomes, save_results and feature scoring."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sim
from experiments.study.levers import LEVERS

with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    import ema_workbench as ew

    from examples import ema_workbench_example as example

SCENARIOS, POLICIES, SEEDS = 3, 2, 2


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """The example run as a user would with --quick, and what it printed."""
    out = tmp_path_factory.mktemp("ema") / "exchange.tar.gz"
    args = ["--quick", "--scenarios", str(SCENARIOS), "--policies", str(POLICIES),
            "--seeds", str(SEEDS), "--out", str(out)]  # fmt: skip
    example.main(args)
    return ew.load_results(str(out))


def test_save_results_holds_every_experiment_and_outcome(saved):
    experiments, outcomes = saved
    assert len(experiments) == SCENARIOS * POLICIES
    assert experiments.policy.nunique() == POLICIES and experiments.scenario.nunique() == SCENARIOS
    horizon = example.QUICK["horizon"]
    for name in example.SCALARS:
        assert outcomes[name].shape == (len(experiments),) and np.isfinite(outcomes[name]).all()
    for name in ("TIME", *example.SERIES):
        assert outcomes[name].shape == (len(experiments), horizon + 1)  # month 0: the start
    assert (outcomes["TIME"] == np.arange(horizon + 1)).all()
    index = outcomes["service_index"]
    assert ((index > 0) & (index < 1)).all()


def test_levers_are_sampled_within_their_declared_ranges(saved):
    experiments, _ = saved
    for name in example.POLICY_LEVERS:
        lever = LEVERS[name]
        values = experiments[name].astype(int)
        assert values.between(lever.low, lever.high).all(), name


def test_an_experiment_is_the_mean_paired_gain_over_the_seeds(saved):
    """Replications are the paired seeds 0..SEEDS-1: an experiment's gain is sim.gain's mean,
    and the time series of the gain averages to the same final-year gain."""
    experiments, outcomes = saved
    row = experiments.iloc[0]
    settings = {k: float(row[k]) for k in example.UNCERTAIN}
    levers = {k: int(row[k]) for k in example.POLICY_LEVERS}
    table = sim.gain(seeds=range(SEEDS), **example.QUICK, **levers, **settings)
    assert outcomes["gain_points"][0] == pytest.approx(100 * table.gain.mean(), abs=1e-12)
    assert outcomes["cost_billion"][0] == pytest.approx(table.cost.mean() / 1000)
    by_month = outcomes["gain_by_month"]
    assert by_month[:, -12:].mean(axis=1) == pytest.approx(outcomes["gain_points"], abs=1e-12)


def test_feature_scores_rank_every_input_for_every_outcome(saved):
    scores = example.feature_scores(saved)
    assert scores.shape == (len(example.UNCERTAIN) + len(example.POLICY_LEVERS), 3)
    assert set(scores.index) == {*example.UNCERTAIN, *example.POLICY_LEVERS}
    assert list(scores.columns) == list(example.SCALARS)
    assert scores.sum().to_numpy() == pytest.approx(1.0)
    assert scores.equals(example.feature_scores(saved)), "the same random_state, the same scores"


def test_a_horizon_too_short_for_the_levers_is_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        example.main(["--quick", "--horizon", "6"])  # the longest stay is 12 months
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2
    assert err.startswith("error: ") and "\n" not in err and "duration" in err


def test_the_same_sample_seed_gives_the_same_results(saved):
    """Latin hypercubes from the seeded generator, models from fixed seeds: a rerun is identical
    (up to the CSV round trip of save_results, which keeps every digit)."""
    experiments, outcomes = example.explore(
        SCENARIOS, POLICIES, **example.QUICK, seeds=tuple(range(SEEDS)), sample_seed=0
    )
    columns = [*example.UNCERTAIN, *example.POLICY_LEVERS]
    for column in columns:
        assert experiments[column].astype(float).tolist() == saved[0][column].astype(float).tolist()
    for name in (*example.SCALARS, *example.SERIES):
        assert np.array_equal(outcomes[name], saved[1][name]), name
