"""The public API: run(), reproducibility, reporters, selection policies, clean-up."""

from __future__ import annotations

import dataclasses
import gc
import os
import subprocess
import sys
import weakref

import numba
import numpy as np
import pytest

from sim import (
    ConfigError,
    DataError,
    ExchangeModel,
    ModelConfig,
    ProgramConfig,
    ScenarioConfig,
    build_city,
    kernels,
    run,
)
from sim.model import STREAMS
from sim.network import cross_department_ties
from sim.organisation import DOMAINS, STAFF
from sim.program import POLICIES, POOLS, Selection, eligible, scaled_group, select_cohort
from sim.rules import stochastic_round
from tests.conftest import ROOT


def test_run_returns_one_row_per_month_with_the_documented_columns(small_jakarta):
    df = run(small_jakarta, seed=1)
    assert list(df.month) == list(range(small_jakarta.horizon + 1))
    for col in ("service_index", "staff_abroad", "cost", "mean_proficiency", "departures"):
        assert col in df
    assert {f"index_{d}" for d in DOMAINS} <= set(df.columns)
    assert len(df.filter(like="adoption_").columns) == 13
    # program counts are real staff at any scale: the cohort of 10 is 10 of Jakarta's staff
    assert df.cost.iloc[-1] > 0 and df.staff_abroad.max() == small_jakarta.program.cohort_size
    assert df.staff.iloc[0] == 60_000 and df.simulated_staff.iloc[0] < 2_000


def test_same_seed_identical_other_seed_different(small_jakarta):
    a, b, c = run(small_jakarta, 3), run(small_jakarta, 3), run(small_jakarta, 4)
    assert a.equals(b)
    assert not a.equals(c)


def test_the_model_has_one_stream_per_name_of_streams(small_jakarta):
    m = ExchangeModel(small_jakarta, seed=0)
    assert tuple(f.name for f in dataclasses.fields(m.streams)) == STREAMS
    assert m.streams["selection"] is m.streams.selection
    m.release()


def test_model_is_freed_after_release(small_jakarta):
    m = ExchangeModel(small_jakarta, seed=0)
    m.step()
    ref = weakref.ref(m)
    m.release()
    del m
    gc.collect()
    assert ref() is None


def test_agents_expose_state_rows(small_jakarta):
    m = ExchangeModel(small_jakarta, seed=0)
    agent = next(iter(m.agents))
    i = agent.index
    assert agent.department == m.organisation.department_ids[m.organisation.dept[i]]
    assert agent.proficiency is not None and agent.proficiency.shape == (m.catalogue.n,)
    m.state.proficiency[i, 0] = 0.75
    assert agent.proficiency[0] == pytest.approx(0.75)
    assert 0 <= agent.capacity <= 1 and not agent.abroad and agent.exchanges_done == 0
    m.release()


def cohort(cfg, policy, size, seed=0, **program):
    """`size` simulated staff chosen by `policy` from the eligible pool of a fresh model."""
    cfg.program.selection = policy
    cfg.program.min_tenure = 0
    for k, v in program.items():
        setattr(cfg.program, k, v)
    m = ExchangeModel(cfg, seed=seed)
    pool = np.flatnonzero(eligible(m.state, m.structure, cfg.program))
    pool = POOLS[policy](m.structure, pool) if policy in POOLS else pool
    chosen = POLICIES[policy](selection(m), pool, min(size, pool.size), m.streams.selection)
    return m, np.asarray(chosen)


def selection(m: ExchangeModel) -> Selection:
    return Selection(m.state, m.structure, m.ledger, m.config.behavior.absorptive_gain)


def test_policy_capacity_picks_the_highest_capacity(small_jakarta):
    m, chosen = cohort(small_jakarta, "capacity", 15)
    cap = m.effective_capacity()
    assert cap[chosen].min() >= np.sort(cap)[-15]


