"""The plan of a sweep: each job's settings as Hydra composes them, thousands of jobs with a
handful of compositions (issue 22.4: a sweep of thousands of jobs plans in seconds)."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import experiments.jobs.plan as plan_module
from experiments import CONFIGS
from experiments.jobs.plan import Composer
from experiments.study.settings import register, to_model_config

#: Jobs as a user types them: group choices, settings of each type, optional ones set to null,
#: lists, budget settings, hydra settings, and overrides Hydra handles otherwise (+, ~, dicts).
JOBS = [
    [],
    ["program.cohort_size=7", "program.months_between_cohorts=3"],
    ["scenario=laptop", "program.cohort_size=40", "program.selection=central"],
    ["program=leaders_first", "behavior=threshold", "program.duration=3"],
    ["network=well_mixed", "replicates=4", "seed=9", "target_gain=0.01"],
    ["program.end=null", "posterior=null", "budget.share=0.5"],
    ["program.end=24", "program.placement=null", "program.min_tenure=0"],
    ["program.target_departments=[bappeda,dukcapil]", "program.selection=spread"],
    ["scenario.practices=[one_stop_service]", "hydra.sweep.dir=/tmp/x", "experiment=duration"],
    ["program={cohort_size: 3, duration: 2}"],
    ["~budget.share", "report=false"],
    ["scenario=small", "program=every_department", "program.cohort_size=1", "channels=false"],
]


@pytest.fixture
def hydra():
    register()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        yield


def composed(job: list[str]):
    """What Hydra makes of `job` (its settings), or the exception it raises."""
    try:
        return OmegaConf.to_object(compose("config", overrides=job))
    except Exception as err:  # noqa: BLE001 (some jobs are refused: the composer must agree)
        return err


def test_every_job_has_the_settings_hydra_composes_in_any_order(hydra):
    expected = [composed(job) for job in JOBS]
    for order in (JOBS, JOBS[::-1]):  # what one job composed must not leak into another
        composer = Composer()
        for job in order:
            want = expected[JOBS.index(job)]
            if isinstance(want, Exception):
                with pytest.raises(type(want)):
                    composer(job)
                continue
            made = composer(job)
            assert made == want, job
            assert to_model_config(made) == to_model_config(want), job
            assert OmegaConf.to_object(composer.config(job)) == want, job
    assert sum(isinstance(e, Exception) for e in expected) < len(JOBS) // 2


def test_a_bad_value_is_refused_as_hydra_refuses_it(hydra):
    with pytest.raises(Exception, match="cohort_size") as hydra_error:
        compose("config", overrides=["program.cohort_size=many"])
    with pytest.raises(type(hydra_error.value), match="cohort_size"):
        Composer()(["program.cohort_size=many"])


def test_thousands_of_jobs_are_planned_with_a_handful_of_compositions(monkeypatch, tmp_path):
    composed = []
    real = plan_module.compose
    monkeypatch.setattr(
        plan_module, "compose", lambda *a, **k: composed.append(k.get("overrides")) or real(*a, **k)
    )
    plan = plan_module.plan_command([
        "-m", "program.cohort_size=range(1,41)", "program.months_between_cohorts=range(1,26)",
        "scenario=laptop", f"hydra.sweep.dir={tmp_path / 'sweep'}",
    ])  # fmt: skip
    assert len(plan.jobs) == 1000
    assert len({job.key for job in plan.jobs}) == 1000
    assert len(composed) <= 3  # the primary, the group choice (and one more at most)
    first, last = plan.jobs[0], plan.jobs[-1]
    assert "program.cohort_size=1" in first.overrides
    assert "program.cohort_size=40" in last.overrides
    assert "program.months_between_cohorts=25" in last.overrides
