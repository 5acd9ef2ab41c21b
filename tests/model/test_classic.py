"""Classic limits: Bass diffusion, Centola & Macy complex contagion, and no program, no gain."""

from __future__ import annotations

import numpy as np
import pytest

from sim import ExchangeModel, NetworkConfig, ProgramConfig, run
from tests.conftest import practice, quiet_behavior, tiny_config


def bass(p: float, q: float, months: int) -> np.ndarray:
    """Discrete Bass model F_{t+1} = F_t + (1 - F_t)(p + q F_t), F_0 = 0."""
    f = [0.0]
    for _ in range(months):
        f.append(f[-1] + (1 - f[-1]) * (p + q * f[-1]))
    return np.array(f)


def bass_exact_hazard(p: float, q: float, months: int) -> np.ndarray:
    """The same process without the first-order approximation: a person is trained with
    probability p, else meets one colleague at home (an adopter with probability (1 - p) F_t,
    since trainees are away) who converts them with probability q."""
    f = [0.0]
    for _ in range(months):
        ft = f[-1]
        f.append(ft + (1 - ft) * (1 - (1 - p) * (1 - q * (1 - p) * ft)))
    return np.array(f)


def bass_curves(tmp_path, p: float, contagion_prob: float, months: int) -> np.ndarray:
    """Mean adoption over 12 seeds: a well-mixed city of 2,000 trains a random share p each
    month (one-month stays), and everyone meets one colleague a month (§8.1's settings)."""
    n = 2000
    cfg = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": n}],
        [practice("a")],
        network=NetworkConfig(kind="well_mixed"),
        program=ProgramConfig(
            cohort_size=round(p * n),
            months_between_cohorts=1,
            duration=1,
            min_tenure=0,
            max_exchanges_per_person=1000,
        ),
        behavior=quiet_behavior(
            mechanism="contagion",
            contagion_prob=contagion_prob,
            contacts_per_month=1,
            willingness_mean=1.0,
            capacity_mean=1.0,
            abroad_learning_rate=1.0,
            power_distance=0.0,
        ),
        horizon=months,
    )
    return np.array([run(cfg, seed).adoption_a.to_numpy() for seed in range(12)]).mean(axis=0)


def test_well_mixed_contagion_with_random_training_is_bass(tmp_path):
    p, q, months = 0.03, 0.38, 36
    mean = bass_curves(tmp_path, p, q, months)
    assert np.abs(mean - bass_exact_hazard(p, q, months)).max() < 0.01
    # the discrete Bass curve itself, up to the O(p q) correction for trainees being away
    assert np.abs(mean - bass(p, q, months)).max() < 0.04
    assert np.abs(mean - bass(p, q, months)).max() > 0.015  # ... which is really there
    assert mean[1] == pytest.approx(p, abs=1e-9)  # month 1: exactly the trained share


def test_contagion_prob_q_over_one_minus_p_squared_is_bass_exactly(tmp_path):
    """The model's hazard is p + contagion_prob (1 - p)^2 F (§8.1), so contagion_prob =
    q / (1 - p)^2 gives Bass's p + q F: the curve within 0.01 of the discrete Bass model."""
    p, q, months = 0.03, 0.38, 36
    mean = bass_curves(tmp_path, p, q / (1 - p) ** 2, months)
    assert np.abs(mean - bass(p, q, months)).max() < 0.01


def ring(tmp_path, mechanism: str, rewiring: float, seed: int, months: int) -> np.ndarray:
    cfg = tiny_config(
        tmp_path,
        [{"id": "d", "headcount": 400}],
        [practice("a")],
        network=NetworkConfig(team_neighbours=4, rewiring=rewiring, supervisor_ties=False),
        behavior=quiet_behavior(
            mechanism=mechanism,
            threshold_share=0.5,
            contagion_prob=0.5 if mechanism == "contagion" else 1.0,
            contacts_per_month=2,
            willingness_mean=1.0,
            power_distance=0.0,
        ),
        horizon=months,
    )
    m = ExchangeModel(cfg, seed=seed)
    m.state.proficiency[:6, 0] = 1.0  # a seed cluster of neighbours on the ring
    for _ in range(months):
        m.step()
    out = m.results().adoption_a.to_numpy()
    m.release()
    return out


def test_long_ties_speed_simple_but_not_complex_contagion(tmp_path):
    months, seeds = 30, range(6)
    simple_ring = np.mean([ring(tmp_path, "contagion", 0.0, s, months)[-1] for s in seeds])
    simple_rewired = np.mean([ring(tmp_path, "contagion", 0.3, s, months)[-1] for s in seeds])
    complex_ring = np.mean([ring(tmp_path, "threshold", 0.0, s, months)[-1] for s in seeds])
    complex_rewired = np.mean([ring(tmp_path, "threshold", 0.3, s, months)[-1] for s in seeds])
    # simple contagion: long ties speed diffusion (Watts-Strogatz)
    assert simple_rewired > simple_ring + 0.1
    # complex contagion: the clustered ring spreads steadily (one post per side per month) ...
    assert complex_ring == pytest.approx((6 + 2 * months) / 400, abs=1e-9)
    # ... and rewiring does not speed it: it slows or stops it (Centola & Macy 2007)
    assert complex_rewired < complex_ring - 0.1


def test_no_program_gives_no_knowledge_beyond_the_start(small_jakarta):
    small_jakarta.program.cohort_size = 0
    small_jakarta.program.experts_per_visit = 0
    m = ExchangeModel(small_jakarta, seed=11)
    start_max = m.state.proficiency.max(axis=0).copy()
    for _ in range(small_jakarta.horizon):
        m.step()
        assert (m.state.proficiency.max(axis=0) <= start_max + 1e-6).all()
    df = m.results()
    assert (df.staff_abroad == 0).all() and (df.cost == 0).all()


def test_no_program_and_no_knowledge_keeps_every_department_at_baseline(small_jakarta):
    small_jakarta.program.cohort_size = 0
    small_jakarta.behavior.initial_knowledge = 0.0
    df = run(small_jakarta, seed=2)
    assert np.allclose(df.service_index, df.service_index.iloc[0])
    assert (df.filter(like="adoption_").to_numpy() == 0).all()


def test_an_empty_program_equals_no_program_for_the_same_seed(small_jakarta):
    """Common random numbers: a lever that does nothing changes nothing."""
    small_jakarta.program.cohort_size = 0
    a = run(small_jakarta, seed=9)
    small_jakarta.program.months_between_cohorts = 7  # irrelevant without cohorts
    small_jakarta.program.selection = "managers"
    b = run(small_jakarta, seed=9)
    assert a.equals(b)