def test_policy_managers_picks_managers_highest_rank_first(small_jakarta):
    m, chosen = cohort(small_jakarta, "managers", 20)
    rank = m.organisation.rank
    assert (rank[chosen] > STAFF).all()
    n_heads = int((rank == 3).sum())
    assert (rank[chosen] == 3).sum() == min(20, n_heads)


def test_policy_central_picks_brokers(small_jakarta):
    m, chosen = cohort(small_jakarta, "central", 10)
    cross = cross_department_ties(m.ties, m.organisation.dept)
    assert cross[chosen].min() >= np.sort(cross)[-10]


def test_policy_targeted_stays_in_targets(small_jakarta):
    m, chosen = cohort(small_jakarta, "targeted", 10, target_departments=["bpbd", "fire_rescue"])
    ids = {m.organisation.department_ids[d] for d in m.organisation.dept[chosen]}
    assert ids <= {"bpbd", "fire_rescue"} and len(chosen) == 10


def test_policy_spread_takes_one_per_department_in_turn(small_jakarta):
    m, chosen = cohort(small_jakarta, "spread", 30)
    depts = m.organisation.dept[chosen]
    assert len(set(depts)) == 30  # 30 distinct departments out of 47
    _, again = cohort(small_jakarta, "spread", 5)
    # a second model starts from the first department again
    assert sorted(m.organisation.dept[again]) == list(range(5))
    pool = np.flatnonzero(eligible(m.state, m.structure, m.config.program))
    more = POLICIES["spread"](selection(m), pool, 5, m.streams.selection)  # continues at the 31st
    assert sorted(m.organisation.dept[more]) == list(range(30, 35))


def test_shortfall_when_too_few_are_eligible():
    """At full scale a cohort larger than the eligible pool sends the pool, in real staff."""
    cfg = ModelConfig(scenario=ScenarioConfig(scale=1.0), horizon=12)
    cfg.program.selection, cfg.program.target_departments = "targeted", ["bpbd"]
    m = ExchangeModel(cfg, seed=0)
    bpbd = m.organisation.department_ids.index("bpbd")
    lo, hi = m.organisation.dept_start[bpbd], m.organisation.dept_start[bpbd + 1]
    m.state.tenure[lo:hi] = 0
    m.state.tenure[lo : lo + 3] = 100  # only three of the agency's staff have served long enough
    cfg.program.cohort_size = 5
    chosen, real = select_cohort(selection(m), cfg.program, 0.5, m.streams.selection)
    assert len(chosen) == eligible(m.state, m.structure, cfg.program).sum() == 3 and real == 3
    m.release()


@pytest.mark.parametrize(
    ("real", "ratio", "available", "u", "expected"),
    [
        (10, 1.0, 100, 0.99, (10, 10)),  # full scale: the cohort itself
        (10, 0.05, 100, 0.49, (1, 10)),  # half a person: one person when u < 0.5 ...
        (10, 0.05, 100, 0.50, (0, 10)),  # ... none otherwise; it still stands for 10 real staff
        (30, 0.05, 100, 0.0, (2, 30)),  # 1.5 -> 2 when u < 0.5
        (10, 1.0, 4, 0.3, (4, 4)),  # the pool runs short at full scale: 4 go
        (100, 0.05, 3, 0.3, (3, 60)),  # 5 wanted, 3 available: they stand for 60 real staff
    ],
)
def test_scaled_group_by_hand(real, ratio, available, u, expected):
    assert scaled_group(real, ratio, available, u) == expected


def test_stochastic_rounding_is_unbiased():
    rng = np.random.default_rng(1)
    draws = [stochastic_round(2.3, u) for u in rng.random(20_000)]
    assert set(draws) == {2, 3}
    assert np.mean(draws) == pytest.approx(2.3, abs=0.01)


