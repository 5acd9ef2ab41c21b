"""The calibration's sampler on cases with a known answer: targets that are functions of the
parameters folded into the prior, and multifidelity proposals corrected at temperature 1."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyabc
import pytest

from experiments.calibration.posterior import effective_size
from experiments.calibration.sampling import (
    PROPOSAL_SCALE,
    RuleLikelihood,
    RulePrior,
    _InProcess,
    calibrate,
    correct,
    proposal_city,
    proposal_share,
)
from experiments.calibration.targets import LEARNT, Prior, Target
from sim import ModelConfig, ProgramConfig, ScenarioConfig, UserError, rules
from tests.calibration.test_calibration import returnee_city

HALF_LIFE = Target("half", "unused_half_life", 11.0, 2.0, "s")


def test_a_rule_target_weighs_the_prior_by_its_normal_likelihood():
    config = ModelConfig()
    likelihood = RuleLikelihood(config, [HALF_LIFE, Target("l", LEARNT, 0.5, 0.1, "s", lag=1)])
    assert [t.name for t in likelihood.targets] == ["half"]  # simulated targets are not rules
    for rate in (0.03, 0.0611, 0.09):
        z = (rules.half_life(rate) - 11.0) / 2.0
        assert likelihood({"forgetting_rate": rate}) == pytest.approx(math.exp(-z * z / 2))
    assert RuleLikelihood(config, [])({"forgetting_rate": 0.5}) == 1.0
    prior = RulePrior(likelihood, forgetting_rate=pyabc.RV("uniform", 0.02, 0.1))
    assert prior.pdf({"forgetting_rate": 0.15}) == 0.0  # outside the uniform prior
    assert prior.pdf({"forgetting_rate": 0.05}) == pytest.approx(
        10.0 * likelihood({"forgetting_rate": 0.05})
    )
    # rejection sampling draws the tilted density: its mean against the integral
    np.random.seed(0)  # noqa: NPY002 (the prior draws as pyabc does)
    draws = [prior.copy().rvs()["forgetting_rate"] for _ in range(4000)]
    grid = np.linspace(0.02, 0.12, 2001)
    weight = np.array([likelihood({"forgetting_rate": r}) for r in grid])
    assert np.mean(draws) == pytest.approx(np.sum(grid * weight) / np.sum(weight), abs=0.002)


class Toy:
    """A normal model x = theta + e, e ~ N(0, 0.1), as `correct` runs the city: statistics of a
    parameter set and a seed, in the executor."""

    targets = [Target("x", "x", 1.0, 0.2, "s")]

    def statistics(self, parameters, seed):
        return {"x": parameters["theta"] + np.random.default_rng(seed).normal(0.0, 0.1)}


def test_proposals_from_a_biased_model_are_corrected_to_the_exact_posterior():
    """Observed x = 1 with error sd 0.2 under a flat prior: the exact posterior is N(1, sd
    sqrt(0.01 + 0.04)). The proposals are the posterior of a cheaper model biased by -0.5
    (centred on 0.5, as a smaller city's statistics differ); importance sampling on the model
    itself recovers the exact posterior."""
    rng = np.random.default_rng(0)
    proposals = pd.DataFrame({"theta": rng.normal(0.5, 0.22, 200), "weight": 1.0 / 200})
    priors = [Prior("theta", -2.0, 3.0)]
    posterior = correct(Toy(), priors, RuleLikelihood(ModelConfig(), []), proposals, 3000, 1,
                        _InProcess())  # fmt: skip
    w = posterior.weight.to_numpy()
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all() and len(posterior) == 3000
    mean = float(np.sum(w * posterior.theta))
    sd = float(np.sqrt(np.sum(w * (posterior.theta - mean) ** 2)))
    assert mean == pytest.approx(1.0, abs=0.03)
    assert sd == pytest.approx(math.sqrt(0.05), rel=0.1)
    assert proposals.theta.mean() < 0.6  # the proposals alone were far off
    assert effective_size(w) > 100  # not degenerate: many proposals carry weight
    again = correct(Toy(), priors, RuleLikelihood(ModelConfig(), []), proposals, 3000, 1,
                    _InProcess())  # fmt: skip
    pd.testing.assert_frame_equal(posterior, again)  # reproducible from the seed


def test_effective_size_of_equal_and_of_one_weight():
    assert effective_size([1.0, 1.0, 1.0, 1.0]) == pytest.approx(4.0)
    assert effective_size([0.0, 5.0, 0.0]) == pytest.approx(1.0)


def test_the_proposal_city_is_the_city_at_a_share_of_its_scale(tmp_path):
    config = ModelConfig(scenario=ScenarioConfig(scale=0.5))
    assert proposal_share(config) == PROPOSAL_SCALE
    assert proposal_city(config, 0.5).scenario.scale == 0.25
    assert proposal_city(config).scenario.scale == 0.5 * PROPOSAL_SCALE
    assert proposal_city(config, 0.5).program == config.program and config.scenario.scale == 0.5
    with pytest.raises(UserError, match=r"--proposal-scale 0: must be a share in \(0, 1\]"):
        proposal_share(config, 0.0)
    roster = returnee_city(tmp_path)
    assert proposal_share(roster) == 1.0  # a roster's city is simulated as it is
    with pytest.raises(UserError, match="a city from a roster is simulated as it is"):
        proposal_share(roster, 0.5)


def test_a_multifidelity_calibration_records_its_cities_and_is_the_same_on_two_workers(tmp_path):
    program = ProgramConfig(cohort_size=600, months_between_cohorts=2)
    config = ModelConfig(scenario=ScenarioConfig(scale=0.02), program=program, horizon=12)
    targets = [Target("lag1", LEARNT, 0.5, 0.1, "s", lag=1), HALF_LIFE]
    priors = [Prior("abroad_learning_rate", 0.1, 0.9), Prior("forgetting_rate", 0.02, 0.1)]

    def run(workers: int, folder: str):
        return calibrate(config, targets, priors, 12, 2, 1, workers, tmp_path / folder,
                         proposal_scale=0.5, city_runs=16)  # fmt: skip

    result = run(1, "a")
    table = result.generations
    assert list(table.scale) == [0.01] * (len(table) - 1) + [0.02]  # half, then the city
    assert list(table.method) == ["ABC-SMC"] * (len(table) - 1) + ["importance sampling"]
    assert table.samples.iloc[-1] == 16 and len(result.posterior) == 16
    assert table.ess.iloc[-1] == pytest.approx(effective_size(result.posterior.weight))
    pd.testing.assert_frame_equal(result.posterior, run(2, "b").posterior)
