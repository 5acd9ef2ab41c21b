"""The paired gain and its decomposition by channel (sim.pairing, docs/model.md §7.15)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import sim
from sim import ModelConfig, ProgramConfig, ScenarioConfig, build_city, run_detailed
from sim.pairing import CHANNELS, counterfactual, no_exchange, paired_run

#: A small Jakarta (2%) with managers sent every six months for five years: SOPs happen.
ACTIVE = ModelConfig(
    scenario=ScenarioConfig(scale=0.02),
    program=ProgramConfig(cohort_size=150, months_between_cohorts=6, selection="managers",
                          min_tenure=0),
    horizon=60,
)  # fmt: skip


def test_the_parts_add_up_to_the_gain_every_month_and_are_the_counterfactual_differences():
    seed = 4
    months = paired_run(ACTIVE, seed).months
    parts = months[list(CHANNELS)].sum(axis=1)
    np.testing.assert_allclose(parts, months.gain, atol=1e-12)
    city = build_city(ACTIVE, seed)

    def index(config):
        return run_detailed(config, seed, city).months.service_index.to_numpy()

    base, alone = index(no_exchange(ACTIVE)), index(counterfactual(ACTIVE, "alone"))
    no_sops = index(counterfactual(ACTIVE, "no_sops"))
    np.testing.assert_allclose(months.gain_travellers, alone - base, atol=1e-12)
    np.testing.assert_allclose(months.gain_colleagues, no_sops - alone, atol=1e-12)
    np.testing.assert_allclose(months.gain_sops, months.service_index - no_sops, atol=1e-12)
    # the scenario exercises all three: SOPs were adopted and colleagues learnt
    assert months.departments_with_sop.iloc[-1] > 0 and months.gain_sops.iloc[-12:].mean() > 0
    assert months.gain_colleagues.iloc[-12:].mean() > 0


def test_without_any_sop_the_run_without_sops_is_the_same_run():
    """What lets `counterfactual_runs` reuse the design's run: a design that never adopts an
    SOP gives, with SOPs switched off, the same run draw for draw."""
    config = sim.config.with_settings(ACTIVE, {"cohort_size": 10, "selection": "random"})
    seed = 1
    city = build_city(config, seed)
    design = run_detailed(config, seed, city)
    assert not design.months.departments_with_sop.any()
    off = run_detailed(counterfactual(config, "no_sops"), seed, city)
    pd.testing.assert_frame_equal(design.months, off.months, check_exact=True)
    pd.testing.assert_frame_equal(design.departments, off.departments, check_exact=True)


def test_sim_gain_reports_the_parts_and_the_people():
    rows = sim.gain(ACTIVE, seeds=[2])
    row = rows.iloc[0]
    assert abs(sum(row[c] for c in CHANNELS) - row.gain) < 1e-12
    assert row.colleagues_proficient > 0 and row.departments_with_sop > 0
    assert row.trained_proficient > 0 and row.staff_sent > 0