def test_scale_shrinks_departments_but_keeps_a_minimum():
    full = ExchangeModel(ModelConfig(scenario=ScenarioConfig(scale=1.0), horizon=12), 0)
    small = ExchangeModel(ModelConfig(scenario=ScenarioConfig(scale=0.01), horizon=12), 0)
    assert 59_000 <= full.n_staff <= 61_000
    hc = small.organisation.headcount
    assert hc.min() >= 5
    big = full.organisation.headcount
    assert hc[np.argmax(big)] == round(big.max() * 0.01)
    full.release()
    small.release()


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("program", "cohort_size", -1, "program.cohort_size = -1: must be an integer in [0, 10^7]"),
        ("program", "selection", "lottery", "program.selection = 'lottery': unknown name"),
        ("behavior", "forgetting_rate", 1.5, "behavior.forgetting_rate = 1.5: must be a number in"),
        ("behavior", "mechanism", "osmosis", "behavior.mechanism = 'osmosis': unknown name"),
        ("program", "duration", 200, "program.duration = 200: must be shorter than horizon"),
        ("scenario", "scale", 0, "scenario.scale = 0: must be a number in (0, 1]"),
    ],
)
def test_bad_settings_raise_one_line_errors(section, key, value, message):
    cfg = ModelConfig()
    setattr(getattr(cfg, section), key, value)
    with pytest.raises(ConfigError) as err:
        ExchangeModel(cfg)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_unknown_department_and_practice_names():
    cfg = ModelConfig(scenario=ScenarioConfig(scale=0.01))
    cfg.program.target_departments = ["atlantis"]
    with pytest.raises(ConfigError, match="program.target_departments: unknown department 'atl"):
        ExchangeModel(cfg)
    cfg = ModelConfig(scenario=ScenarioConfig(scale=0.01, practices=["teleportation"]))
    with pytest.raises(DataError, match="scenario.practices: unknown practice 'teleportation'"):
        ExchangeModel(cfg)


def test_per_agent_records_only_when_asked(small_jakarta):
    m = ExchangeModel(small_jakarta, seed=0)
    for _ in range(12):
        m.step()
    assert m.staff_results().empty
    small_jakarta.record_staff_every = 6
    m = ExchangeModel(small_jakarta, seed=0)
    for _ in range(12):
        m.step()
    staff = m.staff_results()
    assert sorted(staff.month.unique()) == [0, 6, 12]
    assert len(staff) == 3 * m.n_staff
    last = staff[staff.month == 12]
    assert np.allclose(last.filter(like="proficiency_").to_numpy(), m.state.proficiency)
    m.release()


@pytest.mark.parametrize("selection", ["random", "managers"])
def test_a_design_costs_the_same_at_every_scale(selection):
    """Program counts are real staff: 30 people every 6 months for 6 months each, plus two
    expert visits, cost the same money and send the same people at 5% and at full scale."""
    program = ProgramConfig(
        cohort_size=30,
        months_between_cohorts=6,
        duration=6,
        selection=selection,
        experts_per_visit=2,
        months_between_expert_visits=12,
    )
    totals = {}
    for scale in (0.05, 1.0):
        cfg = ModelConfig(scenario=ScenarioConfig(scale=scale), program=program, horizon=24)
        last = run(cfg, seed=2).iloc[-1]
        totals[scale] = last[["cost", "departures", "staff_months_abroad", "expert_visits"]]
        assert last.staff == 60_000
    assert totals[0.05].equals(totals[1.0])
    # 4 cohorts of 30 for 6 months at IDR 80 million, and 2 visits of 2 experts at IDR 250 million
    assert totals[1.0].cost == 4 * 30 * 6 * 80.0 + 2 * 2 * 250.0


def test_a_city_built_once_gives_the_runs_of_building_afresh(small_jakarta):
    """Construction amortised: one city (organisation, ties, initial staff) for every program
    with this seed, in any order, gives the same tables as building each run afresh."""
    programs = [
        ProgramConfig(cohort_size=400, selection="managers", min_tenure=0),
        ProgramConfig(cohort_size=0),
        ProgramConfig(cohort_size=300, selection="targeted", target_departments=["health"]),
        ProgramConfig(cohort_size=100, experts_per_visit=2, expert_departments=["bpbd"]),
    ]
    city = build_city(small_jakarta, seed=3)
    proficiency = city.staff.proficiency.copy()
    indices = city.structure.ties.indices.copy()
    configs = [dataclasses.replace(small_jakarta, program=p) for p in programs]
    for cfg in [*configs, *reversed(configs)]:
        assert run(cfg, 3, city=city).equals(run(cfg, 3))
    # the runs copied what they change and wrote nothing shared
    assert np.array_equal(city.staff.proficiency, proficiency)
    assert np.array_equal(city.structure.ties.indices, indices)


