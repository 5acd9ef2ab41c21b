"""Each mechanism on a hand-checkable case, on both engines."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim import ExchangeModel, NetworkConfig, ProgramConfig
from sim.organisation import DOMAINS, HEAD, STAFF
from tests.conftest import practice, quiet_behavior, tiny_config

ENGINES = ["vectorised", "reference"]


def pair(tmp_path, engine, tacitness=0.0, **behavior):
    """A department of two: its head (post 0) and one staff member (post 1), tied."""
    cfg = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": 2}],
        [practice("a", tacitness=tacitness)],
        behavior=quiet_behavior(**behavior),
        engine=engine,
    )
    model = ExchangeModel(cfg, seed=1)
    assert list(model.organisation.rank) == [HEAD, STAFF]
    return model


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("contacts", [1, 3])
def test_gap_each_contact_closes_its_share_of_what_is_left(tmp_path, engine, contacts):
    """The staff member meets their head `contacts` times: each conversation closes 0.5 x 0.5 x
    1 x 0.6 = 0.15 of what is left of the gap, so more contacts mean more exposure."""
    m = pair(tmp_path, engine, contacts_per_month=contacts)
    m.state.proficiency[:, 0] = [1.0, 0.0]
    m.step()
    assert m.state.proficiency[1, 0] == pytest.approx(1 - 0.85**contacts, abs=1e-6)
    assert m.state.proficiency[0, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("engine", ENGINES)
def test_gap_upward_damped_by_power_distance(tmp_path, engine):
    m = pair(tmp_path, engine, power_distance=0.4, contacts_per_month=1)
    m.state.proficiency[:, 0] = [0.0, 1.0]
    m.step()
    assert m.state.proficiency[0, 0] == pytest.approx(0.15 * 0.6, abs=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
def test_gap_slowed_by_tacitness(tmp_path, engine):
    m = pair(tmp_path, engine, tacitness=0.5, contacts_per_month=1)
    m.state.proficiency[:, 0] = [0.8, 0.2]
    m.step()
    assert m.state.proficiency[1, 0] == pytest.approx(0.2 + 0.15 * 0.5 * 0.6, abs=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
def test_contagion_copies_a_proficient_sender_only(tmp_path, engine):
    m = pair(tmp_path, engine, mechanism="contagion", contagion_prob=1.0, willingness_mean=1.0)
    m.state.proficiency[:, 0] = [0.8, 0.1]
    m.step()
    assert m.state.proficiency[1, 0] == pytest.approx(0.8)
    m2 = pair(tmp_path, engine, mechanism="contagion", contagion_prob=1.0, willingness_mean=1.0)
    m2.state.proficiency[:, 0] = [0.45, 0.1]  # below the 0.5 proficiency threshold
    m2.step()
    assert m2.state.proficiency[1, 0] == pytest.approx(0.1)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("threshold", "expected"), [(0.5, {1, 5}), (0.6, set())])
def test_threshold_needs_enough_proficient_ties(tmp_path, engine, threshold, expected):
    cfg = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": 6}],
        [practice("a")],
        network=NetworkConfig(team_neighbours=2, rewiring=0.0, supervisor_ties=False),
        behavior=quiet_behavior(
            mechanism="threshold", threshold_share=threshold, contagion_prob=1.0, power_distance=0
        ),
        engine=engine,
    )
    m = ExchangeModel(cfg, seed=3)
    m.state.proficiency[0, 0] = 0.9  # ring 0-1-2-3-4-5-0: posts 1 and 5 see one of two ties
    m.step()
    adopted = set(np.flatnonzero(m.state.proficiency[:, 0] >= 0.5)) - {0}
    assert adopted == expected
    for i in expected:
        assert m.state.proficiency[i, 0] == pytest.approx(0.9)


def solo(tmp_path, engine, practices, program=None, **behavior):
    cfg = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": 1, "tokyo_bureau": "construction"}],
        practices,
        program=program or ProgramConfig(cohort_size=0),
        behavior=quiet_behavior(**behavior),
        engine=engine,
    )
    return ExchangeModel(cfg, seed=5)


@pytest.mark.parametrize("engine", ENGINES)
def test_learning_abroad_only_what_the_bureau_teaches(tmp_path, engine):
    program = ProgramConfig(cohort_size=1, months_between_cohorts=12, duration=2, min_tenure=0)
    m = solo(
        tmp_path,
        engine,
        [
            practice("a", tokyo_bureaus=["construction"], tacitness=0.5),
            practice("b", tokyo_bureaus=["fire_department"]),
        ],
        program,
        abroad_learning_rate=0.4,
    )
    rate = 0.4 * 0.5 * (1 - 0.3 * 0.5)  # abroad rate x capacity x (1 - weight x tacitness)
    m.step()
    assert m.state.abroad[0] and m.state.months_left[0] == 1
    assert m.state.proficiency[0] == pytest.approx([rate, 0.0], abs=1e-6)
    m.step()
    assert not m.state.abroad[0]
    assert m.state.proficiency[0, 0] == pytest.approx(rate + (1 - rate) * rate, abs=1e-6)
    df = m.results()
    assert list(df.staff_abroad) == [0, 1, 1]
    assert df.cost.iloc[-1] == pytest.approx(2 * 80.0)
    assert df.staff_months_abroad.iloc[-1] == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_forgetting_depends_on_use(tmp_path, engine):
    """The head of a one-person department champions `a` (proficient, a manager at home): in
    use, it fades at the in-use rate; `b` (below the threshold, no SOP) at the unused rate;
    `c`, below the threshold but standard procedure, is in use."""
    m = solo(tmp_path, engine, [practice("a"), practice("b"), practice("c")],
             forgetting_rate=0.1, forgetting_in_use=0.01)  # fmt: skip
    m.state.proficiency[0] = [0.6, 0.4, 0.4]
    m.departments.sop[0] = [False, False, True]
    m.step()
    assert m.state.proficiency[0] == pytest.approx([0.6 * 0.99, 0.4 * 0.9, 0.4 * 0.99], abs=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
def test_staff_use_what_their_supervisor_champions(tmp_path, engine):
    """The staff member (post 1) follows what their head masters, so keeps it; not what the
    head does not master."""
    m = pair(tmp_path, engine, transfer_rate=0.0, forgetting_rate=0.1, forgetting_in_use=0.0)
    m.state.proficiency[:, 0] = [0.9, 0.3]
    m.step()
    assert m.state.proficiency[1, 0] == pytest.approx(0.3, abs=1e-6)
    m2 = pair(tmp_path, engine, transfer_rate=0.0, forgetting_rate=0.1, forgetting_in_use=0.0)
    m2.state.proficiency[:, 0] = [0.45, 0.3]
    m2.step()
    assert m2.state.proficiency[1, 0] == pytest.approx(0.27, abs=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
def test_learning_on_the_job_under_a_standard_procedure(tmp_path, engine):
    """Under an SOP the staff member learns 0.1 x capacity 0.5 x (1 - 0.3 x tacitness 0.5) of
    the gap to full proficiency a month; without one, nothing."""
    m = pair(tmp_path, engine, tacitness=0.5, transfer_rate=0.0, practice_learning_rate=0.1)
    m.state.proficiency[:, 0] = [0.2, 0.2]
    m.departments.sop[0, 0] = True
    m.departments.implementation[0, 0] = 1.0  # no lapse decision matters before the step
    m.step()
    rate = 0.1 * 0.5 * (1 - 0.3 * 0.5)
    assert m.state.proficiency[1, 0] == pytest.approx(0.2 + 0.8 * rate, abs=1e-6)
    m2 = pair(tmp_path, engine, tacitness=0.5, transfer_rate=0.0, practice_learning_rate=0.1)
    m2.state.proficiency[:, 0] = [0.2, 0.2]
    m2.step()
    assert m2.state.proficiency[1, 0] == pytest.approx(0.2, abs=1e-6)


def coached(tmp_path, engine, coach, **behavior):
    """A head (post 0) and a staff member (post 1); `coach` of them has two sharing months."""
    m = pair(tmp_path, engine, transfer_rate=0.0, coaching_rate=0.5, **behavior)
    m.state.trained[coach] = True
    m.state.sharing_left[coach] = 2
    return m


@pytest.mark.parametrize("engine", ENGINES)
def test_coaching_closes_its_share_of_the_gap_in_what_the_coach_masters(tmp_path, engine):
    """The head coaches: 0.5 x capacity 0.5 x strength 1 = 0.25 of the gap a month in `a`,
    which the head masters; nothing when the head knows `a` below the threshold (0.4). Two
    sharing months, then it stops."""
    m = coached(tmp_path, engine, coach=0)
    m.state.proficiency[0] = [0.9]
    m.step()
    assert m.state.proficiency[1, 0] == pytest.approx(0.9 * 0.25, abs=1e-6)
    assert m.state.sharing_left[0] == 1
    m.step()
    after_two = 0.9 - 0.9 * (1 - 0.25) ** 2
    assert m.state.proficiency[1, 0] == pytest.approx(after_two, abs=1e-6)
    assert m.state.sharing_left[0] == 0
    m.step()
    assert m.state.proficiency[1, 0] == pytest.approx(after_two, abs=1e-6)
    m2 = coached(tmp_path, engine, coach=0)
    m2.state.proficiency[0] = [0.4]
    m2.step()
    assert m2.state.proficiency[1, 0] == 0.0


@pytest.mark.parametrize("engine", ENGINES)
def test_coaching_upward_is_damped_and_counts_as_use(tmp_path, engine):
    """A staff member coaches their head (upward: x (1 - power distance 0.4)); being coached
    is use, so the head forgets at the in-use rate (0) that month, not the unused one."""
    m = coached(tmp_path, engine, coach=1, power_distance=0.4, forgetting_rate=0.1)
    m.state.proficiency[:, 0] = [0.0, 0.9]
    m.step()
    assert m.state.proficiency[0, 0] == pytest.approx(0.9 * 0.25 * 0.6, abs=1e-6)
    assert m.state.proficiency[1, 0] == pytest.approx(0.9, abs=1e-6)  # coaching is use too


@pytest.mark.parametrize("engine", ENGINES)
def test_without_the_colleague_channel_the_trained_teach_nobody(tmp_path, engine):
    """The trained head neither coaches nor teaches in conversation; an untrained head who
    knows the same teaches in conversation (0.15 of the gap)."""
    cfg = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": 2}],
        [practice("a")],
        behavior=quiet_behavior(contacts_per_month=1, sharing_months=2),
        engine=engine,
        colleague_channel=False,
    )
    m = ExchangeModel(cfg, seed=1)
    m.state.trained[0], m.state.sharing_left[0] = True, 2
    m.state.proficiency[:, 0] = [0.9, 0.0]
    m.step()
    assert m.state.proficiency[1, 0] == 0.0
    m.state.trained[0], m.state.sharing_left[0] = False, 0
    m.step()
    assert m.state.proficiency[1, 0] == pytest.approx(0.9 * 0.15, abs=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("willingness", "months"), [(1.0, 4), (0.0, 0)])
def test_returnees_share_for_sharing_months_after_their_return(
    tmp_path, engine, willingness, months
):
    """A returnee shares with probability their willingness: surely at 1, never at 0."""
    program = ProgramConfig(cohort_size=1, months_between_cohorts=12, duration=2, min_tenure=0)
    m = solo(tmp_path, engine, [practice("a")], program, sharing_months=4,
             willingness_mean=willingness)  # fmt: skip
    m.step()
    assert m.state.trained[0] and m.state.sharing_left[0] == 0
    m.step()  # the last month in Tokyo: home at its end, with four months to share
    assert not m.state.abroad[0] and m.state.sharing_left[0] == months
    for left in (3, 2, 1, 0, 0):
        m.step()
        assert m.state.sharing_left[0] == min(left, months)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_share_of_returnees_who_share_is_their_willingness(engine, small_jakarta):
    """Of about 300 returnees with willingness 0.6 each, about 60% coach (within 4 binomial sd)."""
    cfg = dataclasses.replace(
        small_jakarta,
        program=ProgramConfig(cohort_size=15000, months_between_cohorts=100, duration=1,
                              min_tenure=0),
        behavior=dataclasses.replace(small_jakarta.behavior, willingness_sd=0.0, sharing_months=3),
        horizon=2,
        engine=engine,
    )  # fmt: skip
    m = ExchangeModel(cfg, seed=8)
    m.step()
    back = m.state.trained & ~m.state.abroad
    n = int(back.sum())
    assert 250 < n < 350  # 300 expected: the departments' real staff scaled, rounded
    assert abs((m.state.sharing_left[back] == 3).mean() - 0.6) < 4 * np.sqrt(0.24 / n)


@pytest.mark.parametrize("engine", ENGINES)
def test_expert_trainees_learn_at_the_abroad_rate_times_the_factor(tmp_path, engine):
    program = ProgramConfig(
        cohort_size=0, experts_per_visit=1, trainees_per_expert=1, expert_duration=1
    )  # fmt: skip
    cfg = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": 1, "tokyo_bureau": "construction"}],
        [practice("a", tacitness=0.5)],
        program=program,
        behavior=quiet_behavior(
            abroad_learning_rate=0.4,
            expert_learning_factor=0.5,
            sharing_months=3,
            willingness_mean=1.0,
        ),  # fmt: skip
        engine=engine,
    )
    m = ExchangeModel(cfg, seed=5)
    m.step()
    rate = 0.4 * 0.5 * 0.5 * (1 - 0.3 * 0.5)  # abroad rate x factor x capacity x tacitness
    assert m.state.proficiency[0, 0] == pytest.approx(rate, abs=1e-6)
    assert m.state.trained[0] and m.state.sharing_left[0] == 3  # trained, now to share


@pytest.mark.parametrize("engine", ENGINES)
def test_turnover_replaces_staff_with_sop_trained_hires(tmp_path, engine):
    m = solo(tmp_path, engine, [practice("a"), practice("b")], turnover_rate=1.0)
    m.state.proficiency[0] = [0.9, 0.9]
    m.state.tenure[0] = 100
    m.departments.implementation[0] = [0.6, 0.6]
    m.departments.sop[0] = [True, False]
    m.step()
    assert m.state.proficiency[0] == pytest.approx([0.5 * 0.6, 0.0])
    assert m.state.tenure[0] == 0
    assert m.results().exits.iloc[-1] == 1


def five(tmp_path, engine, **behavior):
    """head, division head, section head, two staff."""
    cfg = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": 5, "baseline_quality": 0.5}],
        [practice("a", impact=0.2, institutionalisation=0.4)],
        behavior=quiet_behavior(transfer_rate=0.0, **behavior),
        engine=engine,
    )
    m = ExchangeModel(cfg, seed=2)
    assert list(m.organisation.rank) == [3, 2, 1, 0, 0]
    return m


@pytest.mark.parametrize("engine", ENGINES)
def test_implementation_follows_champions_and_their_reports(tmp_path, engine):
    """Implementation moves 0.1 of the way toward relevance x the share of posts whose holder
    follows the practice (they or their supervisor, a manager, master it) and masters it."""
    m = five(tmp_path, engine)
    m.state.proficiency[0, 0] = 1.0  # the head: 1 of 5 carries it out
    m.step()
    assert m.departments.implementation[0, 0] == pytest.approx(0.1 * 0.2)
    m2 = five(tmp_path, engine)
    m2.state.proficiency[2:, 0] = 1.0  # a section head and the two staff who report to them
    m2.step()
    assert m2.departments.implementation[0, 0] == pytest.approx(0.1 * 0.6)
    m3 = five(tmp_path, engine)
    m3.state.proficiency[3:, 0] = 1.0  # only staff: nobody directs it, nothing is implemented
    m3.step()
    assert m3.departments.implementation[0, 0] == 0.0


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("proficient", "adopted"),
    [([1], False), ([1, 2], True), ([2, 3, 4], False), ([0, 1], True)],
)
def test_a_champion_with_authority_and_a_working_pilot_makes_an_sop(
    tmp_path, engine, proficient, adopted
):
    """A pilot works when a champion with authority (division head or head) runs a unit
    (themselves and their reports) that masters the practice at its threshold (0.4 x 1.5 = 0.6
    here, relevance 1). The division head (post 1) has one report, the section head (post 2);
    the head (post 0) has one, the division head. Division head alone: 1 of 2 < 0.6; with the
    section head: 2 of 2; head and division head: 2 of 2; a section head's section (posts 2-4)
    is no pilot, however proficient: a section head has no authority over procedures."""
    m = five(tmp_path, engine, sop_adoption_rate=1.0, institutionalisation_scale=1.5)
    m.state.proficiency[proficient, 0] = 1.0
    m.step()
    assert bool(m.departments.sop[0, 0]) is adopted


@pytest.mark.parametrize("engine", ENGINES)
def test_sop_decision_takes_its_monthly_chance_and_lapses_without_masters(tmp_path, engine):
    never = five(tmp_path, engine, sop_adoption_rate=0.0)
    never.state.proficiency[:2, 0] = 1.0
    for _ in range(6):
        never.step()
    assert not never.departments.sop[0, 0]
    m = five(tmp_path, engine, sop_adoption_rate=1.0)
    m.state.proficiency[:2, 0] = 1.0
    m.step()
    assert m.departments.sop[0, 0]
    m.state.proficiency[:, 0] = [0.0, 0.0, 0.0, 0.9, 0.9]  # only staff master it
    m.step()
    assert not m.departments.sop[0, 0]  # no manager masters it any more: the SOP lapses


@pytest.mark.parametrize("engine", ENGINES)
def test_months_to_sop_counts_from_the_first_return_of_a_master(tmp_path, engine):
    """The run statistic of §7.14: the division head masters `a` and comes home in month 1
    (noted as a return); the section head masters it from month 3 on, which makes the pilot work
    (2 of 2 against a threshold of 0.4 x 1.5) and, at an adoption rate of 1, the SOP in month 3:
    3 - 1 = 2 months."""
    m = five(tmp_path, engine, sop_adoption_rate=1.0, institutionalisation_scale=1.5)
    m.step()
    m.state.proficiency[1, 0] = 1.0
    m.state.returned[1] = 1
    m.recorder.note_returns(1, np.array([1]), m.state, m.structure)
    assert m.run_statistics()["returnees_sharing"] == 0.0  # sharing_months is 0 here
    assert np.isnan(m.run_statistics()["months_to_sop"])  # no SOP yet
    m.step()
    assert not m.departments.sop[0, 0]  # 1 of 2 in the division head's unit: no pilot
    m.state.proficiency[2, 0] = 1.0
    m.step()
    assert m.departments.sop[0, 0]
    m.step()  # an SOP kept is not counted again
    assert m.run_statistics()["months_to_sop"] == 2.0


@pytest.mark.parametrize("engine", ENGINES)
def test_without_the_sop_channel_no_department_adopts_one(tmp_path, engine):
    m = five(tmp_path, engine, sop_adoption_rate=1.0)
    m.config = dataclasses.replace(m.config, sop_channel=False)
    m.state.proficiency[:, 0] = 1.0
    for _ in range(3):
        m.step()
    assert not m.departments.sop.any()
    assert m.departments.implementation[0, 0] > 0  # implementation itself goes on


@pytest.mark.parametrize("engine", ENGINES)
def test_service_quality_from_implementation_and_absence(tmp_path, engine):
    m = five(tmp_path, engine)
    m.departments.implementation[0, 0] = 0.6
    m.state.proficiency[:3, 0] = 1.0  # head, division and section head: 3 of 5 carry it out
    m.step()
    # target = implementation = 0.6; gain = 0.2 x relevance 1 x 0.6 = 0.12 on the headroom 0.5
    assert m.departments.quality[0] == pytest.approx(0.5 + 0.5 * 0.12)
    assert m.results().service_index.iloc[-1] == pytest.approx(0.56)


def test_absence_lowers_quality(tmp_path):
    program = ProgramConfig(cohort_size=1, months_between_cohorts=12, duration=3, min_tenure=0)
    cfg = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": 4, "baseline_quality": 0.5}],
        [practice("a")],
        program=program,
        behavior=quiet_behavior(absence_penalty=0.5),
    )
    df = ExchangeModel(cfg, seed=1)
    df.step()
    # one of four abroad: 0.5 x 1/4 lost
    assert df.departments.quality[0] == pytest.approx(0.5 - 0.5 * 0.25)


def test_rotation_swaps_people_between_posts_of_the_same_rank(small_jakarta):
    small_jakarta.behavior.rotation_share = 1.0
    small_jakarta.behavior.rotation_interval = 1
    small_jakarta.program.cohort_size = 0
    m = ExchangeModel(small_jakarta, seed=4)
    before = m.state.copy()
    m.rotate()  # month 0 is a multiple of every interval
    rank = m.organisation.rank
    for r in range(4):
        assert sorted(m.state.base_capacity[rank == r]) == sorted(before.base_capacity[rank == r])
    moved = (m.state.base_capacity != before.base_capacity).mean()
    assert moved > 0.9
    # a person's proficiency row travels with them
    i = int(np.flatnonzero(m.state.base_capacity != before.base_capacity)[0])
    j = np.flatnonzero(
        (before.base_capacity == m.state.base_capacity[i]) & (before.tenure == m.state.tenure[i])
    )
    assert any(np.array_equal(before.proficiency[k], m.state.proficiency[i]) for k in j)
    assert m.totals["rotations"] > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_returnees_apply_until_forgetting_takes_them_below_the_threshold(tmp_path, engine):
    """The returnee statistics on a hand-checkable case (docs/model.md §7.14). Everyone of a
    cohort of 20 learns practice `a` fully in one month abroad (learning rate 1, capacity 1, no
    tacitness) and comes home in month 1 at proficiency 1; at home they forget 10% a month
    (in use or not) and nothing teaches them, so k months after their return they hold 0.9^k: at
    least the threshold 0.5 up to k = 6 (0.531), below it from k = 7 (0.478): all 20 have learnt
    it for lags 0-6. Everyone shares (willingness 1) from the month after their return, so they
    use it from lag 1 on; `a` is relevant only to department d's domain, so only the returnees
    posted in d apply it, at lags 1-6."""
    relevance = dict.fromkeys(DOMAINS, 0.0)
    relevance["public_services"] = 1.0
    other = next(d for d in DOMAINS if d != "public_services")
    cfg = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": 40}, {"id": "e", "headcount": 40, "domain": other}],
        [practice("a", relevance=relevance, institutionalisation=1.0)],
        program=ProgramConfig(
            cohort_size=20, months_between_cohorts=100, duration=1, min_tenure=0
        ),  # fmt: skip
        behavior=quiet_behavior(
            capacity_mean=1.0,
            abroad_learning_rate=1.0,
            forgetting_rate=0.1,
            forgetting_in_use=0.1,
            willingness_mean=1.0,
            sharing_months=14,
        ),  # fmt: skip
        horizon=14,
        engine=engine,
    )
    model = ExchangeModel(cfg, seed=3)
    for _ in range(cfg.horizon):
        model.step()
    table = model.returnee_results()
    back = model.state.returned >= 0
    in_d = int((back & (model.organisation.dept == 0)).sum())
    assert back.sum() == 20 and (model.state.returned[back] == 1).all()
    assert 0 < in_d < 20  # both departments sent someone: the relevance condition is exercised
    assert table.returnees.tolist() == [20] * 14 + [0]  # lag 14: nobody back that long
    assert table.learnt.tolist() == [20] * 7 + [0] * 8
    assert table.applying.tolist() == [0] + [in_d] * 6 + [0] * 8  # coaching from lag 1
    assert table.share.iloc[1:7].tolist() == [in_d / 20] * 6
    assert np.isnan(table.share.iloc[14])
    assert model.run_statistics()["returnees_sharing"] == 1.0
    model.release()