def test_a_city_refuses_another_seed_or_city(small_jakarta):
    city = build_city(small_jakarta, seed=3)
    with pytest.raises(ConfigError, match="city: built for another configuration"):
        ExchangeModel(small_jakarta, seed=4, city=city)
    other = dataclasses.replace(
        small_jakarta, behavior=dataclasses.replace(small_jakarta.behavior, turnover_rate=0.2)
    )
    with pytest.raises(ConfigError, match="city: built for another configuration"):
        ExchangeModel(other, seed=3, city=city)


@pytest.mark.parametrize("mechanism", ["gap", "threshold"])
def test_the_number_of_threads_does_not_change_a_run(small_jakarta, mechanism, monkeypatch):
    """The gap kernel and the department tally share their work among numba's threads; any
    split gives the same result, bit for bit."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread on this machine: nothing to split")
    monkeypatch.setattr(kernels, "machine_busy", lambda: False)  # two threads even when busy
    small_jakarta.behavior.mechanism = mechanism
    small_jakarta.program = ProgramConfig(cohort_size=800, min_tenure=0)
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run(small_jakarta, 5)
        numba.set_num_threads(2)
        two = run(small_jakarta, 5)
    finally:
        numba.set_num_threads(threads)
    assert one.equals(two)


FORK_AFTER_A_PARALLEL_RUN = """
import os, sys
from sim import ExchangeModel
from sim.config import ModelConfig, ProgramConfig, ScenarioConfig
config = ModelConfig(scenario=ScenarioConfig(scale=0.02), program=ProgramConfig(cohort_size=400))

def run(seed):
    model = ExchangeModel(config, seed=seed)
    for _ in range(14):
        model.step()
    return model.results()

parent = run(1)
pid = os.fork()
if pid == 0:
    run(2).to_pickle(sys.argv[1])
    os._exit(0)
_, status = os.waitpid(pid, 0)
if status == 0:
    import pandas as pd
    assert pd.read_pickle(sys.argv[1]).equals(run(2)), "the forked child's run differs"
raise SystemExit(os.waitstatus_to_exitcode(status))
"""


def test_a_process_forked_after_a_parallel_run_runs_the_same_model(tmp_path):
    """pyabc's samplers fork the process; GNU OpenMP kills a forked child that enters a parallel
    region its parent has used, so the child runs the serial kernels, with the same result."""
    proc = subprocess.run(
        [sys.executable, "-c", FORK_AFTER_A_PARALLEL_RUN, str(tmp_path / "child.pkl")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NUMBA_NUM_THREADS": "2"},
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_department_ties_list_every_staff_tie_once_by_its_departments(small_jakarta):
    m = ExchangeModel(small_jakarta, seed=3)
    try:
        listed = m.department_ties()
        ids, dept, ties = m.organisation.department_ids, m.organisation.dept, m.ties
        by_hand: dict[tuple[str, str], int] = {}
        for a in range(ties.n):
            for b in ties.indices[ties.indptr[a] : ties.indptr[a + 1]]:
                if a < b:
                    i, j = sorted((int(dept[a]), int(dept[b])))
                    by_hand[ids[i], ids[j]] = by_hand.get((ids[i], ids[j]), 0) + 1
        got = {(d, o): n for d, o, n in listed.itertuples(index=False)}
        assert got == by_hand
        assert listed["ties"].sum() == ties.indices.size // 2
        assert (listed["ties"] > 0).all()
    finally:
        m.release()
